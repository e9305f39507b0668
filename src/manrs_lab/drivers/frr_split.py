"""Split an integrated frr.conf into one file per daemon, so each daemon reads its own with `-f`.

Why: `vtysh -b` (the usual way to apply frr.conf) can only run once the daemons answer, costs a
vtysh process per router, and sends line by line, so bgpd starts each peer on its 1 s timer.
zebra and staticd read their parts with `-f` while they start; bgpd reads only `frr defaults`
and gets its BGP part pushed in one vty write right after (`startup_and_live`), which makes it
connect at once (see docs/architecture.md).

The split is deliberately narrow: it knows the statements our labs and FRR's own
`show running-config` use. Anything else makes `split` return None, and the caller falls back
to `vtysh -b`, which knows every command. The whole file has already passed `vtysh -C`.
"""

from __future__ import annotations

from collections.abc import Iterator

DAEMONS = ("zebra", "bgpd", "staticd")
ALL = DAEMONS

# First words of a top-level statement -> the daemons that take it.
_TOP_LEVEL: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("frr", "version"), ALL),
    (("frr", "defaults"), ALL),
    (("log",), ALL),
    (("router", "bgp"), ("bgpd",)),
    (("bgp",), ("bgpd",)),  # as-path / community lists, route-map delay-timer, ...
    (("rpki",), ("bgpd",)),
    (("route-map",), ("bgpd",)),
    (("ip", "prefix-list"), ("bgpd",)),
    (("ipv6", "prefix-list"), ("bgpd",)),
    (("access-list",), ("bgpd",)),
    (("ipv6", "access-list"), ("bgpd",)),
    (("ip", "route"), ("staticd",)),
    (("ipv6", "route"), ("staticd",)),
    (("ip", "forwarding"), ("zebra",)),
    (("ipv6", "forwarding"), ("zebra",)),
    (("ip", "router-id"), ("zebra",)),
    (("router-id",), ("zebra",)),
    (("interface",), ("zebra",)),
)
# Statements vtysh keeps to itself under `vtysh -b` (measured on FRR 8.4: the daemons never see
# `hostname`; `show running-config` prints vtysh's own), so the split drops them too.
_DROP = (("service", "integrated-vtysh-config"), ("hostname",), ("end",))
# What zebra takes inside `interface NAME`; anything else there (OSPF, ND, ...) -> fall back.
_INTERFACE_LINES = (
    ("description",),
    ("ip", "address"),
    ("ipv6", "address"),
    ("shutdown",),
    ("no", "shutdown"),
    ("link-detect",),
    ("no", "link-detect"),
)


def _starts(words: list[str], prefixes: tuple[tuple[str, ...], ...]) -> bool:
    return any(tuple(words[: len(p)]) == p for p in prefixes)


def _blocks(text: str) -> Iterator[list[str]]:
    """Top-level statements with their indented lines and closing `exit`."""
    block: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if line[0].isspace():
            if not block:
                raise ValueError(f"indented line outside a block: {stripped!r}")
            block.append(line)
        elif stripped == "exit" and block:
            block.append(line)
            yield block
            block = []
        else:
            if block:
                yield block
            block = [line]
    if block:
        yield block


def startup_and_live(bgpd_part: str) -> tuple[str, str]:
    """bgpd's part as (what it reads at start, what is pushed to it right after).

    Read at start, `router bgp` is held by FRR 8.4's startup-config hold (~1 s), and a peer's
    start waits its 1 s timer; pushed over bgpd's vty in one write, the start event queued by
    `neighbor X timers connect` runs after `activate`: bgpd connects at once (measured in two
    namespaces: established 0.1 s after the second router, 5 runs of 5)."""
    startup: list[str] = []
    live: list[str] = []
    for block in _blocks(bgpd_part):
        target = startup if _starts(block[0].split(), (("frr",), ("log",))) else live
        target.extend(block)
    return "\n".join(startup) + "\n", "\n".join(live) + "\n" if live else ""


def split(text: str) -> dict[str, str] | None:
    """{daemon: config} for zebra, bgpd and staticd; None when a statement is not known here."""
    parts: dict[str, list[str]] = {d: [] for d in DAEMONS}
    try:
        blocks = list(_blocks(text))
    except ValueError:
        return None
    for block in blocks:
        words = block[0].split()
        if _starts(words, _DROP):
            continue
        targets = next((t for prefix, t in _TOP_LEVEL if _starts(words, (prefix,))), None)
        if targets is None:
            return None
        if words[0] == "interface":
            inner = [ln.split() for ln in block[1:] if ln.strip() != "exit"]
            if not all(_starts(w, _INTERFACE_LINES) for w in inner):
                return None
        for daemon in targets:
            parts[daemon].extend(block)
    return {d: "\n".join(lines) + "\n" for d, lines in parts.items()}
