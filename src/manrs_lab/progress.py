"""Progress reporting shared by the CLI (rich) and the notebook panel (ipywidgets)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def step(self, message: str) -> None:
        """A lab-wide phase starts ("creating links", "waiting for BGP")."""

    def node(self, node: str, state: str) -> None:
        """A node reached a state ("config ok", "daemons started", "ready")."""


class SilentProgress:
    def step(self, message: str) -> None:
        pass

    def node(self, node: str, state: str) -> None:
        pass


class RecordingProgress:
    """Keeps every event; used by tests and by the notebook's log."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def step(self, message: str) -> None:
        self.events.append(("step", message))

    def node(self, node: str, state: str) -> None:
        self.events.append((node, state))
