"""Where MPI is: are we already inside ``mpiexec``, where is ``mpiexec``, can
mpi4py load an MPI library. Every answer that is "no" is a
:class:`d4p.UsageError` that says what to install."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

from d4p import UsageError

INSTALL_HINT = ("pip install d4p-mpi (it brings mpi4py and MPICH from the 'mpich' wheel), "
                "or pip install --force-reinstall mpi4py mpich")

_RANK_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_CLUSTER_VARIABLES = ("SLURM_JOB_ID", "SLURM_JOBID", "PBS_JOBID", "LSB_JOBID", "PE_HOSTFILE",
                      "COBALT_JOBID", "FLUX_JOB_ID", "HYDRA_HOST_FILE", "HYDRA_HOSTS")
"""Set by batch systems and hydra host lists: mpiexec may place ranks on other machines."""


def under_mpiexec() -> bool:
    """True when this process was started by ``mpiexec`` (a process manager
    set its rank variables), so the mpi mapping runs in place on every rank."""
    return any(v in os.environ for v in _RANK_VARIABLES)


def world_size() -> int | None:
    """The number of ranks ``mpiexec`` started, from its environment (``None``
    outside ``mpiexec``); read without initialising MPI."""
    for var in _SIZE_VARIABLES:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def env_rank() -> int:
    """This process's rank according to the process manager (0 if unknown)."""
    for var in _RANK_VARIABLES:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 0


def rank_environment(mpiexec_option: str = "") -> dict[str, str]:
    """The environment of the ranks that :mod:`d4p_mpi.launch` starts: this
    process's, plus ``UCX_MEM_EVENTS=no`` when every rank runs on this machine.

    UCX, one of the network modules of the mpich wheel, patches the C
    library's memory functions as soon as it is loaded, which costs each rank
    about 40 ms of CPU; the hooks keep UCX's cache of memory registered with
    RDMA networks right, and ranks of one machine talk through MPICH's shared
    memory instead. So the hooks stay on when ranks may go elsewhere (an
    ``mpiexec`` option, a batch system's job, a hydra host list) and whenever
    the user set any ``UCX_MEM_*`` variable."""
    env = dict(os.environ)
    local = not mpiexec_option and not any(v in env for v in _CLUSTER_VARIABLES)
    if local and not any(name.startswith("UCX_MEM_") for name in env):
        env["UCX_MEM_EVENTS"] = "no"
    return env


def load_mpi():
    """``mpi4py.MPI``, initialised; a :class:`UsageError` naming the fix when
    mpi4py or its MPI library is missing or broken."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise UsageError(f"the mpi mapping cannot load MPI ({exc}); {INSTALL_HINT}") from None
    except Exception as exc:  # mpi4py raises RuntimeError when libmpi cannot be opened
        raise UsageError(f"the mpi mapping cannot load an MPI library through mpi4py "
                         f"({type(exc).__name__}: {exc}); {INSTALL_HINT}") from None
    return MPI


def mpiexec_command(option: str = "") -> list[str]:
    """The ``mpiexec`` command line prefix: the ``mpiexec`` option when given
    (it may carry arguments, e.g. ``"mpiexec -hosts a,b"``), else the
    ``mpiexec`` the mpich wheel put beside this Python, else the one on PATH."""
    import shlex  # here: d4p imports this module whenever it lists mappings
    from pathlib import Path

    if option:
        words = shlex.split(option)
        found = shutil.which(words[0])
        if found is None:
            raise UsageError(f"option 'mpiexec' of mapping 'mpi' names {words[0]!r}, which is "
                             f"not an executable program; give the path of mpiexec or "
                             f"leave the option out to use the one of the mpich wheel")
        return [found, *words[1:]]
    candidates = [Path(sys.executable).parent / "mpiexec",
                  Path(sysconfig.get_path("scripts")) / "mpiexec"]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path)]
    found = shutil.which("mpiexec")
    if found is None:
        raise UsageError(f"the mpi mapping needs mpiexec, which was found neither beside "
                         f"{sys.executable} nor on PATH; {INSTALL_HINT}")
    return [found]
