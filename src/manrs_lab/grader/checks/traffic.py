"""Traffic checks (anti-spoofing, MANRS Action 2): packets sent from hosts, counted where they land.

A sending host emits UDP packets with a chosen source address (a raw socket, so any source);
the receiving host counts arrivals per source with nftables. "Spoofed packets do not arrive" is
measured against a control: the sender's own packets, sent right after the spoofed ones on the
same path, so once they have arrived the spoofed ones would have too (no fixed sleep).

Spoofed sources are drawn at check time from the networks a check names, from the check's seed
(`ctx.seed`, derived from the report's seed: `--seed` replays the same addresses), so a filter
that names the spoofed addresses cannot pass. Drawn addresses end in .20 to .250, so never
one of the lab's own (routers are .1 and hosts .10 of their /24, docs/addressing.md): a packet
whose source is an address of the router or host receiving it is dropped as a martian whatever
the learner did.

Counting on one receiving host is one nftables table, so checks that count on the same host
take turns (a lock per instance and host); each turn costs about 0.1-0.2 s.
"""

from __future__ import annotations

import random
import threading
import time
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_interface

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from manrs_lab.drivers.host import Host
from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check

DELIVERY_TIMEOUT = 1.0  # seconds for legitimate packets to cross the lab (they take ms)
CONTROL_TIMEOUT = 0.5  # when the control packets do not arrive, everything is being dropped
SETTLE = 0.05  # after the control packets arrived, for anything still in flight
POLL = 0.02
DPORT = 33999  # the host driver's default: UDP to a closed port
LAB_OWN_LAST_OCTETS = range(20, 251)  # drawn addresses end in .20-.250: never a lab address

_locks_guard = threading.Lock()
_receiver_locks: dict[tuple[str, str], threading.Lock] = {}


def _receiver_lock(ctx: CheckContext, receiver: str) -> threading.Lock:
    with _locks_guard:
        return _receiver_locks.setdefault((ctx.running.instance.name, receiver), threading.Lock())


def draw_sources(
    seed: int, networks: list[IPv4Network], exclude: list[IPv4Network | IPv6Network]
) -> list[str]:
    """One address from each network, reproducibly from `seed`, none in `exclude` and none
    that could be a lab router's or host's own address."""
    rng = random.Random(seed)
    drawn = []
    for net in networks:
        for _ in range(1000):
            addr = net.network_address + rng.randrange(net.num_addresses)
            if addr.packed[-1] in LAB_OWN_LAST_OCTETS and not any(addr in e for e in exclude):
                drawn.append(str(addr))
                break
        else:
            raise ValueError(f"no address to draw from {net} outside {exclude}")
    return drawn


def own_address(host: Host) -> str:
    """The host's IPv4 address on its LAN (the legitimate source of its packets)."""
    for text in host.addresses():
        iface = ip_interface(text)
        if iface.version == 4:
            return str(iface.ip)
    raise CheckFailed(f"{host.name} has no IPv4 address: is the lab up?")


def send_from(host: Host, sources: list[str], destination: str, count: int) -> None:
    """`count` packets from each source in turn, in one go (drivers/spoof_sender.py)."""
    host.send_packets(destination, sources, count, DPORT)


def send_and_count(
    ctx: CheckContext,
    params: PacketParams,
    sources: list[str],
    *,
    control: str | None,
    timeout: float,
) -> tuple[dict[str, int], bool]:
    """Send `params.count` packets from each source (then from `control`) and count them at
    the receiver. Returns the counts and whether the last source's packets all arrived."""
    tx, rx = ctx.running.host(params.sender), ctx.running.host(params.receiver)
    count = params.count
    counted = [*sources, control] if control else sources
    with _receiver_lock(ctx, params.receiver):
        rx.count_from(counted)
        try:
            send_from(tx, counted, str(params.destination), count)
            marker = control or sources[-1]
            deadline = time.monotonic() + timeout
            while True:
                counts = rx.counted()
                arrived = counts.get(marker, 0) >= count
                if arrived or time.monotonic() > deadline:
                    break
                time.sleep(POLL)
            if control and arrived:
                time.sleep(SETTLE)
                counts = rx.counted()
        finally:
            rx.stop_counting()
    return counts, arrived


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


