"""nbgrader autograde without running the submitted notebook: grades come from router configs.

`grader/nbgrader_config.py` puts `GradeFromConfigs` where nbgrader's `Execute` was in
`Autograde.autograde_preprocessors`. No kernel starts, so no code cell of the submission runs.
nbgrader's own sanitizing step has already cleared every output and restored the locked cells
(grade cells included) from its gradebook; this preprocessor then
- takes what to grade from the gradebook, not from the submitted notebook: the lab from the
  source notebook's `setup` cell (`Lab("<lab>")`), each grade cell's task from its source in
  the gradebook (`lab.assert_task("<task>")`), its points and flags from the gradebook too; a
  grade cell missing from the submission is put back, a cell that claims to be one is not;
- reads the submission's `.manrs-lab/` from nbgrader's `submitted/` folder through
  `manrs_lab.submission` (data only), deploys the lab from what it accepted, grades it live and
  tears it down (`replay.replay`), in this trusted process;
- writes each grade cell's output as `lab.assert_task` would have (a pass, or an
  `AssertionError` with the failed checks and what was refused), which nbgrader's
  `SaveAutoGrades` scores as usual;
- removes from the autograded copy what nbgrader copied by following links (it copies every
  file of a submission with `shutil.copy`): the `.manrs-lab/` folder and anything that is not
  a regular file in `submitted/`, so no such copy reaches `generate_feedback`.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import nbformat as _nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook  # type: ignore[import-untyped]
from nbgrader.coursedir import CourseDirectory  # type: ignore[import-untyped]
from nbgrader.preprocessors import NbGraderPreprocessor  # type: ignore[import-untyped]

from manrs_lab.errors import LabError
from manrs_lab.notebook import replay
from manrs_lab.notebook.views import task_failure_text, wrap_feedback
from manrs_lab.progress import SilentProgress
from manrs_lab.spec.loader import Lab as LoadedLab
from manrs_lab.spec.loader import load_lab

SETUP_CELL = "setup"
_NOTEBOOK_NUMBER = re.compile(r"^\d+-")
# nbformat's functions carry no annotations: go through Any rather than scatter ignores.
nbformat: Any = _nbformat


def lab_of(setup_source: str | None, notebook_id: str) -> str:
    """The lab a notebook is about: `Lab("<lab>")` in its setup cell, else its file name."""
    if setup_source is not None:
        try:
            tree = ast.parse(setup_source)
        except SyntaxError:
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Lab"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                return node.args[0].value
    return _NOTEBOOK_NUMBER.sub("", notebook_id)


def task_of(source: str) -> str | None:
    """The task a grade cell grades: its source is exactly `<name>.assert_task("<task>")`."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return None
    call = body[0].value
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "assert_task"
        and len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    ):
        return call.args[0].value
    return None


def verdict(outcome: replay.Replay, task: str) -> tuple[bool, str]:
    """(passed, text) for one grade cell, worded as `Lab.assert_task` words it."""
    notes = outcome.notes()
    if outcome.report is None:
        return False, "\n".join([f"{task}: {outcome.error}", *notes])
    try:
        result = outcome.report.task(task)
    except (KeyError, LabError, StopIteration):
        return False, f"no task {task!r} in lab {outcome.report.lab}"
    if result.passed:
        text = f"PASS {result.title}: {result.points}/{result.max_points} points"
        return True, "\n".join([text, *notes])
    lines = task_failure_text(outcome.report, result)
    return False, wrap_feedback([*lines, *notes])


