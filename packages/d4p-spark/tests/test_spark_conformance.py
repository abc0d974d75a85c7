"""The conformance kit on the spark mapping: the same outputs, counts and
failure as ``simple`` for every case. Spark's parallelism comes from the PEs'
instances, not from the number of processes, so one process count suffices."""

import pytest
from d4p.testing import make_tests

pytestmark = pytest.mark.usefixtures("spark")

test_conformance = make_tests("spark", processes=(2,))
