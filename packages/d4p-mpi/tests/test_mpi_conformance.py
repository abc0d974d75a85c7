"""The conformance kit of d4p on a real mpiexec with 2, 3 and 4 ranks."""

from d4p.testing import make_tests

test_conformance = make_tests("mpi", processes=(2, 3, 4), timeout=60)
