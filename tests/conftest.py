"""Shared test fixtures: boot real labs in namespaces, always tear them down, check leftovers.

Tests that boot labs run as root with FRR, BIRD and stayrtr installed (`./install.sh`), and skip
with the reason otherwise. They use their own state folder, so a learner's running labs on the
same machine are never touched. Helpers for test modules live in lab_support.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from lab_support import DAEMONS_MISSING, TEST_STATE, leftovers, unique_instance
from manrs_lab import operations
from manrs_lab.paths import STATE_ENV
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab


def pytest_configure(config: pytest.Config) -> None:
    os.environ[STATE_ENV] = str(TEST_STATE / f"s{os.getpid()}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("daemons") and DAEMONS_MISSING:
            item.add_marker(pytest.mark.skip(reason=DAEMONS_MISSING))


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