class PacketParams(Params):
    sender: str = Field(description="host that sends the packets")
    receiver: str = Field(description="host that counts what arrives")
    destination: IPv4Address = Field(description="an address of the receiver")
    count: int = Field(default=5, ge=1, le=50)

    @model_validator(mode="after")
    def _different(self) -> PacketParams:
        if self.sender == self.receiver:
            raise ValueError("sender and receiver are different hosts")
        return self


class DeliveredParams(PacketParams):
    source: IPv4Address | None = Field(
        default=None, description="source address; the sender's own address if absent"
    )


@check("packets_delivered", DeliveredParams)
def packets_delivered(ctx: CheckContext, params: DeliveredParams) -> str:
    """Every packet the sender sends from a legitimate source reaches the receiver."""
    source = str(params.source) if params.source else own_address(ctx.running.host(params.sender))
    whose = "" if params.source else "its own address "
    dst = str(params.destination)
    counts, _ = send_and_count(ctx, params, [source], control=None, timeout=DELIVERY_TIMEOUT)
    got = counts.get(source, 0)
    if got < params.count:
        raise CheckFailed(
            f"{params.receiver} received {got} of {params.count} packets {params.sender} sent "
            f"from {whose}{source} to {dst}: legitimate traffic is dropped. It enters "
            f"at {_entry(ctx, params.sender)}; {_route_back(ctx, source)}. Strict uRPF drops a "
            "packet that arrives on another interface than the route back to its source."
        )
    return f"{params.receiver} received {got} of {params.count} packets from {source}"


class SpoofedParams(PacketParams):
    sources_in: list[IPv4Network] = Field(
        min_length=1, description="one spoofed source is drawn from each network, at check time"
    )
    exclude: list[IPv4Network] = Field(
        default_factory=list, description="never drawn (the sender's own, legitimate prefix)"
    )

    @field_validator("sources_in")
    @classmethod
    def _drawable(cls, value: list[IPv4Network]) -> list[IPv4Network]:
        for net in value:
            if net.prefixlen > 24:
                raise ValueError(f"{net}: draw from a /24 or larger")
        return value


@check("spoofed_packets_dropped", SpoofedParams)
def spoofed_packets_dropped(ctx: CheckContext, params: SpoofedParams) -> str:
    """No packet the sender sends with a spoofed source (drawn from `sources_in`) arrives."""
    probed = [p for net in params.sources_in for p in ctx.probed_inside(net)]
    sources = draw_sources(ctx.seed, params.sources_in, [*params.exclude, *probed])
    control = own_address(ctx.running.host(params.sender))
    counts, control_arrived = send_and_count(
        ctx, params, sources, control=control, timeout=CONTROL_TIMEOUT
    )
    arrived = {src: counts[src] for src in sources if counts.get(src, 0) > 0}
    if arrived:
        what = "; ".join(
            f"{n} of {params.count} from {src} (in {net})"
            for src, net in zip(sources, params.sources_in, strict=True)
            if (n := arrived.get(src, 0))
        )
        raise CheckFailed(
            f"{params.receiver} received packets {params.sender} sent with spoofed sources: "
            f"{what}. They entered at {_entry(ctx, params.sender)}, which forwarded them: "
            f"a customer may only send from the prefixes it holds. Look at what "
            f"{ctx.learner} accepts on that interface (uRPF, or an allow-list of the "
            "customer's prefixes)."
        )
    how = "" if control_arrived else f" (its own packets from {control} did not arrive either)"
    return (
        f"none of {params.count} packets each from {', '.join(sources)} reached "
        f"{params.receiver}{how}"
    )


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
