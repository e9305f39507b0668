"""Fixtures for the notebook tests: notebooks run in real kernels; every lab torn down after.

Kernels started here inherit this process's environment, so labs they start land in the test
state folder (tests/conftest.py) under instance names that begin with a prefix the test
registers; at teardown every instance with a registered prefix is removed and anything left
(namespace, state folder, daemon) fails the test.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from manrs_lab import operations
from manrs_lab.instance import NETNS_PREFIX, list_instances
from manrs_lab.paths import STATE_ENV
from manrs_lab.progress import SilentProgress
from manrs_lab.runtime.netns import existing_namespaces

VENV_BIN = Path(sys.executable).parent


class LabInstances:
    """Name prefixes of the lab instances a test starts (in kernels, or nbgrader's)."""

    def __init__(self) -> None:
        self.prefixes: list[str] = []

    def prefix(self) -> str:
        prefix = f"tnb{uuid.uuid4().hex[:6]}-"
        self.prefixes.append(prefix)
        return prefix

    def watch(self, prefix: str) -> None:
        self.prefixes.append(prefix)

    def mine(self) -> list[str]:
        return [i.name for i in list_instances() if i.name.startswith(tuple(self.prefixes))]

    def leftovers(self) -> list[str]:
        if not self.prefixes:
            return []
        state = Path(os.environ[STATE_ENV])
        found = [
            ns
            for ns in existing_namespaces()
            if any(ns.startswith(f"{NETNS_PREFIX}{p}") for p in self.prefixes)
        ]
        if state.is_dir():
            found += [str(p) for p in state.iterdir() if p.name.startswith(tuple(self.prefixes))]
        markers = [f"{state}/{p}" for p in self.prefixes]
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                status = (proc / "status").read_text()
            except OSError:
                continue
            if any(m in cmdline for m in markers) and "\nState:\tZ" not in status:
                found.append(f"pid {proc.name}: {cmdline[:80]}")
        return found


@pytest.fixture
def lab_instances() -> Iterator[LabInstances]:
    """Register prefixes; every instance under them is removed after the test, then checked."""
    instances = LabInstances()
    yield instances
    problems = []
    for name in instances.mine():
        try:
            operations.down(name, SilentProgress())
        except Exception as exc:
            problems.append(f"{name}: down failed: {exc}")
    problems += instances.leftovers()
    assert not problems, f"teardown left: {problems}"


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch, lab_instances: LabInstances) -> str:
    """Environment the kernels inherit: a fresh instance prefix, not autograding; the prefix."""
    prefix = lab_instances.prefix()
    monkeypatch.setenv("MANRS_LAB_INSTANCE_PREFIX", prefix)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("MANRS_LAB_AUTOSTART", raising=False)
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return prefix
