"""Helpers for the notebook tests: paths, running a notebook in a kernel, reading its cells."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

nbclient = pytest.importorskip(
    "nbclient", reason="needs the notebook extra: pip install -e '.[notebook]'"
)
nbformat = pytest.importorskip("nbformat", reason="needs the notebook extra")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "artifacts"
VENV_BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")


def notebook_for(lab_id: str) -> Path:
    found = sorted(NOTEBOOKS.glob(f"[0-9][0-9]-{lab_id}.ipynb"))
    assert found, f"no notebook for lab {lab_id}: run notebooks/build.py"
    return found[0]


def run_notebook(nb: Any, workdir: Path, *, allow_errors: bool, timeout: int = 300) -> Any:
    """Execute `nb` in a fresh python3 kernel whose working folder is `workdir`."""
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return nb


def grade_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def errors_of(cell: Any) -> list[str]:
    return [o.get("ename", "") for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def text_of(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
        parts.append(out.get("evalue", ""))
    return "".join(parts)


def copy_notebooks(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(path, target / path.name)
