"""Finding MPI: inside mpiexec or not, which mpiexec, what to install."""

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