def _remove(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def scrub_copies(submitted: Path, autograded: Path) -> None:
    """Remove from nbgrader's autograded copy the saved configs (graded from `submitted/`) and
    every copy of something that is not a regular file or folder there (a link it followed)."""
    _remove(autograded / replay.SAVE_DIR)
    for folder, dirs, files in os.walk(submitted, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) or (
                stat.S_ISREG(mode) and path.lstat().st_nlink > 1
            ):
                _remove(autograded / path.relative_to(submitted))


class GradeFromConfigs(NbGraderPreprocessor):  # type: ignore[misc] # nbgrader has no types
    """Grade cells computed from the submission's saved router configurations; no cell runs."""

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        info = resources["nbgrader"]
        coursedir = CourseDirectory(parent=self)
        submitted = Path(
            coursedir.format_path(
                coursedir.submitted_directory, info["student"], info["assignment"]
            )
        )
        autograded = Path(
            coursedir.format_path(
                coursedir.autograded_directory, info["student"], info["assignment"]
            )
        )
        scrub_copies(submitted, autograded)
        with Gradebook(info["db_url"]) as gb:
            source = gb.find_notebook(info["notebook"], info["assignment"])
            sources = {c.name: (c.cell_type, c.source, c.locked) for c in source.source_cells}
            points = {c.name: float(c.max_score) for c in source.grade_cells}
            solutions = {c.name for c in source.solution_cells}
        setup = sources.get(SETUP_CELL)
        lab_id = lab_of(setup[1] if setup else None, info["notebook"])
        self._restore_cells(nb, sources, points, solutions)
        tasks = {name: task_of(sources[name][1]) for name in points if name in sources}
        try:
            lab = load_lab(lab_id)
        except LabError as exc:
            self.log.error("manrs-lab: cannot grade %s: %s", info["notebook"], exc)
            outcomes: dict[str | None, replay.Replay] = {}
            failure = f"the grading machine cannot load lab {lab_id!r}: {exc}"
        else:
            self.log.info("manrs-lab: grading %s from %s", lab.id, submitted / replay.SAVE_DIR)
            outcomes = self._grade(lab, submitted, [t for t in tasks.values() if t])
            failure = ""
        count = 0
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or grade_id not in points:
                continue
            count += 1
            cell.execution_count = count
            task = tasks.get(grade_id)
            if task is None:
                passed, text = False, "not a manrs-lab grade cell: nothing runs while autograding"
            elif failure:
                passed, text = False, failure
            else:
                key = task if lab.staged else None
                passed, text = verdict(outcomes[key], task)
            cell.outputs = _outputs(passed, text)
        return nb, resources

    def _grade(self, lab: LoadedLab, submitted: Path, tasks: list[str]) -> dict[str | None, Any]:
        if lab.staged:
            return {t: replay.replay(lab, submitted, SilentProgress(), task=t) for t in tasks}
        return {None: replay.replay(lab, submitted, SilentProgress())}

    def _restore_cells(
        self,
        nb: NotebookNode,
        sources: dict[str, tuple[str, str, bool]],
        points: dict[str, float],
        solutions: set[str],
    ) -> None:
        """Every code cell without outputs; grade cells as the gradebook has them (put back
        when missing); no other cell keeps grade-cell metadata."""
        seen: set[str] = set()
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            grade_id = meta.get("grade_id")
            claimed = sources.get(grade_id)
            if claimed is None or grade_id in seen or cell.cell_type != claimed[0]:
                del cell.metadata["nbgrader"]  # not the cell it claims to be: put back below
                continue
            seen.add(grade_id)
            _cell_type, text, locked = claimed
            meta["grade"] = grade_id in points
            meta["solution"] = grade_id in solutions
            meta["locked"] = locked
            if grade_id in points:
                meta["points"] = points[grade_id]
                cell.source = text
            elif "points" in meta:
                del meta["points"]
        for grade_id, max_score in points.items():
            if grade_id in seen or grade_id not in sources or sources[grade_id][0] != "code":
                continue
            cell = nbformat.v4.new_code_cell(sources[grade_id][1])
            cell.metadata = nbformat.from_dict(
                {
                    "nbgrader": {
                        "grade": True,
                        "grade_id": grade_id,
                        "locked": True,
                        "points": max_score,
                        "schema_version": 3,
                        "solution": grade_id in solutions,
                        "task": False,
                    },
                    "editable": False,
                    "deletable": False,
                }
            )
            nb.cells.append(cell)


def _outputs(passed: bool, text: str) -> list[NotebookNode]:
    if passed:
        return [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
    return [
        nbformat.v4.new_output(
            "error",
            ename="AssertionError",
            evalue=text,
            traceback=["AssertionError: " + text],
        )
    ]
