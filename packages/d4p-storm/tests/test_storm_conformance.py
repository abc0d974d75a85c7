"""The conformance kit through the exported topology, its multi-lang
components and the harness: every case gives the simple mapping's outputs
and counts (the failing case the same WorkflowFailed fields)."""

from d4p.testing import make_tests

# processes only sets topology.workers, which a local run pins to 1
test_conformance = make_tests("storm-harness", processes=(1,))
