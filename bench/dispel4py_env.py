"""The throwaway venv with dispel4py 1.2.1 that the benchmarks compare against.

``python bench/dispel4py_env.py`` creates it (or reuses it) and prints the path
of its interpreter. It lives in ``bench/.venv-dispel4py`` (git-ignored) and is
installed from PyPI with the venv's own pip, so nothing of dispel4py touches
the d4p environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

VERSION = "1.2.1"
VENV = Path(__file__).resolve().parent / ".venv-dispel4py"


def python() -> Path:
    return VENV / "bin" / "python"


def environment() -> dict[str, str]:
    """The environment for dispel4py's interpreter: this one without
    ``PYTHONPATH``, which may name d4p's sources (``/work/bin/wt-run`` does),
    so that ``bench/workloads.py`` there imports dispel4py, not d4p."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def installed_version() -> str | None:
    """The dispel4py version in the venv, or None when the venv is not usable."""
    if not python().exists():
        return None
    done = subprocess.run(
        [str(python()), "-c", "import importlib.metadata as m; print(m.version('dispel4py'))"],
        capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure(log=print) -> Path:
    """Create the venv with dispel4py==VERSION unless it is already there;
    return its python. Raises RuntimeError with pip's output on failure."""
    if installed_version() == VERSION:
        return python()
    log(f"creating {VENV} with dispel4py=={VERSION} from PyPI ...")
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    done = subprocess.run(
        [str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"dispel4py=={VERSION}"],
        capture_output=True, text=True)
    if done.returncode != 0 or installed_version() != VERSION:
        raise RuntimeError(
            f"could not install dispel4py=={VERSION} into {VENV}; pip said:\n"
            f"{done.stdout}{done.stderr}\nDelete {VENV} and try again, or run the "
            "d4p-only benchmarks with --no-dispel4py")
    return python()


if __name__ == "__main__":
    try:
        print(ensure(log=lambda msg: print(msg, file=sys.stderr)))
    except RuntimeError as exc:
        sys.exit(str(exc))
