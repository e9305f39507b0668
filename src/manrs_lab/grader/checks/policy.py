"""Routing-policy checks for whole-network labs (the MANRS capstone), IPv4 and IPv6 alike.

Graded from the neighbours: the set of routes each one receives from the learner's router
(customers: the full table; providers and peers: only the learner's and its customers' own
prefixes), what happens to bad routes the grader makes a neighbour announce, and whether a
host's packets get through.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_interface, ip_network

from pydantic import Field, field_validator

from manrs_lab.grader.checks.routeserver import special_purpose
from manrs_lab.grader.context import CheckContext, ProbeResult
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.state import BgpRoute

MAX_SHOWN_PATH = 8  # ASes shown of a long AS path


def path_text(route: BgpRoute) -> str:
    path = route.as_path
    if len(path) <= MAX_SHOWN_PATH:
        return route.path_text
    head = " ".join(str(a) for a in path[:4])
    return f"{head} ... {path[-1]} ({len(path)} ASes)"


def node_of_as(ctx: CheckContext, asn: int) -> str:
    for node in ctx.running.lab.topology.routers():
        if node.asn == asn:
            return f"{node.name} (AS{asn})"
    return f"AS{asn}"


def _from_learner(ctx: CheckContext, observer: str) -> dict[str, BgpRoute]:
    """The routes `observer` learned from the learner's router: prefix -> best such path."""
    learner_as = ctx.running.router(ctx.learner).asn
    found: dict[str, BgpRoute] = {}
    for route in ctx.running.router(observer).routes():
        if route.peer is None or route.as_path[:1] != (learner_as,):
            continue
        prefix = str(ip_network(route.prefix))
        if prefix not in found or route.best:
            found[prefix] = route
    return found


def _sorted(prefixes: set[str]) -> list[str]:
    return sorted(
        prefixes, key=lambda p: (ip_network(p).version, int(ip_network(p).network_address), p)
    )


class RouteSetParams(Params):
    observer: str = Field(description="the neighbour whose received routes are graded")
    prefixes: list[str] = Field(min_length=1, description="routes it must receive from the learner")
    exact: bool = Field(default=True, description="and no other route from the learner")
    expect: str = Field(default="", description="what it should receive, in words, for messages")

    @field_validator("prefixes")
    @classmethod
    def _nets(cls, value: list[str]) -> list[str]:
        return [str(ip_network(v, strict=True)) for v in value]

    def router_names(self) -> list[str]:
        return [self.observer]


def _unexpected(ctx: CheckContext, route: BgpRoute) -> str:
    text = f"{route.prefix} (AS path {path_text(route)})"
    special = special_purpose(route.prefix)
    if special:
        return f"{text}: {special}"
    if len(route.as_path) >= 2:
        return f"{text}: learned from {node_of_as(ctx, route.as_path[1])}"
    return text


@check("routes_from_learner", RouteSetParams)
def routes_from_learner(ctx: CheckContext, params: RouteSetParams) -> str:
    """The observer receives from the learner every route in `prefixes` (and, if `exact`,
    nothing else): what a neighbour gets is the learner's export policy towards it.

    "Nothing else" leaves out what other checks' probes announce meanwhile: those checks judge
    their own routes, and this one can run alongside them."""
    got = _from_learner(ctx, params.observer)
    want = set(params.prefixes)
    missing = _sorted(want - set(got))
    probed = {str(ip_network(p)) for p in ctx.others_probe}
    extra = _sorted(set(got) - want - probed) if params.exact else []
    if missing or extra:
        parts = []
        if extra:
            parts.append(
                f"{params.observer} receives from {ctx.learner} routes it should not: "
                + "; ".join(_unexpected(ctx, got[p]) for p in extra)
            )
        if missing:
            parts.append(
                f"{params.observer} does not receive {', '.join(missing)} from {ctx.learner}"
            )
        should = f" {params.observer} should receive {params.expect}." if params.expect else ""
        advice = f" Look at {ctx.learner}'s export policy towards {params.observer}" + (
            ", and at its import policy for the missing ones." if missing else "."
        )
        raise CheckFailed(". ".join(parts) + "." + should + advice)
    if params.exact:
        return (
            f"{params.observer} receives exactly the {len(got)} routes it should from {ctx.learner}"
        )
    return f"{params.observer} receives all {len(want)} routes from {ctx.learner} it should"


