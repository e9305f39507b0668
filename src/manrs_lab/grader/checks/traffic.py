"""Traffic checks (anti-spoofing, MANRS Action 2): packets sent from hosts, counted where they land.

A sending host emits packets with chosen source addresses (a raw socket, so any source, IPv4
or IPv6), UDP, TCP SYNs and ICMP echo requests in turn (a filter of one protocol does not
pass); each receiving host counts arrivals per source and protocol with a packet socket
(drivers/packet_tap.py; nftables counters where the node is a container). "Spoofed packets
do not arrive" is measured against a control: the sender's own packets, sent right after the
spoofed ones on the same path, so once they have arrived the spoofed ones would have too (no
fixed sleep).

Sources are drawn at check time from the check's seed (`ctx.seed`, derived from the report's:
`--seed` replays the same addresses), from the whole space the rule covers, so no filter that
names addresses can pass:
- spoofed: addresses in other networks' prefixes (`sources_in`), one in every bogon range of
  the special-purpose table (`bogons`, manrs_lab.special_purpose), addresses just below and just
  above each prefix the sender holds (`adjacent`), and random addresses anywhere outside it
  (`anywhere`);
- legitimate: the sender's own address and one address in every slice of each prefix it holds
  (`across`), so an allow-list covering part of a customer's space fails.
Drawn addresses are never one a lab node uses (docs/addressing.md: routers .1, hosts .10, link
ends .1/.2 of a /30, IPv6 ::1, ::2, ::10): a packet whose source is an address of the router
or host receiving it is dropped as a martian whatever the learner did. Sources the Linux
kernel drops on its own (loopback, 0.0.0.0/8, multicast) are never drawn either: such a probe
would prove nothing.

Probes that change routes (a more-specific or a default route accepted by mistake) change
what uRPF lets through: labs order route probes after these checks (`after:`), so the draws
here cover the whole space and ignore other checks' probe prefixes.

Each check counts packets to a port of its own (an echo request's identifier), so checks that
send to the same host run at the same time; counting is where a frame arrives, before the
receiver's own filters and routing decision (a container's: a chain of the check's own at the
prerouting hook).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_interface,
    ip_network,
)
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from manrs_lab.drivers.host import COUNT_TABLE
from manrs_lab.drivers.packet_tap import ArrivalTap
from manrs_lab.drivers.spoof_sender import PROTOCOLS
from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.special_purpose import bogon_ranges

DELIVERY_TIMEOUT = 1.5  # seconds for legitimate packets to cross the lab (they take ms)
CONTROL_TIMEOUT = 0.5  # when the control packets do not arrive, everything is being dropped
SETTLE = 0.05  # after the control packets arrived, for anything still in flight
POLL = 0.02  # between reads of nft counters (a container's receivers)
BURST = 0.005  # once a packet arrived: the rest of its burst, read together
MAX_TRIES = 1000
MAX_SHOWN = 8  # sources named in a message, per receiver

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Last octets of the lab's own IPv4 addresses (routers .1, hosts .10, /30 link ends .1/.2) and
# of network and broadcast addresses: never drawn. IPv6: interface identifiers below 2**16.
LAB_OWN_LAST_OCTETS = frozenset({0, 1, 2, 3, 10, 255})
V6_SMALL_IID = 2**16
# Sources the kernel drops as martians before any filter ("this network", loopback, multicast;
# IPv6 loopback, unspecified, IPv4-mapped and -compatible, link-local is never forwarded):
# probing them proves nothing.
KERNEL_DROPS: tuple[Network, ...] = (
    ip_network("0.0.0.0/8"),
    ip_network("127.0.0.0/8"),
    ip_network("224.0.0.0/4"),
    ip_network("::/96"),
    ip_network("::ffff:0:0/96"),
    ip_network("fe80::/10"),
    ip_network("ff00::/8"),
)
# "Anywhere": the unicast space of each family.
ANYWHERE: dict[int, tuple[int, int]] = {
    4: (int(IPv4Address("1.0.0.0")), int(IPv4Address("223.255.255.255"))),
    6: (int(IPv6Address("2000::")), int(IPv6Address("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))),
}
FIRST_PORT, LAST_PORT = 34000, 59999


# -- drawing sources -----------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    address: str
    where: str  # what the address is, for messages: "in 198.18.2.0/24", "private (RFC 1918)..."
    proto: str = "udp"  # what is sent from it: udp, tcp (SYN) or icmp (echo request)

    def text(self) -> str:
        return f"{self.address} ({self.where}; {self.proto.upper()})"


def with_protocols(sources: list[Source], rng: random.Random) -> list[Source]:
    """Each source gets a protocol, in turn from a drawn start: every protocol is sent from
    about a third of the sources, whatever their kind."""
    start = rng.randrange(len(PROTOCOLS))
    return [
        Source(s.address, s.where, PROTOCOLS[(start + i) % len(PROTOCOLS)])
        for i, s in enumerate(sources)
    ]


def lab_safe(addr: Address) -> bool:
    """Not an address a lab node could use, and not one the kernel drops on its own."""
    if any(addr in net for net in KERNEL_DROPS if net.version == addr.version):
        return False
    if addr.version == 4:
        return addr.packed[-1] not in LAB_OWN_LAST_OCTETS
    return int(addr) % 2**64 >= V6_SMALL_IID


def draw_in(
    rng: random.Random, net: Network, clear: list[Network], taken: set[Address] | None = None
) -> Address | None:
    """A random lab-safe address in `net` outside every `clear` network and not in `taken`
    (which gets it); None if there is none (e.g. `net` lies inside one of them)."""
    if any(net.subnet_of(c) for c in clear if c.version == net.version):  # type: ignore[arg-type]
        return None
    for _ in range(MAX_TRIES):
        addr = net.network_address + rng.randrange(net.num_addresses)
        if taken is not None and addr in taken:
            continue
        if lab_safe(addr) and not any(addr in c for c in clear if c.version == addr.version):
            if taken is not None:
                taken.add(addr)
            return addr
    return None


def _must(addr: Address | None, what: str) -> Address:
    if addr is None:
        raise ValueError(f"no address to draw {what}")
    return addr


def spread(rng: random.Random, net: Network, slices: int) -> list[Address]:
    """One address in each of `slices` equal parts of `net` (its first and last parts
    included): a filter that leaves any part out drops one of them."""
    bits = min(math.ceil(math.log2(slices)), net.max_prefixlen - net.prefixlen)
    return [
        _must(draw_in(rng, part, []), f"in {part}") for part in net.subnets(prefixlen_diff=bits)
    ]


def adjacent(
    rng: random.Random, net: Network, clear: list[Network], taken: set[Address]
) -> list[tuple[Address, str]]:
    """An address just below and one just above `net` (in the block an eighth of its size on
    each side), where that is outside `clear`: over-broad allow-lists let them through."""
    length = min(net.prefixlen + 3, net.max_prefixlen)
    size = 2 ** (net.max_prefixlen - length)
    start, end = int(net.network_address), int(net.broadcast_address)
    top = 2**net.max_prefixlen
    found = []
    for base, where in ((start - size, "just below"), (end + 1, "just above")):
        if base < 0 or base + size > top:
            continue
        block = ip_network((base, length))
        addr = draw_in(rng, block, clear, taken)
        if addr is not None:
            found.append((addr, f"{where} {net}"))
    return found


def anywhere(
    rng: random.Random, version: int, clear: list[Network], taken: set[Address]
) -> Address:
    """A random unicast address of the family outside `clear`."""
    lo, hi = ANYWHERE[version]
    for _ in range(MAX_TRIES):
        addr = ip_address(rng.randint(lo, hi))
        if addr in taken:
            continue
        if lab_safe(addr) and not any(addr in c for c in clear if c.version == version):
            taken.add(addr)
            return addr
    raise ValueError("no address to draw anywhere")


def bogon_sources(
    rng: random.Random, version: int, clear: list[Network], taken: set[Address]
) -> list[tuple[Address, str]]:
    """One address in every bogon range of the family (the special-purpose table), except the
    ranges the kernel or BGP itself refuses (loopback, multicast, link-local)."""
    found = []
    for r in bogon_ranges(version):
        if r.bgp_discards or any(
            r.network.subnet_of(k)  # type: ignore[arg-type]
            for k in KERNEL_DROPS
            if k.version == version
        ):
            continue
        addr = draw_in(rng, r.network, clear, taken)
        if addr is not None:
            found.append((addr, r.describe()))
    return found


def draw_spoofed(seed: int, params: SpoofedParams) -> list[Source]:
    """The check's spoofed sources, reproducibly from `seed`, all distinct, none inside the
    sender's own space (`outside_of`)."""
    rng = random.Random(seed)
    clear = [ip_network(n) for n in params.outside_of]
    version = params.version()
    taken: set[Address] = set()
    drawn: list[tuple[Address, str]] = []
    for text in params.sources_in:
        net = ip_network(text)
        for _ in range(params.per_network):
            drawn.append((_must(draw_in(rng, net, clear, taken), f"in {net}"), f"in {net}"))
    if params.adjacent:
        for net in clear:
            drawn += adjacent(rng, net, clear, taken)
    if params.bogons:
        drawn += bogon_sources(rng, version, clear, taken)
    owner = ", ".join(params.outside_of)
    for _ in range(params.anywhere):
        drawn.append((anywhere(rng, version, clear, taken), f"a random address outside {owner}"))
    return with_protocols([Source(str(addr), where) for addr, where in drawn], rng)


