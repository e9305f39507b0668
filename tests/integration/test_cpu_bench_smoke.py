"""The classroom CPU benchmark keeps working: a quick run (one lab, two learners at once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_support import REPO

pytestmark = pytest.mark.daemons


def test_quick_cpu_bench_measures_every_operation_and_a_class(tmp_path: Path):
    out = tmp_path / "cpu.json"
    root = "/run/manrs-lab-tests/cpu-smoke"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "cpu.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MANRS_LAB_STATE_DIR": root},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    (op,) = report["ops"]
    assert op["lab"] == "customer-filtering"
    assert op["check_points"] == "5/5"
    assert op["check_cli_s"] > 0
    assert op["up_cli_s"] > 0
    assert op["kernel_check_s"] > 0
    for kind in ("class_checks", "class_kernel_checks"):
        (klass,) = report[kind]
        assert (klass["learners"], klass["correct"]) == (2, 2)
    (ups,) = report["class_ups"]
    assert ups["failed"] == []
    assert not Path(root).exists() or not [p for p in Path(root).iterdir() if p.is_dir()]
