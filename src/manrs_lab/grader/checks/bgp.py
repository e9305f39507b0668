"""BGP checks, graded from what routers hold after their import policy."""

from __future__ import annotations

import time
from collections.abc import Iterable
from ipaddress import ip_network

from pydantic import Field, field_validator

from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.state import BgpRoute, SessionHeard


def _describe(routes: list[BgpRoute]) -> str:
    if not routes:
        return "no route at all"
    return "; ".join(f"AS path {r.path_text} (origin AS{r.origin_as})" for r in routes)


class SessionsParams(Params):
    nodes: list[str] | None = Field(default=None, description="routers to look at; all if absent")

    def router_names(self) -> list[str]:
        return self.nodes or []


@check("bgp_sessions_established", SessionsParams)
def bgp_sessions_established(ctx: CheckContext, params: SessionsParams) -> str:
    """Every BGP session of the named routers is Established."""
    names = params.nodes or ctx.running.router_names()
    down = []
    count = 0
    for name in names:
        for session in ctx.running.router(name).sessions():
            count += 1
            if not session.established:
                down.append(
                    f"{name}'s session to {session.peer} (AS{session.remote_as}) is {session.state}"
                )
    if down:
        raise CheckFailed("; ".join(down) + ". Look at `show bgp summary` on those routers.")
    return f"{count} sessions Established on {', '.join(names)}"


class RouteParams(Params):
    observer: str
    prefix: str
    origin_as: int

    @field_validator("prefix")
    @classmethod
    def _net(cls, value: str) -> str:
        return str(ip_network(value, strict=True))

    def router_names(self) -> list[str]:
        return [self.observer]


@check("route_received", RouteParams)
def route_received(ctx: CheckContext, params: RouteParams) -> str:
    """The observer holds `prefix` originated by `origin_as` (a legitimate route got through)."""
    routes = ctx.running.router(params.observer).routes(params.prefix)
    good = [r for r in routes if r.origin_as == params.origin_as]
    if not good:
        raise CheckFailed(
            f"{params.observer} has no route for {params.prefix} from AS{params.origin_as} "
            f"({_describe(routes)}). A legitimate route is being dropped: check that your "
            f"filters on {ctx.learner} still accept it."
        )
    return f"{params.observer} has {params.prefix} with AS path {good[0].path_text}"


class ObserversParams(Params):
    observers: list[str] = Field(min_length=1)
    registered: list[str] = Field(
        default_factory=list,
        description="what the probing neighbour is registered for: the failure message says "
        "how each leaked prefix relates to it (a more-specific, a covering prefix, outside)",
    )

    @field_validator("registered")
    @classmethod
    def _nets(cls, value: list[str]) -> list[str]:
        return [str(ip_network(v, strict=True)) for v in value]

    def router_names(self) -> list[str]:
        return self.observers


def _relation(prefix: str, registered: list[str], node: str) -> str:
    """How `prefix` relates to what `node` is registered for, for a failure message."""
    net = ip_network(prefix)
    for reg in map(ip_network, registered):
        if net.version != reg.version:
            continue
        if net == reg:
            return f"{node}'s registered prefix"
        if net.subnet_of(reg):  # type: ignore[arg-type]
            return (
                f"a more-specific (/{net.prefixlen}) of {node}'s registered {reg}: "
                f"registered is exactly /{reg.prefixlen}"
            )
        if net.supernet_of(reg):  # type: ignore[arg-type]
            return f"a covering prefix of {node}'s registered {reg}, not {reg} itself"
    if registered:
        return f"not {node}'s: it is registered for {', '.join(registered)} only"
    return f"not registered to {node}"