def draw_legitimate(seed: int, params: DeliveredParams) -> list[Source]:
    """Addresses across every prefix the sender holds, `slices` per prefix."""
    rng = random.Random(seed)
    sources = []
    for text in params.across:
        net = ip_network(text)
        sources += [Source(str(a), f"in {net}") for a in spread(rng, net, params.slices)]
    return with_protocols(sources, rng)


# -- counting at the receivers -------------------------------------------------------------
_ports = itertools.cycle(range(FIRST_PORT, LAST_PORT + 1))
_ports_guard = threading.Lock()
_tables_guard = threading.Lock()
_table_locks: dict[tuple[str, str], threading.Lock] = {}
_table_users: dict[tuple[str, str], int] = {}


def _next_port() -> int:
    """A UDP port no other running check uses: its packets are counted by its own rules."""
    with _ports_guard:
        return next(_ports)


def _table_lock(key: tuple[str, str]) -> threading.Lock:
    with _tables_guard:
        return _table_locks.setdefault(key, threading.Lock())


def count_rule(source: Source, port: int) -> str:
    """The nftables match for this check's packets from `source`: its protocol to `port` (an
    echo request with `port` as its identifier)."""
    v6 = ip_address(source.address).version == 6
    family = "ip6" if v6 else "ip"
    what = {
        "udp": f"udp dport {port}",
        "tcp": f"tcp dport {port}",
        "icmp": f"icmpv6 type echo-request icmpv6 id {port}"
        if v6
        else f"icmp type echo-request icmp id {port}",
    }[source.proto]
    return f"{family} saddr {source.address} {what}"


