"""Find, or install, the Chromium that the d4p-monitor page tests drive.

    python packages/d4p-monitor/scripts/ensure_chromium.py

Does nothing when a Chromium is found (:func:`find`); otherwise runs
``apt-get update`` and ``apt-get install -y chromium`` (as root, or through
sudo). CI (``.ci/run``) calls it before the tests; ``hatch run test`` does
not, so the tests need no root: without a Chromium the page tests are
skipped with a one-line reason. Playwright drives this browser
(``executable_path``); it never downloads one of its own. Exit status 0 when
Chromium is there afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"
"""Where Debian's package puts it (and where this script installs it)."""


def find() -> str | None:
    """The path of an installed Chromium, or ``None``."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure() -> bool:
    if find():
        return True
    if shutil.which("apt-get") is None:
        print(f"{CHROMIUM} is missing and this machine has no apt-get: install Chromium "
              "with your package manager", file=sys.stderr)
        return False
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        print(f"{CHROMIUM} is missing: run 'apt-get update && apt-get install -y chromium' "
              "as root", file=sys.stderr)
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("installing Debian's chromium for the d4p-monitor page tests...", file=sys.stderr)
    for cmd in (["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "chromium"]):
        done = subprocess.run(prefix + cmd, env=env, stdout=subprocess.DEVNULL)
        if done.returncode != 0:
            print(f"'{' '.join(cmd)}' failed with status {done.returncode}", file=sys.stderr)
            return False
    return find() is not None


if __name__ == "__main__":
    sys.exit(0 if ensure() else 1)
