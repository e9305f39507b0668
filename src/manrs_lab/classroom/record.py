"""Each check's verdicts, kept per instance for the instructor's class view.

Every check (CLI, notebook button, grade cell, the class view's "grade now") ends in
`operations.grade_exclusive`, which hands the report to `record`. One small JSON file per
instance holds, per task, the last verdict and when, how many checks in a row failed it and since
when (what "stuck" is computed from). Only where `$MANRS_LAB_VERDICTS` names a folder: the
workshop deployment sets it in every learner's server, pointing into the learner's volume so the
history outlives a culled server; elsewhere (one learner, the CLI, tests) nothing is written.

What a learner's own container writes is the learner's: the class view shows progress, it is
not the grade of record (that is nbgrader's autograde, which grades saved configs elsewhere).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from manrs_lab.grader.report import GradeReport
from manrs_lab.instance import INSTANCE_RE

VERDICTS_ENV = "MANRS_LAB_VERDICTS"
MAX_RECORD_BYTES = 256 * 1024  # a record larger than this is not ours: ignored


def verdicts_dir() -> Path | None:
    env = os.environ.get(VERDICTS_ENV)
    return Path(env).resolve() if env else None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return None
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def record(report: GradeReport, *, now: float | None = None) -> Path | None:
    """Merge one check's task verdicts into the instance's record (tasks not graded keep
    theirs); nothing without `$MANRS_LAB_VERDICTS`."""
    at = time.time() if now is None else now
    folder = verdicts_dir()
    if folder is None:
        return None
    path = folder / f"{report.instance}.json"
    with _locked(folder):
        doc = _read(path) or {}
        found = doc.get("tasks")
        tasks: dict[str, Any] = found if isinstance(found, dict) else {}
        for t in report.tasks:
            prev = tasks.get(t.id)
            old: dict[str, Any] = prev if isinstance(prev, dict) else {}
            failed_before = old.get("passed") is False
            failing_since = None
            streak = 0
            if not t.passed:
                failing_since = old.get("failing_since") if failed_before else at
                streak = int(old.get("failed_in_a_row", 0)) + 1 if failed_before else 1
            failed_checks = [
                c.title for c in report.checks if not c.passed and not c.skipped and c.task == t.id
            ]
            tasks[t.id] = {
                "title": t.title,
                "passed": t.passed,
                "points": t.points,
                "max_points": t.max_points,
                "at": at,
                "failing_since": failing_since,
                "failed_in_a_row": streak,
                "failed_checks": failed_checks[:10],
            }
        doc = {
            "lab": report.lab,
            "instance": report.instance,
            "checked_at": at,
            "seconds": round(report.seconds, 2),
            "checks": int(doc.get("checks", 0)) + 1,
            "tasks": tasks,
        }
        tmp = folder / f".{report.instance}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(path)
    return path


def read_all() -> dict[str, dict[str, Any]]:
    """instance -> its record (unreadable or foreign files are skipped)."""
    folder = verdicts_dir()
    found: dict[str, dict[str, Any]] = {}
    if folder is None or not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        if not INSTANCE_RE.fullmatch(path.stem):
            continue
        doc = _read(path)
        if doc is not None and isinstance(doc.get("tasks"), dict):
            found[path.stem] = doc
    return found