def _start_counting(
    ctx: CheckContext, receiver: str, chain: str, sources: list[Source], port: int
) -> None:
    """A chain of this check's in the receiver's counting table (created by the first user):
    one counter per source, for this check's packets, before any routing decision (the
    prerouting hook) so the receiver's own filters cannot hide an arrival."""
    rules = "".join(
        f"add rule inet {COUNT_TABLE} {chain} {count_rule(s, port)} counter\n" for s in sources
    )
    script = (
        f"table inet {COUNT_TABLE} {{\n  chain {chain} {{\n"
        "    type filter hook prerouting priority -300;\n  }\n}\n"
        f"flush chain inet {COUNT_TABLE} {chain}\n{rules}"
    )
    key = (ctx.running.instance.name, receiver)
    with _table_lock(key):
        ctx.running.handle(receiver).nft(script)
        _table_users[key] = _table_users.get(key, 0) + 1


def _stop_counting(ctx: CheckContext, receiver: str, chain: str) -> None:
    key = (ctx.running.instance.name, receiver)
    with _table_lock(key):
        _table_users[key] = _table_users.get(key, 1) - 1
        handle = ctx.running.handle(receiver)
        if _table_users[key] <= 0:
            _table_users.pop(key, None)
            handle.nft(f"delete table inet {COUNT_TABLE}", check=False)
        else:
            handle.nft(f"delete chain inet {COUNT_TABLE} {chain}", check=False)


