"""Finding MPI: inside mpiexec or not, which mpiexec, what to install."""

import os
import sys
from pathlib import Path

import d4p
import pytest
from d4p_mpi import environment


def test_the_mpich_wheels_mpiexec_beside_this_python_is_found():
    (command,) = environment.mpiexec_command()
    assert Path(command).name == "mpiexec"
    assert Path(command).parent == Path(sys.executable).parent


def test_mpiexec_option_may_carry_arguments():
    (mpiexec,) = environment.mpiexec_command()
    command = environment.mpiexec_command(f"{mpiexec} -launcher fork")
    assert command == [mpiexec, "-launcher", "fork"]


def test_no_mpiexec_anywhere_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(environment.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(d4p.UsageError, match="needs mpiexec.*pip install d4p-mpi"):
        environment.mpiexec_command()


def test_outside_mpiexec_nothing_says_mpi(monkeypatch):
    for var in ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "PMI_SIZE",
                "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert not environment.under_mpiexec()
    assert environment.world_size() is None
    assert environment.env_rank() == 0


@pytest.mark.parametrize(("rank_var", "size_var"), [("PMI_RANK", "PMI_SIZE"),
                                                    ("OMPI_COMM_WORLD_RANK",
                                                     "OMPI_COMM_WORLD_SIZE")])
def test_mpich_and_open_mpi_variables_are_read(monkeypatch, rank_var, size_var):
    monkeypatch.setenv(rank_var, "2")
    monkeypatch.setenv(size_var, "4")
    assert environment.under_mpiexec()
    assert environment.world_size() == 4
    assert environment.env_rank() == 2


def test_launching_process_is_primary():
    from d4p_mpi import MPIMapping

    assert MPIMapping.primary is True


def _no_cluster(monkeypatch):
    for var in environment._CLUSTER_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("UCX_MEM_")]:
        monkeypatch.delenv(var)


def test_ranks_on_this_machine_run_without_ucx_memory_hooks(monkeypatch):
    _no_cluster(monkeypatch)
    monkeypatch.setenv("D4P_TEST_KEPT", "yes")
    env = environment.rank_environment()
    assert env["UCX_MEM_EVENTS"] == "no"
    assert env["D4P_TEST_KEPT"] == "yes"
    assert "UCX_MEM_EVENTS" not in os.environ


def test_ucx_memory_hooks_stay_when_the_user_set_them(monkeypatch):
    _no_cluster(monkeypatch)
    monkeypatch.setenv("UCX_MEM_MALLOC_HOOKS", "yes")
    assert "UCX_MEM_EVENTS" not in environment.rank_environment()


@pytest.mark.parametrize("where", ["SLURM_JOB_ID", "PBS_JOBID", "HYDRA_HOST_FILE"])
def test_ucx_memory_hooks_stay_when_ranks_may_go_to_other_machines(monkeypatch, where):
    _no_cluster(monkeypatch)
    monkeypatch.setenv(where, "42")
    assert "UCX_MEM_EVENTS" not in environment.rank_environment()
    monkeypatch.delenv(where)
    (mpiexec,) = environment.mpiexec_command()
    assert "UCX_MEM_EVENTS" not in environment.rank_environment(f"{mpiexec} -hosts a,b")


def test_launched_ranks_get_the_rank_environment(monkeypatch):
    import mpi_workflows

    _no_cluster(monkeypatch)
    graph, inputs = mpi_workflows.environment("UCX_MEM_EVENTS", instances=2)
    result = d4p.run(graph, inputs, mapping="mpi", processes=3, timeout=60)
    ((probe, ports),) = result.items()
    assert sorted(ports["output"]) == [(0, "no"), (1, "no")]
    assert sorted(result.summary.assignment[probe]) == [1, 2]  # ranks other than the source's
