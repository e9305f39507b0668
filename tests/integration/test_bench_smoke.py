"""The benchmark keeps working: a quick run (one lab, N=2), no assertions on times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_support import REPO

pytestmark = pytest.mark.daemons


def test_quick_bench_runs_and_reports_every_figure(tmp_path: Path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "MANRS_LAB_STATE_DIR": "/run/manrs-lab-tests/bench-smoke"}
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    (lab,) = report["labs"]
    assert lab["lab"] == "customer-filtering"
    assert lab["check_points"] == "5/5"  # the reference solution graded during the run
    assert lab["up_s"] > 0
    assert lab["pss_mib"] > 0
    (conc,) = report["concurrency"]
    assert (conc["instances"], conc["converged"]) == (2, 2)
    assert report["state_read_ms"]["vty_socket_ms"] > 0
    assert set(report["targets"]) >= {"largest_lab_up_s", "check_s", "concurrent_instances"}
    assert "| target | goal | measured | met |" in result.stdout
    assert not Path("/run/manrs-lab-tests/bench-smoke").exists() or not any(
        Path("/run/manrs-lab-tests/bench-smoke").iterdir()
    )
