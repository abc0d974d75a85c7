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
    return _number(_SIZE_VARIABLES) or None


def env_rank() -> int:
    """This process's rank according to the process manager (0 if unknown)."""
    return _number(_RANK_VARIABLES) or 0


def _number(variables: tuple[str, ...]) -> int | None:
    found = [os.environ[v] for v in variables if os.environ.get(v, "").isdigit()]
    return int(found[0]) if found else None


def rank_environment(mpiexec_option: str = "") -> dict[str, str]:
    """The environment of the ranks that :mod:`d4p_mpi.launch` starts: this
    process's, plus ``UCX_MEM_EVENTS=no`` when every rank runs on this machine
    and the user set no ``UCX_MEM_*`` variable. (UCX, a network module of the
    mpich wheel, hooks the C library's memory functions for RDMA networks,
    which costs each rank ~40 ms of CPU; ranks of one machine talk through
    shared memory instead.)"""
    env = dict(os.environ)
    local = not mpiexec_option and not any(v in env for v in _CLUSTER_VARIABLES)
    if local and not any(name.startswith("UCX_MEM_") for name in env):
        env["UCX_MEM_EVENTS"] = "no"
    return env


_HOST_LIST_FLAGS = ("-hosts", "-host", "--host", "-H")
_HOST_FILE_FLAGS = ("-f", "-hostfile", "--hostfile", "-machinefile", "--machinefile",
                    "-machine", "--default-hostfile")


def other_hosts(mpiexec_option: str = "") -> list[str]:
    """The hosts other than this machine where ``mpiexec`` may start ranks:
    those named by its arguments (``-hosts``/``-host``, a host file given
    by ``-f``/``-hostfile``/``-machinefile``, MPICH's ``HYDRA_HOST_FILE``)
    that are not this machine, or the batch system's job (``SLURM_JOB_ID``,
    ...) whose nodes hydra uses. A host file that cannot be read counts as
    naming other hosts."""
    words: list[str] = []
    if mpiexec_option:
        import shlex  # here: d4p imports this module whenever it lists mappings

        words = [part for word in shlex.split(mpiexec_option)[1:]  # --host=a,b: two words
                 for part in (word.split("=", 1) if word.startswith("-") else [word])]
    lists = [os.environ["HYDRA_HOSTS"]] if os.environ.get("HYDRA_HOSTS") else []
    files = [os.environ["HYDRA_HOST_FILE"]] if os.environ.get("HYDRA_HOST_FILE") else []
    for flag, value in zip(words, words[1:], strict=False):
        if flag in _HOST_LIST_FLAGS:
            lists.append(value)
        elif flag in _HOST_FILE_FLAGS:
            files.append(value)
    hosts, unread = [h for text in lists for h in text.split(",")], []
    for path in files:
        try:
            with open(path) as src:
                hosts += [line.split("#")[0].split()[0] for line in src
                          if line.split("#")[0].strip()]
        except OSError:
            unread.append(f"the hosts of {path}")
    hosts = [h.split(":")[0] if h.count(":") == 1 else h for h in hosts]
    batch = [f"the nodes of job ${v}" for v in _CLUSTER_VARIABLES
             if not v.startswith("HYDRA_") and v in os.environ]
    return sorted({h for h in hosts if h and not _is_this_machine(h)}) + unread + batch[:1]


def _is_this_machine(host: str) -> bool:
    """``host`` is this machine's name or one of its addresses (no name is
    looked up: an alias counts as another host)."""
    import socket

    name = socket.gethostname()
    if host in ("localhost", "127.0.0.1", "::1", name, socket.getfqdn()):
        return True
    try:
        return host in socket.gethostbyname_ex(name)[2]
    except (OSError, UnicodeError):
        return False


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
