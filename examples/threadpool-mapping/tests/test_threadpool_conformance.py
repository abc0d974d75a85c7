"""The threadpool mapping against the core's conformance kit."""

from d4p.testing import make_tests

test_conformance = make_tests("threadpool", processes=(1, 2, 3))

test_conformance_small_batches = make_tests(
    "threadpool", processes=(3,), batch_size=1,
    cases=["fan_in", "grouping_all", "split_merge", "numpy_arrays", "failure"],
)
