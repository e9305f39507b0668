"""Shared test fixtures: boot real labs in namespaces, always tear them down, check leftovers.

Tests that boot labs run as root with FRR, BIRD and stayrtr installed (`./install.sh`), and skip
with the reason otherwise. They use their own state folder, so a learner's running labs on the
same machine are never touched.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from manrs_lab import operations
from manrs_lab.instance import netns_name
from manrs_lab.paths import STATE_ENV
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
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


def pytest_configure(config: pytest.Config) -> None:
    os.environ[STATE_ENV] = str(TEST_STATE / f"s{os.getpid()}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("daemons") and DAEMONS_MISSING:
            item.add_marker(pytest.mark.skip(reason=DAEMONS_MISSING))


def leftovers(instance: str, nodes: list[str]) -> list[str]:
    """Namespaces, state folder and daemons of `instance` still present."""
    found = [ns for ns in (netns_name(instance, n) for n in nodes) if ns in existing_namespaces()]
    folder = Path(os.environ[STATE_ENV]) / instance
    if folder.exists():
        found.append(str(folder))
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


BootLab = Callable[..., RunningLab]


@pytest.fixture
def boot_lab() -> Iterator[BootLab]:
    """`boot_lab("customer-filtering")` -> a converged RunningLab, removed after the test."""
    booted: list[RunningLab] = []

    def boot(lab: str, instance: str | None = None) -> RunningLab:
        name = instance or unique_instance(lab)
        result = operations.up(lab, SilentProgress(), instance=name)
        booted.append(result.running)
        return result.running

    yield boot
    problems = []
    for running in booted:
        name = running.instance.name
        try:
            operations.down(name, SilentProgress())
        except Exception as exc:  # report every teardown problem below
            problems.append(f"{name}: down failed: {exc}")
        problems += leftovers(name, list(running.lab.topology.nodes))
    assert not problems, f"teardown left: {problems}"