@lru_cache(maxsize=4096)
def _address(text: str | int) -> str:
    """One spelling per address: the counters are read some sixty times a check, for the
    same few dozen sources."""
    return str(ip_address(text))


_COUNTED = re.compile(r"\bsaddr (\S+) .*\bcounter packets (\d+)\b")


def parse_counts_text(text: str) -> dict[str, int]:
    """`nft list chain ...` (text): packets per source address of the counting rules, which
    `count_rule` wrote (`ip6 saddr 2001:db8::9 udp dport 33001 counter packets 3 bytes 135`).
    Half the cost of the JSON listing in libnftables, and no JSON to decode: the counters are
    read some sixty times a check."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        found = _COUNTED.search(line)
        if found is not None:
            counts[_address(found.group(1))] = int(found.group(2))
    return counts


def _counted(ctx: CheckContext, receiver: str, chain: str) -> dict[str, int]:
    out = ctx.running.handle(receiver).nft(f"list chain inet {COUNT_TABLE} {chain}")
    return parse_counts_text(out)


def host_address(ctx: CheckContext, host: str, version: int) -> str:
    """The host's global address of the family on its LAN."""
    for text in ctx.running.host_addresses(host):
        iface = ip_interface(text)
        if iface.version == version and not iface.ip.is_link_local:
            return str(iface.ip)
    raise CheckFailed(f"{host} has no IPv{version} address: is the lab up?")


@dataclass
class Arrivals:
    counts: dict[str, dict[str, int]]  # receiver -> source -> packets
    unfinished: set[str]  # receivers where the marker (control, or every source) did not arrive


def exchange(
    ctx: CheckContext,
    params: PacketParams,
    sources: list[Source],
    *,
    control: Source | None,
    timeout: float,
) -> Arrivals:
    """Send `params.count` packets from each source (then from `control`) to every receiver
    and count them there. Waits until the control (or, without one, every source) arrived at
    every receiver, or `timeout`."""
    version = params.version()
    tx = ctx.running.host(params.sender)
    dests = {r: host_address(ctx, r, version) for r in params.receivers}
    sent = [*sources, control] if control else list(sources)
    markers = [control] if control else sources
    port = _next_port()
    with _counting(ctx, params.receivers, sent, port) as counters:
        addresses = [s.address for s in sent]
        protos = [s.proto for s in sent]
        for receiver in params.receivers:
            tx.send_packets(dests[receiver], addresses, params.count, port, protos)
        pending = set(params.receivers)
        deadline = time.monotonic() + timeout
        while pending:
            for receiver in sorted(pending):
                got = counters[receiver].counts()
                if all(got.get(m.address, 0) >= params.count for m in markers):
                    pending.discard(receiver)
            if not pending or time.monotonic() > deadline:
                break
            _await_packets([counters[r] for r in pending], deadline)
        counts = {r: counters[r].counts() for r in params.receivers}
        if control:
            finished = [r for r in params.receivers if r not in pending]
            if finished:
                time.sleep(SETTLE)
                for receiver in finished:
                    counts[receiver] = counters[receiver].counts()
    return Arrivals(counts, pending)


class _Counter(Protocol):
    def counts(self) -> dict[str, int]: ...


class _TapCounter:
    """A packet socket in the receiver's namespace (`packet_tap`): what arrived, read in this
    thread, and waited for without polling."""

    def __init__(self, tap: ArrivalTap, sent: list[Source]) -> None:
        self.tap = tap
        self._wanted = {(_address(s.address), s.proto) for s in sent}

    def counts(self) -> dict[str, int]:
        self.tap.drain()
        got: dict[str, int] = {}
        for (address, proto), n in self.tap.counts.items():
            if (address, proto) in self._wanted:
                got[address] = got.get(address, 0) + n
        return got


class _NftCounter:
    """A chain of this check's in the receiver's counting table, read with `nft` (a node this
    process cannot enter: a container)."""

    def __init__(self, ctx: CheckContext, receiver: str, chain: str) -> None:
        self.ctx, self.receiver, self.chain = ctx, receiver, chain

    def counts(self) -> dict[str, int]:
        return _counted(self.ctx, self.receiver, self.chain)


