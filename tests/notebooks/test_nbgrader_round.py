"""A full nbgrader round in a temporary course folder, graded from saved configurations only.

The instructor generates the assignment from the repository's course config; learners hand in:
alice solved the lab in her notebook, carol solved its first task only, bob handed in the
untouched notebook, mallory handed in bob's work with the grade cells' outputs edited to look
like alice's, and eve handed in bob's work plus a code cell that patches the grader and writes a
file, forged cell metadata, a saved config that is a symlink to a root-only file holding a solved
config, and a shell "filter". Autograde runs no cell of any notebook (GradeFromConfigs): it
rebuilds each lab from the submission's saved router configuration: alice gets full marks, carol
the first task's points, bob, mallory and eve nothing, and nothing of eve's forgeries ran or leaked.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nb_helpers import REPO, errors_of, grade_cells, nbformat, notebook_for, run_notebook, text_of

from manrs_lab.notebook.build import build_notebook
from manrs_lab.notebook.replay import SAVE_DIR
from manrs_lab.spec.loader import load_lab

pytestmark = pytest.mark.daemons
LAB = "customer-filtering"
TOKEN = "tok3n-only-root-may-read"


def nbgrader(course: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def submit(course: Path, student: str, name: str) -> Path:
    folder = course / "submitted" / student / LAB
    folder.mkdir(parents=True)
    shutil.copy(course / "release" / LAB / name, folder / name)
    return folder


def test_nbgrader_round_grades_the_saved_configurations_not_the_outputs(
    tmp_path: Path, kernel_env: str, lab_instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = load_lab(LAB)
    name = notebook_for(LAB).name
    number = int(name[:2])
    course = tmp_path / "course"
    (course / "source" / LAB).mkdir(parents=True)
    shutil.copy(REPO / "grader" / "nbgrader_config.py", course / "nbgrader_config.py")
    source = build_notebook(lab, number, instructor=True)
    nbformat.write(source, course / "source" / LAB / name)
    nbgrader(course, "generate_assignment", LAB)

    # The released notebook is what notebooks/ serves.
    release = nbformat.read(course / "release" / LAB / name, as_version=4)
    served = nbformat.read(notebook_for(LAB), as_version=4)
    assert [c.source for c in release.cells] == [c.source for c in served.cells]

    # alice types the reference solution into the first task's work cell and runs everything.
    alice = submit(course, "alice", name)
    nb = nbformat.read(alice / name, as_version=4)
    work = next(c for c in nb.cells if c.get("id") == f"{lab.spec.tasks[0].id}-work")
    answer = lab.solution_path(lab.spec.learner).read_text()
    work.source = work.source.replace("# YOUR CONFIGURATION HERE", answer.strip())
    run_notebook(nb, alice, allow_errors=False)
    nbformat.write(nb, alice / name)
    assert (alice / SAVE_DIR / LAB / f"{lab.spec.learner}.conf").is_file()
    solved = nb

    # bob, on his own machine (his own lab instance), runs the notebook as released: his grade
    # cells fail, and his starting configuration is saved.
    monkeypatch.setenv("MANRS_LAB_INSTANCE_PREFIX", lab_instances.prefix())
    bob = submit(course, "bob", name)
    nb = nbformat.read(bob / name, as_version=4)
    run_notebook(nb, bob, allow_errors=True)
    nbformat.write(nb, bob / name)
    assert all(errors_of(c) == ["TaskFailed"] for c in grade_cells(nb))

    # mallory hands in bob's notebook and configuration with alice's grade-cell outputs.
    mallory = submit(course, "mallory", name)
    shutil.copytree(bob / SAVE_DIR, mallory / SAVE_DIR)
    forged = nbformat.read(bob / name, as_version=4)
    for cell, good in zip(grade_cells(forged), grade_cells(solved), strict=True):
        cell.outputs = good.outputs
        cell.execution_count = good.execution_count
    nbformat.write(forged, mallory / name)
    assert all(errors_of(c) == [] for c in grade_cells(forged))

    # carol solves the first task only (cust1's filter), on her own machine.
    monkeypatch.setenv("MANRS_LAB_INSTANCE_PREFIX", lab_instances.prefix())
    carol = submit(course, "carol", name)
    nb = nbformat.read(carol / name, as_version=4)
    first = lab.spec.tasks[0]
    work = next(c for c in nb.cells if c.get("id") == f"{first.id}-work")
    partial = "\n".join(ln for ln in answer.splitlines() if "CUST2" not in ln)
    work.source = work.source.replace("# YOUR CONFIGURATION HERE", partial)
    run_notebook(nb, carol, allow_errors=True)
    nbformat.write(nb, carol / name)

    # eve: bob's work, a cell that patches the grader and writes a file, forged metadata, a
    # config that is a symlink to a root-only solved config, a shell "filter".
    eve = submit(course, "eve", name)
    shutil.copytree(bob / SAVE_DIR, eve / SAVE_DIR)
    marker = tmp_path / "learner-code-ran"
    secret = tmp_path / "root-only.conf"
    secret.write_text((alice / SAVE_DIR / LAB / "edge.conf").read_text() + f"! {TOKEN}\n")
    secret.chmod(0o600)
    (eve / SAVE_DIR / LAB / "edge.conf").unlink()
    (eve / SAVE_DIR / LAB / "edge.conf").symlink_to(secret)
    (eve / SAVE_DIR / LAB / "edge.filter.sh").write_text(f"touch {marker}\n")
    (eve / "notes.txt").symlink_to(secret)
    nb = nbformat.read(bob / name, as_version=4)
    patch = (
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from manrs_lab.notebook.session import Lab\n"
        "Lab.assert_task = lambda self, task: None\n"
    )
    nb.cells.insert(2, nbformat.v4.new_code_cell(patch))
    cells = grade_cells(nb)
    cells[0].metadata["nbgrader"]["points"] = 100
    cells[0].source = "pass"
    del cells[1].metadata["nbgrader"]  # "not a grade cell": nbgrader must still grade it
    for cell, good in zip(cells, grade_cells(solved), strict=False):
        cell.outputs = good.outputs
    nbformat.write(nb, eve / name)

    # The instructor's machine: autograde grades every submission from its saved configuration.
    monkeypatch.setenv("MANRS_LAB_INSTANCE_PREFIX", lab_instances.prefix())
    nbgrader(course, "autograde", LAB)
    nbgrader(course, "export")
    with (course / "grades.csv").open() as fh:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}
        max_score = sum(t.points for t in lab.spec.tasks)
    assert scores == {
        "alice": max_score,
        "carol": float(first.points),
        "bob": 0.0,
        "mallory": 0.0,
        "eve": 0.0,
    }

    # Nothing of eve's ran, and the root-only file reached neither the graded notebook, the
    # autograded folder nor the feedback.
    assert not marker.exists()
    nbgrader(course, "generate_feedback", LAB)
    for folder in ("autograded", "feedback"):
        for path in (course / folder / "eve").rglob("*"):
            assert not path.is_symlink(), path
            assert not path.is_file() or TOKEN not in path.read_text(errors="replace"), path
        assert not (course / folder / "eve" / LAB / SAVE_DIR).exists()
    graded_eve = nbformat.read(course / "autograded" / "eve" / LAB / name, as_version=4)
    said = json.dumps(graded_eve)
    assert "edge.conf: refused: it is a symbolic link" in said
    assert "shell scripts are never run" in said
    assert all(not c.get("outputs") for c in graded_eve.cells if c not in grade_cells(graded_eve))

    graded = nbformat.read(course / "autograded" / "mallory" / LAB / name, as_version=4)
    failures = [text_of(c) for c in grade_cells(graded) if errors_of(c)]
    assert failures, "mallory's grade cells were not re-run"
    assert any("edge accepted" in text for text in failures), failures
