"""Grading results: per check and per task, as JSON and as a readable table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    task: str | None
    passed: bool
    skipped: bool
    message: str
    evidence: str
    seconds: float


@dataclass(frozen=True)
class TaskResult:
    id: str
    title: str
    passed: bool
    points: int
    max_points: int
    next_hint: str | None


@dataclass(frozen=True)
class GradeReport:
    lab: str
    instance: str
    seed: int
    seconds: float
    tasks: list[TaskResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(t.points for t in self.tasks)

    @property
    def max_points(self) -> int:
        return sum(t.max_points for t in self.tasks)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def task(self, task_id: str) -> TaskResult:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def failures(self, task_id: str | None = None) -> list[CheckResult]:
        return [
            c
            for c in self.checks
            if not c.passed and (task_id is None or c.task == task_id or c.task is None)
        ]

    def to_json(self) -> str:
        data = asdict(self)
        data.update(points=self.points, max_points=self.max_points, passed=self.passed)
        return json.dumps(data, indent=2)