@contextmanager
def _counting(
    ctx: CheckContext, receivers: list[str], sent: list[Source], port: int
) -> Iterator[dict[str, _Counter]]:
    """A counter per receiver, ready before the first packet is sent; removed afterwards."""
    chain = f"c{port}"
    taps: list[ArrivalTap] = []
    started: list[str] = []
    counters: dict[str, _Counter] = {}
    try:
        for receiver in receivers:
            netns = ctx.running.handle(receiver).netns_path
            if netns is not None:
                tap = ArrivalTap.open(netns, port, receiver)
                taps.append(tap)
                counters[receiver] = _TapCounter(tap, sent)
            else:
                _start_counting(ctx, receiver, chain, sent, port)
                started.append(receiver)
                counters[receiver] = _NftCounter(ctx, receiver, chain)
        yield counters
    finally:
        for tap in taps:
            tap.close()
        for receiver in started:
            _stop_counting(ctx, receiver, chain)


def _await_packets(counters: list[_Counter], deadline: float) -> None:
    """Until a packet arrives at one of the tapped receivers (then a moment more, so its burst
    is read at once) or the deadline; with a receiver counted by nft, POLL."""
    taps = [c.tap for c in counters if isinstance(c, _TapCounter)]
    left = max(0.0, deadline - time.monotonic())
    if taps and len(taps) == len(counters):
        readable, _, _ = select.select(taps, [], [], left)
        if readable:
            time.sleep(BURST)
    else:
        time.sleep(min(POLL, left))


# -- messages --------------------------------------------------------------------------------
def _entry(ctx: CheckContext, sender: str) -> str:
    """Where the sender's packets enter the learner's router: 'edge's eth1 (from cust1)'."""
    topo = ctx.running.lab.topology
    gateways = {remote.node for _, remote in topo.links_of(sender)}
    for local, remote in topo.links_of(ctx.learner):
        if remote.node in gateways or remote.node == sender:
            return f"{ctx.learner}'s {local.iface} (from {remote.node})"
    return ctx.learner


def _route_back(ctx: CheckContext, source: str) -> str:
    """How the learner's router would route back to `source` (what uRPF compares with)."""
    _, dev = kernel_route(ctx, ctx.learner, source)
    if dev is None:
        return f"{ctx.learner} has no route back to {source}"
    return f"{ctx.learner}'s route back to {source} leaves through {dev}"


def _listed(items: list[str]) -> str:
    if len(items) <= MAX_SHOWN:
        return "; ".join(items)
    return "; ".join(items[:MAX_SHOWN]) + f"; and {len(items) - MAX_SHOWN} more"


# -- parameters ------------------------------------------------------------------------------
def _nets(value: list[str]) -> list[str]:
    return [str(ip_network(v, strict=True)) for v in value]


class PacketParams(Params):
    sender: str = Field(description="host that sends the packets")
    receivers: list[str] = Field(
        min_length=1,
        description="hosts that count what arrives; each gets the packets at its own address "
        "of the family (every direction the rule applies to)",
    )
    family: Literal["ipv4", "ipv6"] = Field(default="ipv4", description="of every packet sent")
    count: int = Field(default=3, ge=1, le=50, description="packets per source and receiver")

    @model_validator(mode="after")
    def _different(self) -> PacketParams:
        if self.sender in self.receivers:
            raise ValueError("the sender is not one of the receivers")
        if len(set(self.receivers)) != len(self.receivers):
            raise ValueError("receivers: each host once")
        return self

    def version(self) -> int:
        return 6 if self.family == "ipv6" else 4

    def _same_family(self, nets: list[str], field: str) -> None:
        for n in nets:
            if ip_network(n).version != self.version():
                raise ValueError(f"{field}: {n} is not {self.family}")


class DeliveredParams(PacketParams):
    across: list[str] = Field(
        default_factory=list,
        description="prefixes the sender holds: legitimate sources are drawn across each of "
        "them (besides the sender's own address)",
    )
    slices: int = Field(
        default=8, ge=1, le=64, description="addresses per prefix, one in each equal part"
    )

    _across = field_validator("across")(_nets)

    @model_validator(mode="after")
    def _family(self) -> DeliveredParams:
        self._same_family(self.across, "across")
        return self


