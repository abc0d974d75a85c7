"""The conformance kit on the spark mapping: the same outputs, counts and
failure as ``simple`` for every case. Spark's parallelism comes from the PEs'
instances, not from the number of processes, so one process count suffices.
The second run takes the other way of each choice the mapping makes: 'all'
inputs through a shuffle, a final global PE in a Spark stage of its own."""

import pytest
from d4p.testing import make_tests

pytestmark = pytest.mark.usefixtures("spark")

test_conformance = make_tests("spark", processes=(2,))

test_conformance_shuffled_all_and_final_pe_in_spark = make_tests(
    "spark", processes=(2,), all_grouping="shuffle", final_pe="spark")
