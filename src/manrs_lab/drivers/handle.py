"""A node of a running instance, as drivers see it: exec inside it, and its local folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from manrs_lab.errors import ExecError
from manrs_lab.instance import Instance
from manrs_lab.runtime.base import ExecResult, Runtime
from manrs_lab.spec.topology import Node


@dataclass(frozen=True)
class NodeHandle:
    instance: Instance
    node: Node
    runtime: Runtime

    @property
    def name(self) -> str:
        return self.node.name

    # Asked on every state read; the answer resolves paths (a few syscalls): once per handle.
    @cached_property
    def local_dir(self) -> Path | None:
        return self.runtime.local_dir(self.instance, self.node.name)

    @cached_property
    def netns_path(self) -> Path | None:
        return self.runtime.netns_path(self.instance, self.node.name)

    def exec(
        self, argv: list[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> ExecResult:
        return self.runtime.exec(
            self.instance, self.node.name, argv, input_text=input_text, timeout=timeout
        )

    def exec_ok(self, argv: list[str], *, input_text: str | None = None) -> str:
        result = self.exec(argv, input_text=input_text)
        if not result.ok:
            raise ExecError(
                f"{self.name}: `{' '.join(argv)}` failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result.stdout
