"""bench/registry_lab.py keeps working: one `up`/`down` with and one without the registry
(about 12 s), no assertions on times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from manrs_lab import irr_registry

REPO = Path(__file__).resolve().parents[2]
MISSING = irr_registry.missing_programs()
pytestmark = [pytest.mark.skipif(MISSING is not None, reason=MISSING or ""), pytest.mark.daemons]


def test_quick_registry_lab_bench_reports_both_sides(tmp_path: Path):
    out = tmp_path / "registry_lab.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "registry_lab.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())["registry_lab"]
    for side in ("with_registry", "without_registry"):
        for key in ("up_s", "deploy_s", "down_s"):
            assert figures[side][key] > 0, (side, key)
    assert "| up_s (median) |" in result.stdout
    assert irr_registry.running() == []
