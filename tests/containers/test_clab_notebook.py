"""A notebook chooses the containerlab runtime: `Lab(lab, runtime="containerlab")`, run headless.

A real Jupyter kernel (nbclient) runs the cells; the lab's containers are the node images', the
stand-in fake_containerlab.py stands in for containerlab's binary on the kernel's PATH.
start, check (fails), solve, check (passes), the panel naming the runtime, stop: nothing left.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from clab_support import containers_named, ensure_images, install_fake_containerlab, run

from manrs_lab.paths import state_root

nbclient = pytest.importorskip("nbclient", reason="needs the notebook extra")
nbformat = pytest.importorskip("nbformat", reason="needs the notebook extra")
pytestmark = pytest.mark.docker

CELLS = [
    "from manrs_lab.notebook import Lab\n"
    'lab = Lab("customer-filtering", runtime="containerlab", start=False)\n'
    "lab.start()\n"
    "print('runtime', lab.running.runtime.name, lab.running.instance.runtime)",
    "from manrs_lab.notebook.panel import LabPanel\nprint(LabPanel(lab).title.value)",
    "unsolved = lab.check(save=False)\n"
    "print('unsolved', unsolved.report.points, unsolved.report.max_points)",
    "lab.solve()\n"
    "solved = lab.check(save=False)\n"
    "print('solved', solved.report.points, solved.report.max_points)",
    "name = lab.instance\nlab.stop()\nprint('stopped', name)",
]


def text(cell: object) -> str:
    outs = cell.get("outputs", [])  # type: ignore[attr-defined]
    return "".join(o.get("text", "") + o.get("evalue", "") for o in outs)


def test_a_notebook_runs_its_lab_with_containerlab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ensure_images("frr", "bird", "rtr", "host")
    install_fake_containerlab(tmp_path / "bin")
    venv_bin = Path(sys.executable).parent
    monkeypatch.setenv(
        "PATH", f"{tmp_path / 'bin'}{os.pathsep}{venv_bin}{os.pathsep}{os.environ['PATH']}"
    )
    prefix = f"tnbc{uuid.uuid4().hex[:6]}-"
    monkeypatch.setenv("MANRS_LAB_INSTANCE_PREFIX", prefix)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("MANRS_LAB_RUNTIME", raising=False)
    name = f"{prefix}customer-filtering"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
        outputs = [text(c) for c in nb.cells]
        assert "runtime containerlab containerlab" in outputs[0]
        assert "runtime <code>containerlab</code>" in outputs[1]
        assert outputs[2].split() == ["unsolved", "0", "5"], outputs[2]
        assert outputs[3].split() == ["solved", "5", "5"], outputs[3]
        assert f"stopped {name}" in outputs[4]
        assert containers_named(f"clab-{name}-") == []
        assert not (state_root() / name).exists()
    finally:
        for cname in containers_named(f"clab-{name}-"):
            run(["docker", "rm", "-f", "-v", cname])
