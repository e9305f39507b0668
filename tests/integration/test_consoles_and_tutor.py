"""A node's daemons and consoles see the node's name as hostname (a UTS namespace each, netns
runtime); `manrs-lab check` in a terminal shows the next hint on each failed check."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from manrs_lab.spec.loader import load_lab

pytestmark = pytest.mark.daemons


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "manrs_lab.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )


def test_hostnames_and_escalating_hints(boot_lab) -> None:
    running = boot_lab("customer-filtering")
    name = running.instance.name
    for node in running.lab.topology.nodes:
        shell = cli("exec", "-i", name, node, "--", "hostname")
        assert shell.stdout.strip() == node, shell.stderr
    pid = int((running.instance.node_dir("cust1") / "bird.pid").read_text())
    daemon = subprocess.run(
        ["nsenter", "-t", str(pid), "-u", "hostname"], capture_output=True, text=True, check=True
    )
    assert daemon.stdout.strip() == "cust1"
    host = subprocess.run(["hostname"], capture_output=True, text=True, check=True)
    assert host.stdout.strip() != "cust1"  # the host's own name is untouched

    task = load_lab("customer-filtering").spec.tasks[0]
    shown = []
    for _ in range(2):
        out = cli("check", name, "--task", task.id)
        assert out.returncode == 1, out.stderr
        found = re.search(r"hint (\d) of (\d): (.*)", out.stdout)
        assert found, out.stdout
        shown.append(int(found.group(1)))
    assert shown == [1, 2]
    cli("solve", name)
    passed = cli("check", name)
    assert passed.returncode == 0, passed.stdout
    assert "Full marks. Next lab:" in passed.stdout