@check("probe_not_accepted", ObserversParams, needs_probe=True, refuses=True)
def probe_not_accepted(ctx: CheckContext, params: ObserversParams) -> str:
    """No observer holds a probe's route (a path through the probing AS with the probe's
    origin): the learner's import policy dropped it."""
    probe = ctx.require_probe()
    leaks = []
    for prefix in dict.fromkeys(probe.prefixes):
        held = []
        for observer in params.observers:
            bad = [
                r
                for r in ctx.running.router(observer).routes(prefix)
                if r.origin_as == probe.origin_as and probe.asn in r.as_path
            ]
            verb = "accepted" if observer == ctx.learner else "received"
            held += [f"{observer} {verb} it with AS path {r.path_text}" for r in bad[:1]]
        if held:
            why = _relation(prefix, params.registered, probe.node)
            leaks.append(f"{prefix} from {probe.node} ({why}): " + ", ".join(held))
    if leaks:
        raise CheckFailed(
            " | ".join(leaks) + f". {ctx.learner}'s import policy towards {probe.node} "
            f"(AS{probe.asn}) let it in: {probe.node} may only announce what it is registered for."
        )
    return f"{len(set(probe.prefixes))} prefixes from AS{probe.asn} reached none of " + ", ".join(
        params.observers
    )


class AliveParams(Params):
    nodes: list[str] | None = Field(default=None, description="routers to look at; all if absent")
    within: float = Field(
        default=5.0,
        gt=0,
        le=30,
        description="seconds in which every neighbour must be heard from (the labs' keepalive "
        "interval is 3 s; the route refresh the neighbours ask for is answered at once)",
    )

    resend_to_learner: bool = Field(
        default=True,
        description="the neighbours also send the learner's router all their routes again, so "
        "its import policy is applied to every route anew, as after any session reset: a "
        "filter edited in place is graded as configured. False in a lab that grades the soft "
        "reset itself (rpki-rov: invalid routes held from before ROV must go)",
    )

    def router_names(self) -> list[str]:
        return self.nodes or []


ALIVE_POLL = 0.1


def _heard(ctx: CheckContext, names: Iterable[str]) -> dict[tuple[str, str], SessionHeard]:
    return {(n, h.peer): h for n in names for h in ctx.running.router(n).heard()}


@check("bgp_sessions_alive", AliveParams)
def bgp_sessions_alive(ctx: CheckContext, params: AliveParams) -> str:
    """Every established session carries messages while the check runs: each router hears from
    each neighbour (a keepalive at least). Established alone can be stale: a packet filter that
    drops BGP shows only when the hold timer expires, seconds after a check would have passed."""
    names = params.nodes or ctx.running.router_names()
    start = time.monotonic()
    before = _heard(ctx, names)
    silent = set(before)
    # The neighbours ask for a route refresh: a message each way on every session now, rather
    # than at the next keepalive; and send their routes again, so the learner's import policy
    # applies to all of them as it is configured now. No command runs on the learner's router.
    for name in names:
        if name != ctx.learner:
            ctx.running.router(name).request_refresh(resend=params.resend_to_learner)
    while True:
        time.sleep(ALIVE_POLL)
        elapsed = time.monotonic() - start
        now = _heard(ctx, sorted({n for n, _ in silent}))  # only routers still waiting
        gone = [k for k in silent if k not in now]
        if gone:
            raise CheckFailed(
                "; ".join(f"{n}'s session with {p} went down during the check" for n, p in gone)
                + ". Look at `show bgp summary` on those routers, and at any packet filter on "
                "their links."
            )
        silent = {k for k in silent if not now[k].heard_since(before[k], elapsed)}
        if not silent:
            return (
                f"{len(before)} sessions on {', '.join(names)} carried messages in {elapsed:.1f} s"
            )
        if elapsed >= params.within:
            break
    raise CheckFailed(
        "; ".join(f"{n} heard nothing from {p} for {elapsed:.1f} s" for n, p in sorted(silent))
        + ". Keepalives are due every few seconds: something between them drops BGP packets "
        "(a packet filter or uRPF rule on the link?), and the session will go down when its "
        "hold timer expires."
    )
