"""The conformance kit through the exported topology, its multi-lang
components and the harness: every case gives the simple mapping's outputs
and counts (the failing case the same WorkflowFailed fields). Storm routes
with its own groupings, so a grouping it has none for is refused, named."""

import d4p
import pytest
from d4p.testing import CASES, get_case, make_tests

# processes only sets topology.workers, which a local run pins to 1
test_conformance = make_tests("storm-harness", processes=(1,),
                              cases=[c.name for c in CASES if c.name != "grouping_custom"])


def test_a_grouping_storm_has_no_equivalent_for_is_refused_by_name():
    graph, inputs = get_case("grouping_custom").build()
    with pytest.raises(d4p.UsageError, match=r"the storm mapping cannot honour grouping "
                                             r"'by_first_letter' \(PE 'KeyCount\d+' input "
                                             r"'input'\)"):
        d4p.run(graph, inputs, mapping="storm-harness")
