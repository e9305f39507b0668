"""A node of a running instance, as drivers see it: exec inside it, and its local folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from manrs_lab.drivers import nft_lib
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

    def nft(self, command: str, *, json: bool = False, check: bool = True) -> str:
        """`nft [-j] -f -` with `command` (a ruleset or commands) in the node: in-process through
        libnftables where the node is a local namespace, else an `nft` process in the node.
        `check`: a refused command raises ExecError; otherwise its output is ''."""
        netns = self.netns_path
        if netns is not None and nft_lib.available():
            done = nft_lib.nft_in_netns(netns, command, json=json)
            if done.ok:
                return done.output
            if check:
                raise ExecError(f"{self.name}: nft refused {command.strip()[:200]!r}: {done.error}")
            return ""
        # `nft -f -` runs a ruleset but prints nothing for `list` (nor JSON): one-line commands
        # go as arguments.
        one_line = "\n" not in command.strip()
        argv = ["nft", *(["-j"] if json else [])]
        argv, stdin = (
            ([*argv, *command.split()], None) if one_line else ([*argv, "-f", "-"], command)
        )
        if check:
            return self.exec_ok(argv, input_text=stdin)
        result = self.exec(argv, input_text=stdin)
        return result.stdout if result.ok else ""

    def exec_ok(self, argv: list[str], *, input_text: str | None = None) -> str:
        result = self.exec(argv, input_text=input_text)
        if not result.ok:
            raise ExecError(
                f"{self.name}: `{' '.join(argv)}` failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result.stdout
