"""BGP checks, graded from what routers hold after their import policy."""

from __future__ import annotations

from ipaddress import ip_network

from pydantic import Field, field_validator

from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.state import BgpRoute


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

    def router_names(self) -> list[str]:
        return self.observers


@check("probe_not_accepted", ObserversParams, needs_probe=True)
def probe_not_accepted(ctx: CheckContext, params: ObserversParams) -> str:
    """No observer holds a route for a probe's prefix originated by the probing AS."""
    probe = ctx.require_probe()
    leaks = []
    for observer in params.observers:
        for prefix in probe.prefixes:
            bad = [
                r for r in ctx.running.router(observer).routes(prefix) if r.origin_as == probe.asn
            ]
            leaks += [
                f"{observer} {'accepted' if observer == ctx.learner else 'received'} {prefix} "
                f"with AS path {r.path_text} (origin AS{probe.asn})"
                for r in bad
            ]
    if leaks:
        raise CheckFailed(
            "; ".join(leaks) + f". {ctx.learner}'s import policy towards {probe.node} "
            f"(AS{probe.asn}) let it in: {probe.node} may only announce what it is registered for."
        )
    return f"{', '.join(probe.prefixes)} from AS{probe.asn} reached none of " + ", ".join(
        params.observers
    )
