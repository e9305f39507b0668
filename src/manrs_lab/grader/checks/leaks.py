"""Route-leak checks (MANRS Action 1, RFC 7908): graded from the AS paths observers hold.

A leak is a route that crossed a customer on its way from one provider (or peer) to another:
its AS path holds the customer's AS with ASes on both sides. A probe makes a provider announce
a fresh route; the leaker learns it and, if its export policy lets it, passes it on. The check
first waits until the leaker learned the route from a neighbour that is not an observer (else
nothing was tested: a filter towards the leaker in the wrong direction must not pass), then
verifies that no observer holds a path through the leaker.
"""

from __future__ import annotations

import time
from ipaddress import ip_network

from pydantic import Field, field_validator

from manrs_lab.drivers.bird import BirdRouter
from manrs_lab.drivers.bird_parse import parse_routes_all as bird_routes
from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.errors import LabError
from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.state import BgpRoute, BgpSession

LEARN_TIMEOUT = 5.0
POLL = 0.05


def _paths(routes: list[BgpRoute]) -> str:
    if not routes:
        return "no route at all"
    return "; ".join(f"AS path {r.path_text}" for r in routes)


def _node_of_as(ctx: CheckContext, asn: int) -> str:
    for node in ctx.running.lab.topology.routers():
        if node.asn == asn:
            return f"{node.name} (AS{asn})"
    return f"AS{asn}"


class LeakParams(Params):
    leakers: list[str] = Field(
        min_length=1, description="routers whose re-announcement of the probe would be a leak"
    )
    observers: list[str] = Field(min_length=1, description="routers that must not hold it")

    def router_names(self) -> list[str]:
        return [*self.leakers, *self.observers]


@check("leak_not_propagated", LeakParams, needs_probe=True, refuses=True)
def leak_not_propagated(ctx: CheckContext, params: LeakParams) -> str:
    """Every leaker learned the probe's routes from a neighbour that is not an observer (so it
    could leak them to the observers), and no observer holds a path through a leaker."""
    probe = ctx.require_probe()
    asns = {name: ctx.running.router(name).asn for name in params.leakers}
    observer_asns = {ctx.running.router(name).asn for name in params.observers}
    _wait_learned(ctx, params.leakers, probe.node, probe.prefixes, observer_asns)
    leaks = []
    for observer in params.observers:
        for prefix in probe.prefixes:
            for route in ctx.running.router(observer).routes(prefix):
                leaker = next((n for n, a in asns.items() if a in route.as_path), None)
                if leaker is not None:
                    leaks.append(_describe_leak(ctx, observer, leaker, asns[leaker], route))
    if leaks:
        raise CheckFailed(" ".join(leaks))
    return (
        f"{', '.join(probe.prefixes)} (announced by {probe.node}) reached "
        f"{', '.join(params.leakers)}, and none of {', '.join(params.observers)} holds a path "
        "through them"
    )