class SpoofedParams(PacketParams):
    sources_in: list[str] = Field(
        default_factory=list,
        description="other networks' prefixes: `per_network` spoofed sources drawn in each",
    )
    per_network: int = Field(default=1, ge=1, le=16)
    outside_of: list[str] = Field(
        default_factory=list,
        description="the sender's own prefixes: never drawn (legitimate sources)",
    )
    adjacent: bool = Field(
        default=False, description="sources just below and just above each `outside_of` prefix"
    )
    bogons: bool = Field(default=False, description="a source in every bogon range of the family")
    anywhere: int = Field(
        default=0, ge=0, le=32, description="random sources anywhere outside `outside_of`"
    )
    rule: str = Field(
        default="", description="what the sender may send from, in words, for messages"
    )

    _sources_in = field_validator("sources_in", "outside_of")(_nets)

    @model_validator(mode="after")
    def _drawable(self) -> SpoofedParams:
        self._same_family(self.sources_in, "sources_in")
        self._same_family(self.outside_of, "outside_of")
        if not (self.sources_in or self.bogons or self.anywhere or self.adjacent):
            raise ValueError("no spoofed sources: give sources_in, bogons, adjacent or anywhere")
        if (self.adjacent or self.anywhere) and not self.outside_of:
            raise ValueError("adjacent and anywhere are relative to outside_of")
        own = [ip_network(n) for n in self.outside_of]
        for text in self.sources_in:
            net = ip_network(text)
            if any(net.subnet_of(o) for o in own):  # type: ignore[arg-type]
                raise ValueError(f"sources_in: {net} is inside the sender's own outside_of")
        return self


# -- checks ----------------------------------------------------------------------------------
@check("packets_delivered", DeliveredParams)
def packets_delivered(ctx: CheckContext, params: DeliveredParams) -> str:
    """Every packet the sender sends from a legitimate source (its own address, and addresses
    across every prefix it holds) reaches every receiver."""
    own = host_address(ctx, params.sender, params.version())
    sources = [Source(own, "its own address")] + [
        s for s in draw_legitimate(ctx.seed, params) if s.address != own
    ]
    addresses = [s.address for s in sources]
    arrivals = exchange(ctx, params, sources, control=None, timeout=DELIVERY_TIMEOUT)
    shorts = {
        r: [s for s in sources if arrivals.counts.get(r, {}).get(s.address, 0) < params.count]
        for r in params.receivers
    }
    if any(shorts.values()):
        # A filter drops a flow round after round; a round can also meet neighbour discovery
        # overrun on a machine where dozens of checks run at once. The sources that fell short
        # go once more, to the receivers that missed them: whatever falls short again is lost.
        again = sorted({s for short in shorts.values() for s in short}, key=sources.index)
        missed = [r for r in params.receivers if shorts[r]]
        retry = exchange(
            ctx,
            params.model_copy(update={"receivers": missed}),
            again,
            control=None,
            timeout=DELIVERY_TIMEOUT,
        )
        for r in missed:
            got = retry.counts.get(r, {})
            shorts[r] = [s for s in shorts[r] if got.get(s.address, 0) < params.count]
    lost = []
    first_lost: str | None = None
    for receiver in params.receivers:
        short = shorts[receiver]
        if short:
            first_lost = first_lost or short[0].address
            lost.append(
                f"{receiver} received "
                + _listed(
                    [
                        f"{arrivals.counts.get(receiver, {}).get(s.address, 0)} of "
                        f"{params.count} from {s.text()}"
                        for s in short
                    ]
                )
            )
    if lost:
        assert first_lost is not None
        raise CheckFailed(
            f"{params.sender} sent packets from its legitimate addresses and "
            + "; ".join(lost)
            + f": legitimate traffic is dropped. It enters at {_entry(ctx, params.sender)}; "
            f"{_route_back(ctx, first_lost)}. Strict uRPF drops a packet that arrives on "
            "another interface than the route back to its source, and an allow-list must "
            "cover all of the sender's prefixes, not part of them."
        )
    return (
        f"{', '.join(params.receivers)} received all {params.count} packets from each of "
        f"{len(sources)} sources ({', '.join(addresses)})"
    )


