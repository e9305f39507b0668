"""Special-purpose address space and AS numbers: the one table every lab, check and probe uses.

Taken from IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and successors),
the special-purpose AS number registry (RFC 6996, RFC 7300, RFC 5398, RFC 6793) and the bogon
lists operators filter with. Probes draw from the *whole* table at check time (one prefix from
every range, lengths drawn inside it), so a filter that lists only the ranges a guide names
fails; checks explain a verdict from it.

The lab's own Internet is special-purpose space too (198.18.0.0/15 benchmarking,
2001:db8::/32 documentation, the documentation ASNs): those rows are kept here, marked
`lab_internet`, so that a bogon probe never draws them and the guides can say why a real-world
bogon list must leave them out in the lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_network


@cache
def _parsed(prefix: str) -> IPv4Network | IPv6Network:
    """Parsed once: the table is read for every spoofed source and every bogon probe drawn."""
    return ip_network(prefix)


@dataclass(frozen=True)
class SpecialRange:
    prefix: str
    name: str
    rfc: str
    lab_internet: bool = False  # the lab's own "public" space: never a bogon probe
    # BGP speakers discard these on receipt whatever the filters say (RFC 4271 6.3: FRR logs
    # "NLRI is multicast/link-local address, ignoring"): a probe of them would prove nothing.
    bgp_discards: bool = False

    @property
    def network(self) -> IPv4Network | IPv6Network:
        return _parsed(self.prefix)

    def describe(self) -> str:
        return f"{self.name} ({self.rfc}), inside {self.prefix}"


SPECIAL_RANGES: tuple[SpecialRange, ...] = (
    # IPv4 (IANA IPv4 Special-Purpose Address Registry; not globally routable, plus multicast)
    SpecialRange("0.0.0.0/8", "'this network'", "RFC 791"),
    SpecialRange("10.0.0.0/8", "private", "RFC 1918"),
    SpecialRange("100.64.0.0/10", "shared address space (CGNAT)", "RFC 6598"),
    SpecialRange("127.0.0.0/8", "loopback", "RFC 1122"),
    SpecialRange("169.254.0.0/16", "link-local", "RFC 3927"),
    SpecialRange("172.16.0.0/12", "private", "RFC 1918"),
    SpecialRange("192.0.0.0/24", "IETF protocol assignments", "RFC 6890"),
    SpecialRange("192.0.2.0/24", "documentation TEST-NET-1", "RFC 5737"),
    SpecialRange("192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526"),
    SpecialRange("192.168.0.0/16", "private", "RFC 1918"),
    SpecialRange("198.18.0.0/15", "benchmarking", "RFC 2544", lab_internet=True),
    SpecialRange("198.51.100.0/24", "documentation TEST-NET-2", "RFC 5737"),
    SpecialRange("203.0.113.0/24", "documentation TEST-NET-3", "RFC 5737"),
    SpecialRange("224.0.0.0/4", "multicast", "RFC 5771", bgp_discards=True),
    SpecialRange("240.0.0.0/4", "reserved (class E) and limited broadcast", "RFC 1112"),
    # IPv6 (IANA IPv6 Special-Purpose Address Registry, and the usual IPv6 bogon list)
    SpecialRange("::/8", "loopback, unspecified, IPv4-mapped and -compatible", "RFC 4291"),
    SpecialRange("64:ff9b:1::/48", "local-use IPv4/IPv6 translation", "RFC 8215"),
    SpecialRange("100::/64", "discard-only", "RFC 6666"),
    SpecialRange("2001::/32", "TEREDO", "RFC 4380"),
    SpecialRange("2001:2::/48", "benchmarking", "RFC 5180"),
    SpecialRange("2001:10::/28", "ORCHID (deprecated)", "RFC 4843"),
    SpecialRange("2001:20::/28", "ORCHIDv2", "RFC 7343"),
    SpecialRange("2001:db8::/32", "documentation", "RFC 3849", lab_internet=True),
    SpecialRange("2002::/16", "6to4", "RFC 7526"),
    SpecialRange("3ffe::/16", "old 6bone", "RFC 3701"),
    SpecialRange("5f00::/16", "segment routing (SRv6) SIDs", "RFC 9602"),
    SpecialRange("fc00::/7", "unique local", "RFC 4193"),
    SpecialRange("fe80::/10", "link-local unicast", "RFC 4291", bgp_discards=True),
    SpecialRange("fec0::/10", "old site-local", "RFC 3879"),
    SpecialRange("ff00::/8", "multicast", "RFC 4291", bgp_discards=True),
)


@dataclass(frozen=True)
class AsnRange:
    first: int
    last: int
    name: str
    rfc: str
    kind: str  # "private" | "reserved" | "documentation"
    bgp_discards: bool = False  # RFC 7607: a path with AS 0 is malformed, whatever the filters

    def __contains__(self, asn: object) -> bool:
        return isinstance(asn, int) and self.first <= asn <= self.last


SPECIAL_ASNS: tuple[AsnRange, ...] = (
    AsnRange(0, 0, "AS 0", "RFC 7607", "reserved", bgp_discards=True),
    AsnRange(23456, 23456, "AS_TRANS", "RFC 6793", "reserved"),
    AsnRange(64496, 64511, "documentation (16-bit)", "RFC 5398", "documentation"),
    AsnRange(64512, 65534, "private use (16-bit)", "RFC 6996", "private"),
    AsnRange(65535, 65535, "last 16-bit ASN", "RFC 7300", "reserved"),
    AsnRange(65536, 65551, "documentation (32-bit)", "RFC 5398", "documentation"),
    AsnRange(65552, 131071, "IANA reserved", "RFC 6996", "reserved"),
    AsnRange(4200000000, 4294967294, "private use (32-bit)", "RFC 6996", "private"),
    AsnRange(4294967295, 4294967295, "last 32-bit ASN", "RFC 7300", "reserved"),
)


def bogon_ranges(version: int | None = None) -> tuple[SpecialRange, ...]:
    """Every range a bogon filter must drop (the lab's Internet left out), of one family."""
    return tuple(
        r
        for r in SPECIAL_RANGES
        if not r.lab_internet and (version is None or r.network.version == version)
    )


@cache
def _networks() -> tuple[tuple[SpecialRange, IPv4Network | IPv6Network], ...]:
    return tuple((r, r.network) for r in SPECIAL_RANGES)


def bogon_of(prefix: str) -> SpecialRange | None:
    """The bogon range `prefix` lies in, if any (the lab's Internet is not a bogon)."""
    net = ip_network(prefix)
    for r, space in _networks():
        if r.lab_internet or space.version != net.version:
            continue
        if net.subnet_of(space):  # type: ignore[arg-type]
            return r
    return None


def asn_ranges(kind: str) -> tuple[AsnRange, ...]:
    """The ranges of one kind a probe can carry (not those BGP itself discards)."""
    found = tuple(r for r in SPECIAL_ASNS if r.kind == kind and not r.bgp_discards)
    if not found:
        raise ValueError(f"no AS number range of kind {kind!r}")
    return found


def special_asn(asn: int) -> AsnRange | None:
    """The private, reserved or documentation range of `asn`, if any."""
    return next((r for r in SPECIAL_ASNS if asn in r), None)
