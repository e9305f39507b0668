"""IRR data (RPSL) -> prefix filters, the way bgpq4 builds them from an as-set.

Reads an RPSL file (objects separated by blank lines, `key: value` attributes, continuation
lines starting with a space, tab or `+`, `#` comments), expands an `as-set:` recursively into
origin ASes, collects the `route:` (IPv4) or `route6:` (IPv6) objects whose `origin:` is one of
them, and prints a BIRD prefix set or FRR prefix-list. `manrs-lab irr FILE --as-set AS-X`.

Like bgpq4, a prefix set says which prefixes a neighbour may announce, not which AS may
originate each one: origin validation is RPKI's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from manrs_lab.errors import LabError

ASN_RE = re.compile(r"^AS(\d+)$", re.IGNORECASE)
# RPSL set names: an optional hierarchy (AS64500:AS-FOO), the set part starting with AS-.
AS_SET_RE = re.compile(r"^(?:AS\d+:)*AS-[A-Z0-9_-]+(?::AS-[A-Z0-9_-]+)*$", re.IGNORECASE)
FORMATS = ("bird", "frr")
MAX_ASN = 2**32 - 1

Network = IPv4Network | IPv6Network


class IrrError(LabError):
    """The IRR file or the request cannot be turned into a filter."""


@dataclass(frozen=True)
class RpslObject:
    kind: str  # the class: the first attribute's key (route, route6, as-set, aut-num, ...)
    key: str  # the first attribute's value
    attrs: tuple[tuple[str, str], ...]
    line: int  # where the object starts, for messages

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.attrs if k == name]


@dataclass
class IrrDatabase:
    as_sets: dict[str, list[str]] = field(default_factory=dict)  # upper-case name -> members
    routes: dict[int, set[Network]] = field(default_factory=dict)  # origin AS -> prefixes

    def expand(self, name: str) -> set[int]:
        """The origin ASes of an as-set, nested sets included (cycles are harmless)."""
        asns: set[int] = set()
        seen: set[str] = set()
        missing: list[str] = []
        stack = [name.upper()]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if current not in self.as_sets:
                missing.append(current)
                continue
            for member in self.as_sets[current]:
                asn = ASN_RE.match(member)
                if asn and int(asn.group(1)) > MAX_ASN:
                    raise IrrError(f"{current}: member {member} is not an AS number (0 to 2^32-1)")
                if asn:
                    asns.add(int(asn.group(1)))
                elif AS_SET_RE.match(member):
                    stack.append(member.upper())
                else:
                    raise IrrError(f"{current}: member {member!r} is neither an AS nor an as-set")
        if name.upper() in missing:
            known = ", ".join(sorted(self.as_sets)) or "none"
            raise IrrError(f"no as-set {name} in the IRR file (as-sets: {known})")
        if missing:
            # bgpq4 warns and goes on when a nested set is unknown; so do we, loudly.
            raise IrrError(f"{name} names as-sets that are not in the file: {', '.join(missing)}")
        return asns

    def prefixes(self, asns: Iterable[int], version: int = 4) -> list[Network]:
        nets = {n for a in asns for n in self.routes.get(a, set()) if n.version == version}
        return sorted(nets, key=lambda n: (int(n.network_address), n.prefixlen))


def parse_objects(text: str) -> list[RpslObject]:
    """Split RPSL text into objects; keys are lower-cased, values stripped of comments."""
    objects: list[RpslObject] = []
    attrs: list[tuple[str, str]] = []
    start = 0

    def flush() -> None:
        if attrs:
            objects.append(RpslObject(attrs[0][0], attrs[0][1], tuple(attrs), start))
        attrs.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            flush()
            continue
        if raw.startswith(("#", "%")):
            continue
        line = raw.split("#", 1)[0].rstrip()
        if raw[0] in " \t+":
            if not attrs:
                raise IrrError(f"line {number}: continuation line outside an object")
            key, value = attrs[-1]
            more = line[1:].strip() if raw[0] == "+" else line.strip()
            attrs[-1] = (key, f"{value} {more}".strip())
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or " " in key.strip():
            raise IrrError(f"line {number}: expected 'attribute: value', got {raw.strip()!r}")
        if not attrs:
            start = number
        attrs.append((key.strip().lower(), value.strip()))
    flush()
    return objects


def load(text: str) -> IrrDatabase:
    db = IrrDatabase()
    for obj in parse_objects(text):
        if obj.kind == "as-set":
            # RPSL lists are comma separated; be lenient with lists split by blanks only.
            members = [
                m for value in obj.values("members") for m in re.split(r"[,\s]+", value) if m
            ]
            db.as_sets.setdefault(obj.key.upper(), []).extend(members)
        elif obj.kind in ("route", "route6"):
            origins = obj.values("origin")
            origin = ASN_RE.match(origins[0]) if len(origins) == 1 else None
            if origin is None or int(origin.group(1)) > MAX_ASN:
                raise IrrError(f"line {obj.line}: {obj.kind} {obj.key} needs one 'origin: ASn'")
            try:
                net = ip_network(obj.key, strict=True)
            except ValueError as exc:
                raise IrrError(f"line {obj.line}: {obj.kind} {obj.key}: {exc}") from exc
            if (net.version == 6) != (obj.kind == "route6"):
                raise IrrError(f"line {obj.line}: {obj.key} in a {obj.kind} object")
            db.routes.setdefault(int(origin.group(1)), set()).add(net)
    return db


def set_name(as_set: str) -> str:
    """A filter name from an as-set name, as BIRD and FRR accept it: AS-FOO -> AS_FOO."""
    return re.sub(r"[^A-Za-z0-9_]", "_", as_set.rsplit(":", maxsplit=1)[-1]).upper()


def render(
    nets: list[Network],
    name: str,
    fmt: str = "bird",
    max_length: int | None = None,
) -> str:
    """bgpq4-style output: a BIRD `define NAME = [...]` or an FRR prefix-list.

    `max_length` (bgpq4 -R): also allow more-specifics of each prefix down to that length.
    """
    if fmt not in FORMATS:
        raise IrrError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")

    def upper(net: Network) -> int | None:
        if max_length is None or max_length <= net.prefixlen:
            return None
        return min(max_length, net.max_prefixlen)

    if fmt == "bird":
        items = []
        for net in nets:
            top = upper(net)
            items.append(f"{net}{{{net.prefixlen},{top}}}" if top else str(net))
        body = ",\n".join(f"    {item}" for item in items)
        return f"define {name} = [\n{body}\n];\n"
    family = "ipv6" if nets and nets[0].version == 6 else "ip"
    lines = [f"no {family} prefix-list {name}"]
    for net in nets:
        top = upper(net)
        lines.append(f"{family} prefix-list {name} permit {net}" + (f" le {top}" if top else ""))
    return "\n".join(lines) + "\n"


def build_filter(
    path: Path,
    as_set: str,
    *,
    fmt: str = "bird",
    name: str | None = None,
    version: int = 4,
    max_length: int | None = None,
) -> str:
    """The filter for `as_set` from the RPSL file at `path` (what `manrs-lab irr` prints)."""
    if max_length is not None and not 0 <= max_length <= (32 if version == 4 else 128):
        family = "IPv4" if version == 4 else "IPv6"
        top = 32 if version == 4 else 128
        raise IrrError(f"--max-length {max_length}: an {family} prefix is /0 to /{top}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IrrError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IrrError(f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8") from None
    try:
        db = load(text)
    except IrrError as exc:
        raise IrrError(f"{path}: {exc}") from None
    asns = db.expand(as_set)
    nets = db.prefixes(asns, version)
    if not nets:
        kind = "route6" if version == 6 else "route"
        members = ", ".join(f"AS{a}" for a in sorted(asns))
        raise IrrError(f"{as_set} ({members}): no {kind} objects registered for these ASes")
    header = (
        f"# {as_set}: AS{', AS'.join(str(a) for a in sorted(asns))} -> {len(nets)} prefixes"
        if fmt == "bird"
        else f"! {as_set}: AS{', AS'.join(str(a) for a in sorted(asns))} -> {len(nets)} prefixes"
    )
    return header + "\n" + render(nets, name or set_name(as_set), fmt, max_length)
