"""BIRD 2.0 text output -> the same typed state as FRR. BIRD has no JSON, so parse once, here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import ip_address, ip_network

from manrs_lab.drivers.rtr import Vrp
from manrs_lab.state import BgpRoute, BgpSession, RpkiCacheState, SessionHeard

PROTO_HEAD = re.compile(
    r"^(?P<name>\S+)\s+(?P<proto>\S+)\s+(?P<table>\S+)\s+(?P<state>\S+)\s"
    r"(?:\s*(?P<day>\d{4}-\d\d-\d\d)?\s*(?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)?)"
)
LONG_AGO = 20 * 3600.0  # BIRD writes a date, not a time, for a state older than this
ROUTE_HEAD = re.compile(
    r"^(?P<net>\S+)?\s+(?P<type>unicast|blackhole|unreachable|prohibited|\S+)\s+"
    r"\[(?P<proto>\S+)\s[^\]]*\](?P<best>\s\*)?"
)


def strip_banner(text: str) -> str:
    lines = text.splitlines()
    if lines and lines[0].startswith("BIRD ") and lines[0].rstrip().endswith("ready."):
        lines = lines[1:]
    return "\n".join(lines)


@dataclass
class _ProtocolBlock:
    name: str
    proto: str
    state: str
    fields: dict[str, str] = field(default_factory=dict)  # first value of each "Key: value"
    imported: int = 0  # summed over the protocol's channels
    limit_hit: bool = False  # a channel's receive or import limit shows [HIT]
    since: float | None = None  # seconds in this state when read (the Since column)


# Limits that stop a channel's routes once hit (`action block` keeps them stopped until a
# reload); BIRD marks them "Import limit: 5 [HIT]". An export limit stops what is sent.
LIMITS = ("Receive limit", "Import limit")


def _in_state_for(day: str | None, clock: str | None, now: datetime) -> float | None:
    """Seconds since the Since column's moment: BIRD's default writes the local time of day
    (with milliseconds) for the last 20 hours, a date before that."""
    if clock is None:
        return None if day is None else LONG_AGO
    if day is not None:
        return max(0.0, (now - datetime.fromisoformat(f"{day} {clock}")).total_seconds())
    hours, minutes, seconds = clock.split(":")
    at = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    today = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
    return (today - at) % 86400.0  # across midnight too


def _protocol_blocks(text: str, now: datetime | None = None) -> list[_ProtocolBlock]:
    blocks: list[_ProtocolBlock] = []
    for line in strip_banner(text).splitlines():
        if not line.strip() or line.startswith("Name "):
            continue
        head = PROTO_HEAD.match(line)
        if head and not line[0].isspace():
            block = _ProtocolBlock(head["name"], head["proto"], head["state"])
            if now is not None:
                block.since = _in_state_for(head["day"], head["time"], now)
            blocks.append(block)
            continue
        if not blocks:
            continue
        key, sep, value = line.strip().partition(":")
        if not sep:
            continue
        block = blocks[-1]
        block.fields.setdefault(key.strip(), value.strip())
        if key.strip() in LIMITS and "[HIT]" in value:
            block.limit_hit = True
        if key.strip() == "Routes":
            imported = re.search(r"(\d+) imported", value)
            block.imported += int(imported.group(1)) if imported else 0
    return blocks


def parse_protocols_all(text: str, now: datetime | None = None) -> list[BgpSession]:
    """`show protocols all`: the BGP protocols, one session each. `now`: the local time of the
    read, for how long each session has been in its state (BIRD writes when it entered it)."""
    return [
        BgpSession(
            peer=b.fields["Neighbor address"],
            remote_as=int(b.fields.get("Neighbor AS", "0")),
            state=b.fields.get("BGP state", "unknown"),
            prefixes_received=b.imported,
            name=b.name,
            limit_hit=b.limit_hit,
            up_for=b.since,
        )
        for b in _protocol_blocks(text, now)
        if b.proto == "BGP" and "Neighbor address" in b.fields
    ]


def parse_heard(text: str) -> list[SessionHeard]:
    """`show protocols all`: per established BGP session, how long since its last message (the
    hold timer restarts on every message: `Hold timer: 6.496/9` means 2.504 s)."""
    heard = []
    for b in _protocol_blocks(text):
        timer = re.match(r"([\d.]+)/(\d+)", b.fields.get("Hold timer", ""))
        if b.proto != "BGP" or b.fields.get("BGP state") != "Established" or not timer:
            continue
        silent = max(0.0, float(timer[2]) - float(timer[1]))
        heard.append(SessionHeard(peer=b.fields["Neighbor address"], silent_for=silent))
    return heard


def parse_rpki(text: str) -> RpkiCacheState:
    """`show protocols all`: RPKI protocols' status and the VRPs their ROA channels imported."""
    caches = [b for b in _protocol_blocks(text) if b.proto == "RPKI"]
    return RpkiCacheState(
        connected=any(b.fields.get("Status") == "Established" for b in caches),
        vrp_count=sum(b.imported for b in caches),
        configured=bool(caches),
    )


