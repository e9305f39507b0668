"""bench/registry.py keeps working: a quick run (one registry), no assertions on times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from manrs_lab import irr_registry

REPO = Path(__file__).resolve().parents[2]
MISSING = irr_registry.missing_programs()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def test_quick_registry_bench_reports_every_figure(tmp_path: Path):
    out = tmp_path / "registry.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "registry.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())["registry"]
    for key in ("start_s", "pss_mib", "pss_irrd_mib", "pss_postgres_mib", "bgpq4_ms", "stop_s"):
        assert figures[key] > 0, key
    assert "| start_s |" in result.stdout
    assert irr_registry.running() == []
