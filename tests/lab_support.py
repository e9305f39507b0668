"""Helpers shared by test modules: import them from here (`from lab_support import REPO`),
never `from conftest import ...`. In a whole-suite run every folder's conftest.py is imported
as the module `conftest`, and the last one collected (tests/notebooks/) shadows tests/conftest.py
for the folders collected after it."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from manrs_lab.instance import netns_name
from manrs_lab.paths import STATE_ENV
from manrs_lab.runtime.netns import existing_namespaces

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TEST_STATE = Path("/run/manrs-lab-tests")


def _missing_for_daemons() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for binary in ("vtysh", "bird", "birdc", "stayrtr", "ip"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed (run ./install.sh)"
    return None


DAEMONS_MISSING = _missing_for_daemons()
needs_daemons = pytest.mark.skipif(DAEMONS_MISSING is not None, reason=DAEMONS_MISSING or "")


def leftovers(instance: str, nodes: list[str]) -> list[str]:
    """Namespaces, state folder and daemons of `instance` still present."""
    found = [ns for ns in (netns_name(instance, n) for n in nodes) if ns in existing_namespaces()]
    folder = Path(os.environ[STATE_ENV]) / instance
    if folder.exists():
        found.append(str(folder))
    return found + processes_under(folder)


def processes_under(folder: Path) -> list[str]:
    """Live (not zombie) processes whose command line names a path inside `folder`."""
    found = []
    marker = f"{folder}/"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (proc / "status").read_text()
            except OSError:
                continue
            if marker in cmdline and "\nState:\tZ" not in state:
                found.append(f"pid {proc.name}: {cmdline[:80]}")
    return found


def unique_instance(lab: str) -> str:
    """A short unique name from a lab id or a lab folder path."""
    return f"t-{Path(lab).name[:20].rstrip('-')}-{uuid.uuid4().hex[:6]}"
