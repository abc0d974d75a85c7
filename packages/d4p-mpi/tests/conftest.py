"""The helper modules beside the tests (mpi_workflows, mpi_processes) are
imported by name, here and on the MPI ranks."""

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
