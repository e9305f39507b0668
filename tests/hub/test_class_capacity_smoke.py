"""The workshop capacity benchmark keeps working: a quick run (two learners, customer-filtering)
on the real hub. About a minute; the figures themselves are in docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_support import CHP, REPO, run

pytestmark = pytest.mark.docker


def test_quick_class_capacity_bench(tmp_path: Path):
    from clab_support import ensure_images  # noqa: PLC0415  (skips where Docker is unusable)

    ensure_images("lab")
    assert CHP.exists(), f"configurable-http-proxy is missing ({CHP}): ./install.sh --workshop"
    out = tmp_path / "class.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "class_capacity.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    (klass,) = report["runs"]
    assert klass["learners"] == 2
    assert klass["correct"] == 2
    assert klass["wrong"] == []
    assert len(klass["check_s"]) == 2
    assert all(t > 0 for t in klass["login_to_lab_s"])
    assert len(klass["mem_lab_mib"]) == 2
    assert all(m > 10 for m in klass["mem_lab_mib"])
    # nothing of the bench's hubs is left
    names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
    assert not [n for n in names if n.startswith(f"{klass['prefix']}-")]
    volumes = run(["docker", "volume", "ls", "-q"]).stdout.split()
    assert not [v for v in volumes if v.startswith(f"{klass['prefix']}-")]
