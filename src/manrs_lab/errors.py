"""Errors a learner or instructor can act on: each names what went wrong and where."""

from __future__ import annotations

from pathlib import Path


class LabError(Exception):
    """Base class for every error the CLI prints without a traceback."""


class SpecError(LabError):
    """A lab or topology file is invalid; carries every problem found, file and field named."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}:\n{lines}")


class ConfigSyntaxError(LabError):
    """A router configuration was rejected by the daemon's own syntax check."""

    def __init__(self, node: str, path: Path, output: str) -> None:
        self.node = node
        self.path = path
        self.output = output.strip()
        super().__init__(f"{node}: {path} does not pass the daemon's syntax check:\n{self.output}")


class DeployError(LabError):
    """Bringing a lab up failed; whatever was created has been removed again."""


class NotRunningError(LabError):
    """The named lab instance is not running."""


class ExecError(LabError):
    """A command inside a node failed."""
