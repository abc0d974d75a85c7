"""The conformance kit of d4p on a real mpiexec with 2, 3 and 4 ranks."""

from d4p.testing import make_tests

test_conformance = make_tests("mpi", processes=(2, 3, 4), timeout=60)

# tiny batches and one message in flight per rank: every ordering and
# backpressure path of the transport is taken
test_conformance_small_batches = make_tests("mpi", processes=(3,), batch_size=3, queue_size=1,
                                            timeout=60)
