"""d4p-mpi: the ``mpi`` mapping of d4p.

Installed, it is one more mapping::

    import d4p
    from d4p.examples import wordcount

    graph, inputs = wordcount(10_000)
    result = d4p.run(graph, inputs, mapping="mpi", processes=3)

From a plain Python process it starts ``mpiexec`` (MPICH from the ``mpich``
wheel) itself; under ``mpiexec -n N`` it runs in place on every rank.
"""

from .__about__ import __version__
from .mapping import MPIMapping

__all__ = ["MPIMapping", "__version__"]