class Reason(StrEnum):
    NOT_THE_CUSTOMERS = "not_the_customers"
    BOGON = "bogon"
    OWN_SPACE = "own_space"
    DEFAULT_ROUTE = "default_route"
    TOO_LONG = "too_long"
    LONG_PATH = "long_path"
    LOOP = "loop"


class ProbeFilteredParams(Params):
    observers: list[str] = Field(min_length=1, description="neighbours that must not get it")
    reason: Reason = Field(description="why the probe's routes are bad (for the explanation)")
    max_path: int = Field(default=50, description="reason long_path: the longest path allowed")

    def router_names(self) -> list[str]:
        return self.observers


def _is_probe_route(route: BgpRoute, probe: ProbeResult) -> bool:
    return (
        route.peer is not None and route.origin_as == probe.origin_as and probe.asn in route.as_path
    )


def _why(
    ctx: CheckContext, params: ProbeFilteredParams, probe: ProbeResult, route: BgpRoute
) -> str:
    sender = f"{probe.node} (AS{probe.asn})"
    prefix = route.prefix
    reason = params.reason
    if reason is Reason.NOT_THE_CUSTOMERS:
        return (
            f"{prefix} is not {sender}'s: accept from a customer only the prefixes it holds, "
            "with a prefix list per customer for IPv4 and one for IPv6"
        )
    if reason is Reason.BOGON:
        return (
            f"{prefix} is {special_purpose(prefix) or 'special-purpose space'}: drop bogons "
            "from every neighbour (IPv4 and IPv6)"
        )
    if reason is Reason.OWN_SPACE:
        return (
            f"{prefix} is in your own address space: nobody else may announce it to you. Drop "
            "your own and your customers' prefixes (and anything inside them) when they come "
            f"from {probe.node}"
        )
    if reason is Reason.DEFAULT_ROUTE:
        return (
            f"a default route from {sender} would send all your unknown traffic to it: "
            "accept a default from nobody but (if you want one) a transit provider"
        )
    if reason is Reason.TOO_LONG:
        return (
            f"/{ip_network(prefix).prefixlen} is too long for the global table: drop IPv4 "
            "prefixes longer than /24 and IPv6 prefixes longer than /48"
        )
    if reason is Reason.LONG_PATH:
        return (
            f"its AS path is {len(route.as_path)} ASes long: drop paths longer than "
            f"{params.max_path} ASes (FRR: an as-path access-list; BIRD: `bgp_path.len`)"
        )
    return (
        f"its AS path already contains your AS{ctx.running.router(ctx.learner).asn}: a looped "
        "route, which BGP drops by default. Did something allow your own AS in paths "
        "(`allowas-in`, BIRD's `allow local as`)?"
    )


@check("probe_filtered", ProbeFilteredParams, needs_probe=True)
def probe_filtered(ctx: CheckContext, params: ProbeFilteredParams) -> str:
    """No observer receives the probe's (bad) routes: the learner's import policy dropped them."""
    probe = ctx.require_probe()
    seen: dict[tuple[str, str], BgpRoute] = {}
    for observer in params.observers:
        for prefix in probe.prefixes:
            for route in ctx.running.router(observer).routes(prefix):
                if _is_probe_route(route, probe):
                    seen[(observer, prefix)] = route
    # In the lab's order (observers, then the probe's prefixes), whatever arrived first; the
    # explanation is the first probe prefix's that got through.
    order = [(o, p) for o in params.observers for p in probe.prefixes]
    leaks = [
        f"{o} received {p} (AS path {path_text(seen[(o, p)])})" for o, p in order if (o, p) in seen
    ]
    by_prefix = [(o, p) for p in probe.prefixes for o in params.observers]
    first = next((seen[key] for key in by_prefix if key in seen), None)
    why = _why(ctx, params, probe, first) if first is not None else ""
    if leaks:
        raise CheckFailed(
            "; ".join(leaks) + f", which {probe.node} announced and {ctx.learner} passed on: "
            f"{why}. Look at {ctx.learner}'s import policy towards {probe.node}."
        )
    return f"{', '.join(probe.prefixes)} from {probe.node} reached none of " + ", ".join(
        params.observers
    )