def rpki_roa_tables(text: str) -> list[str]:
    """`show protocols all`: the ROA tables the RPKI protocols' channels fill, in order."""
    tables: list[str] = []
    in_rpki = False
    for line in strip_banner(text).splitlines():
        head = PROTO_HEAD.match(line)
        if head and not line[0].isspace():
            in_rpki = head["proto"] == "RPKI"
            continue
        key, sep, value = line.strip().partition(":")
        if in_rpki and sep and key.strip() == "Table" and value.strip() not in tables:
            tables.append(value.strip())
    return tables


ROA_LINE = re.compile(r"^(?P<net>\S+?/\d+)-(?P<max>\d+)\s+AS(?P<asn>\d+)\s")


def parse_roa_table(text: str) -> list[Vrp]:
    """`show route table r4`: one VRP per line, `198.18.0.0/24-24 AS64500  [rpki1 …] * (100)`."""
    vrps = []
    for line in strip_banner(text).splitlines():
        match = ROA_LINE.match(line)
        if match:
            net = str(ip_network(match["net"], strict=False))
            vrps.append(Vrp(net, int(match["max"]), int(match["asn"])))
    return vrps


def parse_routes_all(text: str, local_as: int) -> list[BgpRoute]:
    """`show route all` (or `show route for X all`): BGP and local routes with attributes."""
    routes: list[BgpRoute] = []
    current: dict[str, str] = {}
    net = ""

    def flush() -> None:
        if not current:
            return
        path_text = current.get("BGP.as_path")
        as_path = tuple(int(a) for a in path_text.split() if a.isdigit()) if path_text else ()
        is_bgp = current.get("Type", "").startswith("BGP")
        routes.append(
            BgpRoute(
                prefix=current["net"],
                as_path=as_path,
                origin_as=as_path[-1] if as_path else local_as,
                next_hop=current.get("BGP.next_hop", current.get("via")),
                best=current.get("best") == "1",
                peer=current.get("from", current.get("via")) if is_bgp else None,
            )
        )

    for line in strip_banner(text).splitlines():
        if not line.strip() or line.startswith("Table "):
            continue
        if not line.startswith("\t"):
            head = ROUTE_HEAD.match(line)
            if head is None:
                continue
            flush()
            if head["net"]:
                net = head["net"]
            current = {"net": net, "best": "1" if head["best"] else "0", "proto": head["proto"]}
            continue
        body = line.strip()
        if body.startswith("via "):
            current["via"] = body.split()[1]
        elif body.startswith("from "):
            current["from"] = body.split()[1]
        else:
            key, sep, value = body.partition(": ")
            if sep:
                current[key.strip()] = value.strip()
    flush()
    return routes


SS_BGP = ["ss", "-tinH", "state", "established", "(", "sport", "=", ":179", "or", "dport", "=",
          ":179", ")"]  # fmt: skip


def parse_ss_received(text: str) -> dict[str, int]:
    """`ss -tinH state established '( sport = :179 or dport = :179 )'`: bytes received so far
    on each BGP connection, by the neighbour's address (the larger, should two connections to
    one neighbour be open for a moment). Socket lines carry the addresses, the indented line
    after each its TCP info (no `bytes_received` before the first byte)."""
    received: dict[str, int] = {}
    peer = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            fields = line.split()
            address = fields[-1].rpartition(":")[0].strip("[]") if len(fields) >= 4 else ""
            try:
                peer = str(ip_address(address.partition("%")[0]))
            except ValueError:
                peer = None
            if peer is not None:
                received[peer] = max(received.get(peer, 0), 0)
            continue
        match = re.search(r"\bbytes_received:(\d+)", line)
        if peer is not None and match:
            received[peer] = max(received[peer], int(match.group(1)))
    return received
