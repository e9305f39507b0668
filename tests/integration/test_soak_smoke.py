"""The soak keeps working: a quick run (one lab, two checks after solve, one before)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_support import REPO

pytestmark = pytest.mark.daemons


def test_quick_soak_checks_the_solution_repeatedly_and_the_unsolved_lab_once(tmp_path: Path):
    out = tmp_path / "soak.json"
    root = "/run/manrs-lab-tests/soak-smoke"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "soak.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MANRS_LAB_STATE_DIR": root},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (lab,) = json.loads(out.read_text())
    assert lab["lab"] == "customer-filtering"
    assert (lab["checks"], lab["passed"]) == (2, 2)
    assert lab["unsolved_points"] == "0/5"
    assert "| customer-filtering | 2/2 | 0/5 |" in result.stdout
    assert not Path(root).exists() or not [p for p in Path(root).iterdir() if p.is_dir()]
