"""Routing-policy checks for whole-network labs (the MANRS capstone), IPv4 and IPv6 alike.

Graded from the neighbours and the learner's own table: the set of routes each neighbour
receives from the learner's router (customers: the full table; providers and peers: only the
learner's and its customers' own prefixes), what happens to bad routes the grader makes a
neighbour announce (`probe_filtered`: no observer holds them; the learner is an observer too,
for an exact prefix whose best path stays the legitimate one), legitimate routes at a rule's
boundary (`probe_received`), and whether a host's pings get answered. Packets with chosen
sources are in traffic.py.
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum
from ipaddress import ip_address, ip_network

from pydantic import Field, field_validator

from manrs_lab.grader.context import CheckContext, ProbeResult
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.special_purpose import bogon_of
from manrs_lab.state import BgpRoute, canonical_prefix

MAX_SHOWN_PATH = 8  # ASes shown of a long AS path
MAX_SHOWN = 6  # routes shown per observer in a message
TABLE_TTL = 0.1  # s a router's whole table, read for one check, serves the others running

_tables_guard = threading.Lock()
_table_locks: dict[tuple[str, str], threading.Lock] = {}
_tables: dict[tuple[str, str], tuple[float, list[BgpRoute], dict[str, list[BgpRoute]]]] = {}


def _read_table(ctx: CheckContext, node: str) -> tuple[list[BgpRoute], dict[str, list[BgpRoute]]]:
    """Every route `node` holds, read at most TABLE_TTL ago, with its routes by prefix
    (canonical spelling, in table order): a capstone runs some twenty probe checks at once,
    each polling the same observers' tables through its hold, and one read serves them all (a
    check's verdict rests on the reads of its whole hold, not one). Each probe check looks up
    its few prefixes in the index instead of walking the whole table on every poll."""
    key = (ctx.running.instance.name, node)
    with _tables_guard:
        lock = _table_locks.setdefault(key, threading.Lock())
    with lock:
        cached = _tables.get(key)
        if cached is not None and time.monotonic() - cached[0] < TABLE_TTL:
            return cached[1], cached[2]
        routes = ctx.running.router(node).routes()
        by_prefix: dict[str, list[BgpRoute]] = {}
        for route in routes:
            by_prefix.setdefault(canonical_prefix(route.prefix), []).append(route)
        _tables[key] = (time.monotonic(), routes, by_prefix)
        return routes, by_prefix


def table(ctx: CheckContext, node: str) -> list[BgpRoute]:
    """Every route `node` holds, read at most TABLE_TTL ago (see `_read_table`)."""
    return _read_table(ctx, node)[0]


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
    for route in table(ctx, observer):
        if route.peer is None or route.as_path[:1] != (learner_as,):
            continue
        prefix = canonical_prefix(route.prefix)
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
    special = bogon_of(route.prefix)
    if special:
        return f"{text}: {special.describe()}"
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
    probed = {canonical_prefix(p) for p in ctx.others_probe}
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
    observers: list[str] = Field(
        min_length=1,
        description="routers that must not hold the probe's routes: the learner itself (for "
        "an exact prefix another path already covers) and the neighbours it would pass them to",
    )
    reason: Reason = Field(description="why the probe's routes are bad (for the explanation)")
    holds: list[str] = Field(
        default_factory=list,
        description="reason not_the_customers: the prefixes the announcing customer holds",
    )
    max_path: int = Field(default=50, description="reason long_path: the longest path allowed")
    max_length: dict[int, int] = Field(
        default_factory=lambda: {4: 24, 6: 48},
        description="reason too_long: the longest prefix allowed per IP version",
    )

    def router_names(self) -> list[str]:
        return self.observers


def _is_probe_route(route: BgpRoute, probe: ProbeResult) -> bool:
    return (
        route.peer is not None and route.origin_as == probe.origin_as and probe.asn in route.as_path
    )


def probe_routes(ctx: CheckContext, observer: str, probe: ProbeResult) -> dict[str, BgpRoute]:
    """The observer's routes for the probe's prefixes that come from the probe (prefix ->
    route, the best such path first): one read of its whole table, however many prefixes."""
    by_prefix = _read_table(ctx, observer)[1]
    found: dict[str, BgpRoute] = {}
    for prefix in dict.fromkeys(canonical_prefix(p) for p in probe.prefixes):
        for route in by_prefix.get(prefix, ()):
            new = prefix not in found or route.best
            if new and _is_probe_route(route, probe):
                found[prefix] = route
    return found


def _why(
    ctx: CheckContext, params: ProbeFilteredParams, probe: ProbeResult, route: BgpRoute
) -> str:
    sender = f"{probe.node} (AS{probe.asn})"
    prefix = str(ip_network(route.prefix))
    reason = params.reason
    if reason is Reason.NOT_THE_CUSTOMERS:
        holds = " and ".join(params.holds) if params.holds else "its own prefixes"
        return (
            f"{prefix} is not a prefix {sender} holds ({holds}): accept from a customer exactly "
            "what it holds (no more-specifics, no covering prefix, nobody else's space), with "
            "one filter per customer, for IPv4 and for IPv6"
        )
    if reason is Reason.BOGON:
        bogon = bogon_of(prefix)
        what = bogon.describe() if bogon else "special-purpose space"
        return (
            f"{prefix} is {what}: drop every special-purpose range (the IANA IPv4 and IPv6 "
            "special-purpose registries), not only the best-known ones, from every neighbour"
        )
    if reason is Reason.OWN_SPACE:
        return (
            f"{prefix} is in your own or your customers' address space: nobody else may "
            f"announce it to you. Drop those prefixes, exact and anything inside them, when "
            f"they come from {probe.node}"
        )
    if reason is Reason.DEFAULT_ROUTE:
        return (
            f"a default route from {sender} would send all your unknown traffic to it: take "
            "no default route from a transit provider or a peer (IPv4 0.0.0.0/0, IPv6 ::/0)"
        )
    if reason is Reason.TOO_LONG:
        net = ip_network(prefix)
        limit = params.max_length.get(net.version, net.max_prefixlen)
        limits = ", ".join(f"IPv{v} /{n}" for v, n in sorted(params.max_length.items()))
        return (
            f"/{net.prefixlen} is longer than /{limit}, the longest prefix the global table "
            f"takes: drop prefixes longer than that ({limits}), whatever their address"
        )
    if reason is Reason.LONG_PATH:
        length = 1 + len(probe.as_path)
        return (
            f"{probe.node} sent it with an AS path of {length} ASes: drop paths longer than "
            f"{params.max_path} ASes (FRR: an as-path access-list; BIRD: `bgp_path.len`)"
        )
    return (
        f"its AS path already contains your AS{ctx.running.router(ctx.learner).asn}: a looped "
        "route, which BGP drops by default. Did something allow your own AS in paths "
        "(`allowas-in`, BIRD's `allow local as`)?"
    )


def _seen_text(ctx: CheckContext, observer: str, routes: list[BgpRoute]) -> str:
    verb = "accepted" if observer == ctx.learner else "received"
    shown = [f"{ip_network(r.prefix)} (AS path {path_text(r)})" for r in routes[:MAX_SHOWN]]
    more = f" and {len(routes) - MAX_SHOWN} more" if len(routes) > MAX_SHOWN else ""
    return f"{observer} {verb} " + ", ".join(shown) + more


@check("probe_filtered", ProbeFilteredParams, needs_probe=True, refuses=True)
def probe_filtered(ctx: CheckContext, params: ProbeFilteredParams) -> str:
    """No observer holds the probe's (bad) routes: the learner's import policy dropped them."""
    probe = ctx.require_probe()
    order = [canonical_prefix(p) for p in probe.prefixes]
    seen = {o: probe_routes(ctx, o, probe) for o in params.observers}
    leaks = [
        _seen_text(ctx, o, [seen[o][p] for p in order if p in seen[o]])
        for o in params.observers
        if seen[o]
    ]
    if leaks:
        # The explanation is the first probe prefix's that got through (in the lab's order).
        first = next(seen[o][p] for p in order for o in params.observers if p in seen[o])
        why = _why(ctx, params, probe, first)
        raise CheckFailed(
            "; ".join(leaks) + f". {probe.node} announced them: {why}. Look at "
            f"{ctx.learner}'s import policy towards {probe.node}."
        )
    return f"{', '.join(probe.prefixes)} from {probe.node} reached none of " + ", ".join(
        params.observers
    )


class ProbeReceivedParams(Params):
    observers: list[str] = Field(min_length=1, description="routers that must get the routes")
    legitimate: str = Field(
        default="", description="why the probe's routes are legitimate, for the message"
    )

    def router_names(self) -> list[str]:
        return self.observers


@check("probe_received", ProbeReceivedParams, needs_probe=True)
def probe_received(ctx: CheckContext, params: ProbeReceivedParams) -> str:
    """Every observer holds every probe route (a legitimate route at a rule's boundary: a /24,
    a 50-AS path): the learner's filters do not drop more than the rule says."""
    probe = ctx.require_probe()
    order = [canonical_prefix(p) for p in probe.prefixes]
    missing = []
    for observer in params.observers:
        got = probe_routes(ctx, observer, probe)
        lost = [p for p in order if p not in got]
        if lost:
            missing.append(f"{observer} has no route for {', '.join(lost)}")
    if missing:
        why = f" {params.legitimate}." if params.legitimate else ""
        path = f" with an AS path of {1 + len(probe.as_path)} ASes" if probe.as_path else ""
        raise CheckFailed(
            "; ".join(missing)
            + f", which {probe.node} announced{path} and {ctx.learner} should accept and pass "
            f"on.{why} Your filters drop more than the rule says: look at {ctx.learner}'s import "
            f"policy towards {probe.node}."
        )
    return f"{', '.join(probe.prefixes)} from {probe.node} reached " + ", ".join(params.observers)


RETRY_PING_TIMEOUT = 3.0  # s a second round waits for each reply


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

    A filter or uRPF drops every packet of a flow, round after round; a round that loses some
    or all of them may instead have met routes still being installed (a router's kernel lags
    its BGP table by milliseconds after a change) or, on a machine where dozens of checks run
    at once, neighbour discovery slower than the reply timeout (50 capstones checking at once
    lost whole IPv6 rounds here): one more round, with a longer timeout, decides."""
    host = ctx.running.host(params.host)
    result = host.ping(params.destination, count=params.count)
    if result.received < result.sent:
        result = host.ping(params.destination, count=params.count, timeout=RETRY_PING_TIMEOUT)
    if result.received < result.sent:
        family = "IPv6" if ip_address(params.destination).version == 6 else "IPv4"
        raise CheckFailed(
            f"{params.host} pinged {params.destination}: {result.received} of {result.sent} "
            f"replies. Legitimate {family} traffic is lost on the way there or back: look at "
            f"{ctx.learner}'s routes for both hosts and at its packet filters (uRPF, nftables)."
        )
    return f"{params.host} -> {params.destination}: {result.received}/{result.sent} replies"
