"""The learner's labs as the class view sees them: instance state and the last verdicts."""

from __future__ import annotations

import functools
import time
from typing import Any

from manrs_lab.classroom.record import read_all
from manrs_lab.errors import LabError
from manrs_lab.grader.journal import ProbeJournal
from manrs_lab.instance import list_instances
from manrs_lab.spec.loader import load_lab


@functools.lru_cache(maxsize=64)
def _tasks_of(lab_id: str) -> tuple[tuple[str, str, int], ...]:
    try:
        lab = load_lab(lab_id)
    except LabError:
        return ()
    return tuple((t.id, t.title, t.points) for t in lab.spec.tasks)


def lab_states(now: float | None = None) -> dict[str, Any]:
    """Every instance (running or once checked), its tasks, and each task's last verdict."""
    at = time.time() if now is None else now
    records = read_all()
    rows: dict[str, dict[str, Any]] = {}
    for inst in list_instances():
        grading = ProbeJournal(inst.folder).read()["grading"]
        rows[inst.name] = {
            "instance": inst.name,
            "lab": inst.lab,
            "state": "checking" if grading else ("running" if inst.ready else "starting"),
            "since": inst.created,
        }
    for name, rec in records.items():
        rows.setdefault(
            name,
            {"instance": name, "lab": str(rec.get("lab", "")), "state": "down", "since": None},
        )
    out = []
    for name in sorted(rows):
        row = rows[name]
        rec = records.get(name, {})
        done: dict[str, Any] = rec.get("tasks", {})
        tasks = []
        known = _tasks_of(row["lab"]) or tuple(
            (tid, str(t.get("title", tid)), int(t.get("max_points", 0))) for tid, t in done.items()
        )
        for tid, title, points in known:
            last = done.get(tid)
            tasks.append(
                {
                    "id": tid,
                    "title": title,
                    "max_points": points,
                    "verdict": None if last is None else ("pass" if last["passed"] else "fail"),
                    "points": None if last is None else last.get("points"),
                    "at": None if last is None else last.get("at"),
                    "failing_since": None if last is None else last.get("failing_since"),
                    "failed_in_a_row": 0 if last is None else last.get("failed_in_a_row", 0),
                    "failed_checks": [] if last is None else last.get("failed_checks", []),
                }
            )
        row.update(
            tasks=tasks,
            checked_at=rec.get("checked_at"),
            checks=rec.get("checks", 0),
            points=sum(t["points"] or 0 for t in tasks),
            max_points=sum(t["max_points"] for t in tasks),
        )
        out.append(row)
    return {"now": at, "labs": out}
