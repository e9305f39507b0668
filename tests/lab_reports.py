"""What lab tests ask of a grade report: which checks and which tasks failed."""

from __future__ import annotations

from manrs_lab.grader.report import GradeReport


def failed_ids(report: GradeReport) -> set[str]:
    return {c.id for c in report.checks if not c.passed}


def failed_tasks(report: GradeReport) -> set[str]:
    return {t.id for t in report.tasks if not t.passed}
