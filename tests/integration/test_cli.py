"""The issue's must-show flow through the real `manrs-lab` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lab_support import leftovers, unique_instance

pytestmark = pytest.mark.daemons
LAB = "customer-filtering"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "manrs_lab.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_up_check_solve_check_down():
    name = unique_instance("cli")
    try:
        up = cli("up", LAB, "--instance", name)
        assert up.returncode == 0, up.stderr
        assert "waiting for BGP to converge" in up.stderr  # progress is shown
        assert f"{name} is up" in up.stdout

        status = cli("status", name)
        assert status.returncode == 0
        assert "Established" in status.stdout

        unsolved = cli("check", name)
        assert unsolved.returncode == 1
        assert "FAIL" in unsolved.stdout
        assert "AS64502" in unsolved.stdout
        assert "score 0/5" in unsolved.stdout

        as_json = json.loads(cli("check", name, "--json", "--seed", "5").stdout)
        assert as_json["points"] == 0
        assert as_json["seed"] == 5
        failed = {c["id"] for c in as_json["checks"] if not c["passed"]}
        assert "more-specific-hijack-dropped" in failed

        show = cli("exec", "-i", name, "edge", "--", "vtysh", "-c", "show bgp summary")
        assert show.returncode == 0
        assert "10.0.2.2" in show.stdout

        solve = cli("solve", name)
        assert solve.returncode == 0, solve.stderr
        solved = cli("check", name)
        assert solved.returncode == 0, solved.stdout
        assert "score 5/5" in solved.stdout
    finally:
        down = cli("down", name)
    assert down.returncode == 0, down.stderr
    assert leftovers(name, ["edge", "cust1", "cust2", "transit"]) == []


def test_errors_are_one_clear_line_and_exit_2():
    missing = cli("check", "no-such-instance")
    assert missing.returncode == 2
    assert "no running lab instance 'no-such-instance'" in missing.stderr
    assert "Traceback" not in missing.stderr
    unknown = cli("up", "no-such-lab")
    assert unknown.returncode == 2
    assert "no lab 'no-such-lab'" in unknown.stderr
