"""IPython magics that reach the routers of the current lab.

    %vtysh NODE COMMAND…        FRR: one command; %%vtysh NODE: one command per line
                                (`configure terminal` sequences work: it is one vtysh session)
    %birdc NODE COMMAND…        BIRD: one command; %%birdc NODE: one command per line
    %sh NODE COMMAND…           a shell command inside the node's namespace; %%sh NODE: a script
    %router_config NODE         print the node's running configuration
    %%router_config NODE        apply the cell: FRR commands on top of the running configuration,
                                or a whole new bird.conf for BIRD
    %whois QUERY…               a query to the lab's routing registry (labs with a registry)
    %%registry_update           send the cell to the lab's registry: RPSL objects, `password:`
                                lines, `delete: REASON` inside an object to delete it

Registered when a `Lab` is created in IPython, or with `%load_ext manrs_lab.notebook`.
`%%sh NODE` replaces IPython's own `%%sh` cell magic for the session.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from manrs_lab.errors import LabError
from manrs_lab.notebook import session

MagicFn = Callable[[str, str | None], None]
READ_ONLY_VTYSH = ("show", "sh", "ping", "traceroute", "do", "exit", "end")
READ_ONLY_BIRDC = ("show", "sh", "echo", "help", "?")


def _split(line: str, magic: str) -> tuple[str, str]:
    node, _, rest = line.strip().partition(" ")
    if not node:
        raise UsageError(f"usage: %{magic} NODE ...  (nodes: {_nodes()})")
    return node, rest.strip()


def _nodes() -> str:
    try:
        return ", ".join(session.current_lab().lab.topology.nodes)
    except LabError:
        return "create a Lab first"


def _lines(cell: str | None) -> list[str]:
    return [ln.strip() for ln in (cell or "").splitlines() if ln.strip()]


def _guard(fn: MagicFn) -> MagicFn:
    """Learner-facing errors as one line (UsageError), not a traceback; nothing when autograding."""

    def wrapper(line: str, cell: str | None = None) -> None:
        try:
            lab = session.current_lab()
        except LabError as exc:
            raise UsageError(str(exc)) from None
        if lab.autograde:
            print("(not run while autograding: grade cells replay the saved configuration)")
            return
        try:
            fn(line, cell)
        except LabError as exc:
            raise UsageError(str(exc)) from None

    wrapper.__doc__ = fn.__doc__
    return wrapper


@_guard
def vtysh(line: str, cell: str | None = None) -> None:
    """%vtysh NODE COMMAND (or %%vtysh NODE with one command per line): FRR's vtysh."""
    node, command = _split(line, "vtysh")
    commands = ([command] if command else []) + _lines(cell)
    if not commands:
        raise UsageError("usage: %vtysh NODE COMMAND, e.g. %vtysh edge show bgp summary")
    lab = session.current_lab()
    if any(not c.split()[0].startswith(READ_ONLY_VTYSH) for c in commands):
        lab.mark_changed()  # configure terminal, clear bgp...: the score shown is stale
    print(lab.vtysh(node, *commands), end="")


@_guard
def birdc(line: str, cell: str | None = None) -> None:
    """%birdc NODE COMMAND (or %%birdc NODE with one command per line): BIRD's birdc."""
    node, command = _split(line, "birdc")
    commands = ([command] if command else []) + _lines(cell)
    if not commands:
        raise UsageError("usage: %birdc NODE COMMAND, e.g. %birdc cust1 show route")
    lab = session.current_lab()
    if any(not c.split()[0].startswith(READ_ONLY_BIRDC) for c in commands):
        lab.mark_changed()
    for one in commands:
        if len(commands) > 1:
            print(f"bird> {one}")
        print(lab.birdc(node, one), end="")


@_guard
def sh(line: str, cell: str | None = None) -> None:
    """%sh NODE COMMAND (or %%sh NODE with a script): a shell inside the node's namespace."""
    node, command = _split(line, "sh")
    script = "\n".join(part for part in (command, cell or "") if part.strip())
    if not script.strip():
        raise UsageError("usage: %sh NODE COMMAND, e.g. %sh edge ip -br addr")
    lab = session.current_lab()
    lab.mark_changed()  # a shell can change anything (nft, sysctl): the score shown is stale
    status, output = lab.sh(node, script)
    print(output, end="")
    if status != 0:
        print(f"[exit status {status}]")


@_guard
def router_config(line: str, cell: str | None = None) -> None:
    """%router_config NODE shows the running configuration; %%router_config NODE applies it."""
    args = shlex.split(line)
    if len(args) != 1:
        raise UsageError(f"usage: %router_config NODE  (nodes: {_nodes()})")
    lab = session.current_lab()
    if cell is None:
        print(lab.running_config(args[0]), end="")
    else:
        print(lab.apply_config(args[0], cell))


@_guard
def whois(line: str, cell: str | None = None) -> None:
    """%whois QUERY: the lab's routing registry (e.g. %whois AS64500, %whois -i mnt-by MNT)."""
    query = " ".join(part for part in (line.strip(), *_lines(cell)) if part)
    if not query:
        raise UsageError("usage: %whois QUERY, e.g. %whois AS64500 or %whois -r -T irt IRT-X")
    print(session.current_lab().whois(query), end="")


@_guard
def registry_update(line: str, cell: str | None = None) -> None:
    """%%registry_update: send the cell's objects to the lab's registry (IRRd's mail format:
    `password:` lines, `delete: REASON` inside an object)."""
    if cell is None:
        raise UsageError("usage: %%registry_update, then the objects in the cell")
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in cell.splitlines()):
        print("nothing sent to the registry: the cell holds only comments")
        return
    print(session.current_lab().registry_update(cell))


MAGICS: dict[str, MagicFn] = {
    "vtysh": vtysh,
    "birdc": birdc,
    "sh": sh,
    "router_config": router_config,
    "whois": whois,
    "registry_update": registry_update,
}


def register(shell: object) -> None:
    """Register the magics (idempotent)."""
    if not isinstance(shell, InteractiveShell):
        return
    # IPython's decorator hides register_magic_function's signature from type checkers.
    register_fn: Any = shell.register_magic_function
    for name, fn in MAGICS.items():
        register_fn(fn, magic_kind="line_cell", magic_name=name)
