"""A quick smoke run of bench/chaos.py: two cycles with kills, no leftover, no wrong verdict.
(The figures for 50 cycles are in docs/benchmarks.md, from the script itself.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_support import REPO

pytestmark = pytest.mark.daemons


def test_chaos_smoke(tmp_path: Path):
    root = f"{os.environ['MANRS_LAB_STATE_DIR']}-chaos"
    out = tmp_path / "chaos.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "chaos.py"),
            "--cycles",
            "2",
            "--seed",
            "3",
            "--root",
            root,
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())["summary"]
    assert summary["cycles"] == 2
    assert summary["leftovers"] == 0
    assert summary["wrong_verdicts"] == 0
    assert not Path(root).exists() or not list(Path(root).iterdir())