class PingParams(Params):
    host: str
    destination: str = Field(description="an IPv4 or IPv6 address of another host")
    count: int = Field(default=3, ge=1, le=20)

    @field_validator("destination")
    @classmethod
    def _address(cls, value: str) -> str:
        return str(ip_address(value))


@check("ping_replies", PingParams)
def ping_replies(ctx: CheckContext, params: PingParams) -> str:
    """`host` pings `destination` and gets every reply back: traffic flows both ways.

    A filter or uRPF drops every packet of a flow; a round that loses only some of them met
    routes still being installed (a router's kernel lags its BGP table by milliseconds after a
    change), so one more round decides."""
    host = ctx.running.host(params.host)
    result = host.ping(params.destination, count=params.count)
    if 0 < result.received < result.sent:
        result = host.ping(params.destination, count=params.count)
    if result.received < result.sent:
        family = "IPv6" if ip_address(params.destination).version == 6 else "IPv4"
        raise CheckFailed(
            f"{params.host} pinged {params.destination}: {result.received} of {result.sent} "
            f"replies. Legitimate {family} traffic is lost on the way there or back: look at "
            f"{ctx.learner}'s routes for both hosts and at its packet filters (uRPF, nftables)."
        )
    return f"{params.host} -> {params.destination}: {result.received}/{result.sent} replies"


# -- IPv6 spoofing (the IPv4 checks are in traffic.py) -----------------------------------
COUNT6_TABLE = "manrs_count6"
SPOOF6_DPORT = 33998
SPOOF6_TIMEOUT = 0.5  # the control packets take milliseconds; without them, all is dropped


def draw_ipv6_sources(
    seed: int, networks: list[str], exclude: Sequence[IPv4Network | IPv6Network] = ()
) -> list[str]:
    """One address from each network, reproducibly, never a lab address (::1 routers, ::10
    hosts, ::2 link ends): the low 64 bits are drawn at random; none inside `exclude`."""
    rng = random.Random(seed)
    drawn = []
    for text in networks:
        net = ip_network(text)
        host_bits = net.max_prefixlen - net.prefixlen
        for _ in range(1000):
            offset = rng.randrange(2 ** min(host_bits, 64)) | (1 << 40)  # never a small number
            if host_bits > 64:
                offset |= rng.randrange(2 ** (host_bits - 64)) << 64
            addr = net.network_address + offset
            if not any(addr in e for e in exclude):
                drawn.append(str(addr))
                break
        else:
            raise ValueError(f"no address to draw from {net} outside {list(map(str, exclude))}")
    return drawn


def _count6_ruleset(sources: list[str]) -> str:
    rules = "".join(f"    ip6 saddr {src} udp dport {SPOOF6_DPORT} counter\n" for src in sources)
    return (
        f"table inet {COUNT6_TABLE}\ndelete table inet {COUNT6_TABLE}\n"
        f"table inet {COUNT6_TABLE} {{\n  chain input {{\n"
        f"    type filter hook input priority -300;\n{rules}  }}\n}}\n"
    )