@check("spoofed_packets_dropped", SpoofedParams)
def spoofed_packets_dropped(ctx: CheckContext, params: SpoofedParams) -> str:
    """No packet the sender sends with a spoofed source arrives at any receiver."""
    sources = draw_spoofed(ctx.seed, params)
    control = Source(host_address(ctx, params.sender, params.version()), "its own address")
    addresses = [s.address for s in sources]
    arrivals = exchange(ctx, params, sources, control=control, timeout=CONTROL_TIMEOUT)
    parts: list[str] = []
    for receiver in params.receivers:
        got = arrivals.counts.get(receiver, {})
        leaked = [s for s in sources if got.get(s.address, 0) > 0]
        if not leaked:
            continue
        if parts:
            parts.append(
                f"{receiver} received packets from {len(leaked)} of the {len(sources)} "
                "spoofed sources as well"
            )
            continue
        family = "IPv6 packets" if params.version() == 6 else "packets"
        items = [f"{got[s.address]} of {params.count} from {s.text()}" for s in leaked]
        parts.append(
            f"{receiver} received {family} {params.sender} sent with spoofed sources: "
            + _listed(items)
        )
    if parts:
        rule = params.rule or "a customer may only send from the prefixes it holds"
        v6 = (
            " IPv6 needs its own filter: `rp_filter` is IPv4 only (nftables `ip6 saddr`, or "
            "`fib saddr . iif oif missing drop`, covers IPv6)."
            if params.version() == 6
            else ""
        )
        raise CheckFailed(
            "; ".join(parts)
            + f". They entered at {_entry(ctx, params.sender)}, which forwarded them: {rule}. "
            f"Look at what {ctx.learner} accepts on that interface (uRPF, or an allow-list of "
            "the prefixes the neighbour may send from)." + v6
        )
    how = (
        ""
        if not arrivals.unfinished
        else f" (its own packets from {control.address} did not arrive at "
        f"{', '.join(sorted(arrivals.unfinished))} either)"
    )
    return (
        f"none of {params.count} packets each from {len(sources)} spoofed sources "
        f"({', '.join(addresses)}) reached {', '.join(params.receivers)}{how}"
    )


# -- forwarding paths ------------------------------------------------------------------------
class ForwardingPath(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str
    destination: IPv4Address
    via: IPv4Address | None = Field(default=None, description="the expected next hop")


class ForwardingParams(Params):
    paths: list[ForwardingPath] = Field(min_length=1)

    def router_names(self) -> list[str]:
        return sorted({p.node for p in self.paths})


def kernel_route(ctx: CheckContext, node: str, destination: str) -> tuple[str | None, str | None]:
    """(next hop, interface) of the node's kernel route to `destination`; (None, None) if it
    has none: what packets follow, whatever the routing daemon holds."""
    result = ctx.running.handle(node).exec(["ip", "-o", "route", "get", destination])
    if not result.ok:
        return None, None
    words = result.stdout.split()
    if words and words[0] in ("unreachable", "blackhole", "prohibit"):
        return None, None
    via = words[words.index("via") + 1] if "via" in words else None
    dev = words[words.index("dev") + 1] if "dev" in words else None
    return via, dev


@check("forwarding_paths", ForwardingParams)
def forwarding_paths(ctx: CheckContext, params: ForwardingParams) -> str:
    """Each node's kernel forwards to `destination` (through `via` if given): the routes BGP
    chose are installed, so packets take the paths the traffic checks assume. FRR can hold a
    route in BGP seconds before zebra installs it, right after the lab starts."""
    problems, seen = [], []
    for path in params.paths:
        dst = str(path.destination)
        via, dev = kernel_route(ctx, path.node, dst)
        if dev is None:
            problems.append(f"{path.node} has no kernel route to {dst} yet")
        elif path.via is not None and via != str(path.via):
            problems.append(
                f"{path.node} forwards {dst} via {via or 'a direct route'} ({dev}), "
                f"not via {path.via}"
            )
        else:
            seen.append(f"{path.node}: {dst} via {via or 'direct'} ({dev})")
    if problems:
        raise CheckFailed(
            "; ".join(problems) + ". The traffic checks need these paths: BGP may still be "
            "settling (`show bgp summary`, `ip route` on those nodes), or a change of yours "
            "moved the routes."
        )
    return "; ".join(seen)