def _wait_learned(
    ctx: CheckContext,
    leakers: list[str],
    origin: str,
    prefixes: tuple[str, ...],
    observer_asns: set[int],
    *,
    best: bool = False,
) -> None:
    """Until every leaker holds each prefix through a neighbour that is not an observer (as
    its best path, with `best`: what it would export): only then could a leak reach the
    observers. Probe routes cross the lab in milliseconds."""
    deadline = time.monotonic() + LEARN_TIMEOUT
    while True:
        missing = [
            (leaker, prefix)
            for leaker in leakers
            for prefix in prefixes
            if not any(
                r.as_path and r.as_path[0] not in observer_asns and (r.best or not best)
                for r in ctx.running.router(leaker).routes(prefix)
            )
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            leaker, prefix = missing[0]
            held = [
                r
                for r in ctx.running.router(leaker).routes(prefix)
                if r.as_path and r.as_path[0] not in observer_asns
            ]
            if held:
                raise CheckFailed(
                    f"{leaker} holds {prefix}, which {origin} announced, with AS path "
                    f"{held[0].path_text} but prefers another path to it, so the leak could "
                    f"not be tested. Leave {leaker}'s route preferences as they were."
                )
            raise CheckFailed(
                f"{leaker} never learned {prefix}, which {origin} announced, from its other "
                f"provider, so the leak could not be tested. {leaker} must still receive its "
                "providers' routes: a customer buys transit to reach the Internet (is an "
                f"export filter towards {leaker} in the wrong direction?)."
            )
        time.sleep(POLL)


def _describe_leak(
    ctx: CheckContext, observer: str, leaker: str, leaker_as: int, route: BgpRoute
) -> str:
    path = route.as_path
    at = path.index(leaker_as)
    learned_from = _node_of_as(ctx, path[at + 1]) if at + 1 < len(path) else "its neighbour"
    receiver = observer if at == 0 else _node_name(ctx, path[at - 1])
    verb = "accepted" if observer == ctx.learner else "received"
    text = (
        f"{observer} {verb} {route.prefix} with AS path {route.path_text}: {leaker} "
        f"(AS{leaker_as}) passed a route it learned from {learned_from} on to {receiver}, "
        "a route leak."
    )
    if receiver == ctx.learner:
        return text + (
            f" {ctx.learner}'s import policy towards its customer {leaker} let it in: a customer "
            "may only announce its own prefixes (BGP roles, or a prefix filter)."
        )
    return text + (
        f" Look at {leaker}'s export policy towards {receiver}: a customer announces to its "
        "providers only its own prefixes."
    )


def _node_name(ctx: CheckContext, asn: int) -> str:
    return next((n.name for n in ctx.running.lab.topology.routers() if n.asn == asn), f"AS{asn}")


class ExportParams(Params):
    leakers: list[str] = Field(
        min_length=1, description="routers whose announcement of the probe would be a leak"
    )
    towards: list[str] = Field(
        min_length=1,
        description="the leakers' neighbours (providers, peers) they must not announce the "
        "probe to: graded from what each leaker exports on its sessions with them, so an "
        "import filter on the receiving side cannot hide a leak",
    )

    def router_names(self) -> list[str]:
        return [*self.leakers, *self.towards]


def _exported(ctx: CheckContext, leaker: str, session: BgpSession, prefix: str) -> bool:
    """Whether `leaker` announces `prefix` on `session` (after its export policy)."""
    router = ctx.running.router(leaker)
    if isinstance(router, BirdRouter):
        if not session.name:
            raise LabError(f"{leaker}: BIRD session with {session.peer} has no protocol name")
        text = router.birdc(
            f"show route all where net = {ip_network(prefix)} export {session.name}"
        )
        return bool(bird_routes(text, router.asn))
    if isinstance(router, FrrRouter):
        family = "ipv6" if ip_network(prefix).version == 6 else "ipv4"
        doc = router.show_json(
            f"show bgp {family} unicast neighbors {session.peer} advertised-routes json"
        )
        announced = doc.get("advertisedRoutes", {}) if isinstance(doc, dict) else {}
        return str(ip_network(prefix)) in announced
    raise LabError(f"{leaker}: cannot read what it exports ({type(router).__name__})")


@check("leak_not_exported", ExportParams, needs_probe=True, refuses=True)
def leak_not_exported(ctx: CheckContext, params: ExportParams) -> str:
    """Every leaker learned the probe's routes from a neighbour that is not in `towards`, and
    announces none of them to a neighbour in `towards` (read on the leaker: its export)."""
    probe = ctx.require_probe()
    towards = {ctx.running.router(n).asn: n for n in params.towards}
    _wait_learned(ctx, params.leakers, probe.node, probe.prefixes, set(towards), best=True)
    leaks = []
    for leaker in params.leakers:
        router = ctx.running.router(leaker)
        sessions = [s for s in router.sessions() if s.remote_as in towards]
        found: dict[tuple[str, str], list[str]] = {}  # (to, learned from) -> prefixes
        for prefix in probe.prefixes:
            learned = next((r for r in router.routes(prefix) if r.best and r.as_path), None)
            if learned is None:
                continue
            source = _node_of_as(ctx, learned.as_path[0])
            exported = {towards[s.remote_as] for s in sessions if _exported(ctx, leaker, s, prefix)}
            for to in sorted(exported):
                found.setdefault((to, source), []).append(f"{prefix} (AS path {learned.path_text})")
        leaks += [
            f"{leaker} (AS{router.asn}) announces to {to} {', '.join(prefixes)}, learned from "
            f"{source}: a route leak."
            for (to, source), prefixes in found.items()
        ]
    if leaks:
        raise CheckFailed(
            " ".join(leaks) + f" Look at {', '.join(params.leakers)}'s export policy towards "
            f"{', '.join(params.towards)}: a customer announces to each of its providers only "
            "its own prefixes, never what it learned from another provider."
        )
    return (
        f"{', '.join(probe.prefixes)} (announced by {probe.node}) reached "
        f"{', '.join(params.leakers)}, which announces none of them to "
        f"{', '.join(params.towards)}"
    )


class PathParams(Params):
    observer: str
    prefix: str
    as_path: list[int] = Field(min_length=1, description="the exact AS path, origin last")

    @field_validator("prefix")
    @classmethod
    def _net(cls, value: str) -> str:
        return str(ip_network(value, strict=True))

    def router_names(self) -> list[str]:
        return [self.observer]


@check("route_with_path", PathParams)
def route_with_path(ctx: CheckContext, params: PathParams) -> str:
    """The observer holds `prefix` with exactly `as_path` (a legitimate route took its way)."""
    routes = ctx.running.router(params.observer).routes(params.prefix)
    want = tuple(params.as_path)
    if not any(r.as_path == want for r in routes):
        expected = " ".join(str(a) for a in want)
        way = " -> ".join([*(_node_of_as(ctx, a) for a in reversed(want)), params.observer])
        raise CheckFailed(
            f"{params.observer} has no route for {params.prefix} with AS path {expected} "
            f"(it holds: {_paths(routes)}). A legitimate route is missing on its way {way}: "
            "look at each hop's export and import policy, and at the sessions."
        )
    return f"{params.observer} has {params.prefix} with AS path {' '.join(map(str, want))}"
