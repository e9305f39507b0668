"""What every runtime offers: a small protocol, one exec result type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from manrs_lab.instance import Instance
    from manrs_lab.progress import Progress


@dataclass(frozen=True)
class ExecResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runtime(Protocol):
    name: str

    def deploy(self, instance: Instance, progress: Progress) -> None:
        """Create the nodes and links and start the daemons; on failure leave nothing behind."""

    def destroy(self, instance: Instance, progress: Progress) -> None:
        """Stop every daemon and remove every namespace/container of the instance."""

    def exec(
        self,
        instance: Instance,
        node: str,
        argv: list[str],
        *,
        input_text: str | None = None,
        timeout: float = 30.0,
    ) -> ExecResult:
        """Run a command inside a node."""

    def node_running(self, instance: Instance, node: str) -> bool:
        """Whether the node's namespace/container and its daemons are alive."""

    def local_dir(self, instance: Instance, node: str) -> Path | None:
        """The node's state folder if its control sockets are reachable from this process."""

    def netns_path(self, instance: Instance, node: str) -> Path | None:
        """The node's network namespace, if this process may join it (to open sockets there)."""