def _counted6(ctx: CheckContext, receiver: str) -> dict[str, int]:
    handle = ctx.running.handle(receiver)
    doc = json.loads(handle.exec_ok(["nft", "-j", "list", "table", "inet", COUNT6_TABLE]))
    counts: dict[str, int] = {}
    for item in doc["nftables"]:
        rule = item.get("rule")
        if rule is None:
            continue
        src = packets = None
        for expr in rule["expr"]:
            match = expr.get("match", {})
            if match.get("left", {}).get("payload", {}).get("field") == "saddr":
                src = str(ip_address(match["right"]))
            if "counter" in expr:
                packets = int(expr["counter"]["packets"])
        if src is not None and packets is not None:
            counts[src] = packets
    return counts


def _own_ipv6(ctx: CheckContext, host: str) -> str:
    for text in ctx.running.host(host).addresses():
        iface = ip_interface(text)
        if iface.version == 6 and not iface.ip.is_link_local:
            return str(iface.ip)
    raise CheckFailed(f"{host} has no global IPv6 address: is the lab up?")


class Spoofed6Params(Params):
    sender: str = Field(description="host that sends the packets")
    receiver: str = Field(description="host that counts what arrives")
    destination: str = Field(description="an IPv6 address of the receiver")
    sources_in: list[str] = Field(min_length=1, description="one source drawn from each")
    count: int = Field(default=5, ge=1, le=50)

    @field_validator("destination")
    @classmethod
    def _v6(cls, value: str) -> str:
        address = ip_address(value)
        if address.version != 6:
            raise ValueError("an IPv6 address")
        return str(address)

    @field_validator("sources_in")
    @classmethod
    def _nets(cls, value: list[str]) -> list[str]:
        nets = [ip_network(v, strict=True) for v in value]
        if any(n.version != 6 or n.prefixlen > 64 for n in nets):
            raise ValueError("IPv6 networks of /64 or larger")
        return [str(n) for n in nets]


@check("spoofed_ipv6_dropped", Spoofed6Params)
def spoofed_ipv6_dropped(ctx: CheckContext, params: Spoofed6Params) -> str:
    """No IPv6 packet the sender sends with a spoofed source (drawn from `sources_in`) arrives;
    the sender's own packets, sent right after, bound the wait."""
    probed = [p for n in params.sources_in for p in ctx.probed_inside(ip_network(n))]
    sources = draw_ipv6_sources(ctx.seed, params.sources_in, probed)
    control = _own_ipv6(ctx, params.sender)
    receiver = ctx.running.handle(params.receiver)
    receiver.exec_ok(["nft", "-f", "-"], input_text=_count6_ruleset([*sources, control]))
    try:
        ctx.running.host(params.sender).send_packets(
            params.destination, [*sources, control], params.count, SPOOF6_DPORT
        )
        deadline = time.monotonic() + SPOOF6_TIMEOUT
        counts = _counted6(ctx, params.receiver)
        while counts.get(control, 0) < params.count and time.monotonic() < deadline:
            time.sleep(0.02)
            counts = _counted6(ctx, params.receiver)
        control_arrived = counts.get(control, 0) >= params.count
        if control_arrived:
            time.sleep(0.05)  # anything still in flight
            counts = _counted6(ctx, params.receiver)
    finally:
        receiver.exec(["nft", "delete", "table", "inet", COUNT6_TABLE])
    arrived = [
        (src, net, counts.get(src, 0)) for src, net in zip(sources, params.sources_in, strict=True)
    ]
    leaked = [f"{n} of {params.count} from {src} (in {net})" for src, net, n in arrived if n]
    if leaked:
        raise CheckFailed(
            f"{params.receiver} received IPv6 packets {params.sender} sent with spoofed sources: "
            + "; ".join(leaked)
            + f". {ctx.learner} forwarded them: filter IPv6 as well as IPv4 (uRPF with "
            "`rp_filter` is IPv4 only; nftables `ip6 saddr` or `fib saddr . iif oif missing drop` "
            "covers IPv6)."
        )
    how = "" if control_arrived else f" (its own packets from {control} did not arrive either)"
    return (
        f"none of {params.count} IPv6 packets each from {', '.join(sources)} reached "
        f"{params.receiver}{how}"
    )
