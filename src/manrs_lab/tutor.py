"""The tutor: hints that escalate, the next lab after full marks, the current step of a staged lab.

Each failed check of a task reveals the task's next hint (`hints` in lab.yaml, in increasing
detail); a pass starts the task's count again. The counts live in the instance's state folder
(`tutor.json`), written with the instance's lock held (`operations.grade_exclusive`), so the
notebook's panel, its grade cells and `manrs-lab check` in a terminal share them, and two
learners' instances never do. A new instance (Stop then Start, Reset) starts again at hint 1.

Staged labs (tasks that are successive states, e.g. hijack-anatomy) grade one step at a time:
the step is the first task whose check has not passed yet on this instance.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from manrs_lab.errors import LabError
from manrs_lab.grader.report import GradeReport
from manrs_lab.paths import content_root
from manrs_lab.spec.loader import Lab, load_lab

STATE_FILE = "tutor.json"

# Teaching order (architecture.md): what "next lab" means after full marks, and the order the
# notebooks are numbered in (manrs_lab.notebook.build).
CURRICULUM = (
    "hijack-anatomy",
    "customer-filtering",
    "bogons-and-limits",
    "rpki-rov",
    "rpki-rov-bird",
    "roa-publishing",
    "anti-spoofing",
    "route-leak",
    "ixp-route-server",
    "irr-and-roa",
    "coordination",
    "manrs-capstone",
    "manrs-capstone-bird",
    "manrs-ready",  # the last: all four actions, the readiness report as its story
)


@dataclass
class TutorState:
    """Failed checks in a row per task, and the staged steps passed, for one instance."""

    failures: dict[str, int] = field(default_factory=dict)
    passed_steps: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> TutorState:
        try:
            data = json.loads((folder / STATE_FILE).read_text())
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        failures = data.get("failures", {})
        steps = data.get("passed_steps", [])
        return cls(
            {str(k): int(v) for k, v in failures.items() if isinstance(v, int)}
            if isinstance(failures, dict)
            else {},
            [str(s) for s in steps] if isinstance(steps, list) else [],
        )

    def save(self, folder: Path) -> None:
        if not folder.is_dir():
            return  # the instance went away meanwhile: nothing to remember it for
        tmp = folder / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps({"failures": self.failures, "passed_steps": self.passed_steps}))
        tmp.replace(folder / STATE_FILE)


@dataclass(frozen=True)
class Hint:
    number: int  # 1-based
    total: int
    text: str


def hint_for(lab: Lab, task_id: str, failures: int) -> Hint | None:
    """The hint shown after `failures` failed checks in a row (the last one stays)."""
    task = next((t for t in lab.spec.tasks if t.id == task_id), None)
    if task is None or not task.hints or failures < 1:
        return None
    n = min(failures, len(task.hints))
    return Hint(n, len(task.hints), task.hints[n - 1])


def hint_of(lab: Lab, task_id: str, text: str | None) -> Hint | None:
    """Which of the task's hints `text` is (for drawing "hint 2 of 3")."""
    task = next((t for t in lab.spec.tasks if t.id == task_id), None)
    if task is None or text is None or text not in task.hints:
        return None
    return Hint(task.hints.index(text) + 1, len(task.hints), text)


def record(folder: Path, lab: Lab, report: GradeReport) -> GradeReport:
    """Count this check's failures and passes; the report with each failed task's next hint.

    Only the tasks the check graded count (`--task`)."""
    state = TutorState.load(folder)
    tasks = []
    for task in report.tasks:
        if task.passed:
            state.failures.pop(task.id, None)
            if lab.staged and task.id not in state.passed_steps:
                state.passed_steps.append(task.id)
            tasks.append(task)
            continue
        count = state.failures.get(task.id, 0) + 1
        state.failures[task.id] = count
        hint = hint_for(lab, task.id, count)
        tasks.append(replace(task, next_hint=hint.text if hint else task.next_hint))
    with contextlib.suppress(OSError):
        state.save(folder)
    return replace(report, tasks=tasks)


def current_step(folder: Path | None, lab: Lab) -> str | None:
    """A staged lab's step: the first task not passed yet on this instance (None: all done,
    or not a staged lab)."""
    if not lab.staged:
        return None
    passed = TutorState.load(folder).passed_steps if folder is not None else []
    return next((t.id for t in lab.spec.tasks if t.id not in passed), None)


def steps_passed(folder: Path | None) -> list[str]:
    return TutorState.load(folder).passed_steps if folder is not None else []


def lab_or_none(lab_id: str) -> Lab | None:
    """The lab, for drawing hint numbers and the next lab (`load_lab` keeps a loaded lab while
    its files are unchanged: a report draws each task's hint)."""
    try:
        return load_lab(lab_id)
    except LabError:  # only for drawing hint numbers
        return None


@dataclass(frozen=True)
class NextLab:
    id: str
    title: str
    notebook: str | None  # NN-<id>.ipynb where the notebooks are


def next_lab(lab_id: str) -> NextLab | None:
    """The lab after `lab_id` in the teaching order (None after the last, or off the list)."""
    if lab_id not in CURRICULUM:
        return None
    for following in CURRICULUM[CURRICULUM.index(lab_id) + 1 :]:
        lab = lab_or_none(following)
        if lab is None:  # a lab not shipped here: the one after
            continue
        notebooks = sorted((content_root() / "notebooks").glob(f"[0-9][0-9]-{following}.ipynb"))
        return NextLab(following, lab.spec.title, notebooks[0].name if notebooks else None)
    return None


def full_marks_text(lab_id: str, *, notebook: bool) -> str:
    """What a learner reads after full marks: what comes next."""
    following = next_lab(lab_id)
    if following is None:
        return "Full marks: that was the last lab of the course."
    if notebook and following.notebook:
        where = f"open `{following.notebook}`"
    else:
        where = f"`manrs-lab up {following.id}`"
    return f"Full marks. Next lab: {following.title} ({where})."
