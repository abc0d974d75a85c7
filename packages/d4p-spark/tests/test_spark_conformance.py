"""The conformance kit on the spark mapping: the same outputs, counts and
failure as ``simple`` for every case. Spark's parallelism comes from the PEs'
instances, not from the number of processes, so one process count suffices.
The second run sends 'all' inputs through a shuffle instead of a broadcast."""

import pytest
from d4p.testing import make_tests

pytestmark = pytest.mark.usefixtures("spark")

test_conformance = make_tests("spark", processes=(2,))

test_conformance_shuffled_all = make_tests("spark", processes=(2,), all_grouping="shuffle")
