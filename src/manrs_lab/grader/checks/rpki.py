"""RPKI checks: the RTR session, route origin validation (ROV) and published ROAs.

Graded from what routers hold. The VRPs a cache serves are the lab's published data (the RIR
side), read only to explain a verdict: "RPKI-invalid because ROA X authorizes AS Y only".
"""

from __future__ import annotations

from ipaddress import ip_network

from pydantic import Field, field_validator

from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import LabError
from manrs_lab.grader.context import CheckContext, ProbeResult
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.roa import explain_state, rov_state, same_vrps, vrp_text
from manrs_lab.spec.topology import Role
from manrs_lab.state import BgpRoute, RpkiState


def _cache_node(ctx: CheckContext, name: str | None) -> str:
    caches = [n.name for n in ctx.running.lab.topology.nodes.values() if n.role is Role.RTR]
    if name is not None:
        if name not in caches:
            raise LabError(f"{name} is not an RTR cache of this lab (caches: {caches})")
        return name
    if len(caches) != 1:
        raise LabError(f"name the RTR cache: this lab has {len(caches)} ({caches})")
    return caches[0]


def _published(ctx: CheckContext) -> list[Vrp]:
    """Every VRP the lab's caches serve (what the RPKI says)."""
    vrps: list[Vrp] = []
    for node in ctx.running.lab.topology.nodes.values():
        if node.role is Role.RTR:
            vrps += ctx.running.rtr(node.name).vrps()
    return vrps


def _paths(routes: list[BgpRoute]) -> str:
    return "; ".join(f"AS path {r.path_text}" for r in routes) or "no route at all"


def _from_probe(route: BgpRoute, probe: ProbeResult) -> bool:
    """A path that carries the probe's origin and went through the probing AS."""
    return route.origin_as == probe.origin_as and probe.asn in route.as_path


def _probe_origin_text(probe: ProbeResult) -> str:
    if not probe.as_path:
        return f"originated by {probe.node} (AS{probe.asn})"
    return f"origin AS{probe.origin_as}, sent by {probe.node} (AS{probe.asn})"


def _first_as_advice(prefix: str, probe: ProbeResult, vrps: list[Vrp], dropped: bool) -> str:
    """For a relayed path whose first AS (the neighbour's) and origin differ: the verdict a
    router that validates the first AS instead of the origin reaches, when it is the wrong one."""
    if not probe.as_path or probe.asn == probe.origin_as:
        return ""
    by_first = rov_state(prefix, probe.asn, vrps)
    by_origin = rov_state(prefix, probe.origin_as, vrps)
    if dropped and by_origin is not RpkiState.INVALID and by_first is RpkiState.INVALID:
        wrong = "drops this route"
    elif not dropped and by_origin is RpkiState.INVALID and by_first is not RpkiState.INVALID:
        wrong = f"finds this route {by_first.value} and keeps it"
    else:
        return ""
    return (
        f" Validating the first AS of the path (AS{probe.asn}, the neighbour's) instead of the "
        f"origin (AS{probe.origin_as}, the last AS) {wrong}: BIRD `roa_check(TABLE, net, "
        "bgp_path.last)`, not `bgp_path.first`."
    )


# -- the RTR session ----------------------------------------------------------------------
class CacheParams(Params):
    router: str = Field(description="the router that must hold an RTR session")
    cache: str | None = Field(default=None, description="RTR cache node; the lab's only one")

    def router_names(self) -> list[str]:
        return [self.router]


@check("rpki_cache_connected", CacheParams)
def rpki_cache_connected(ctx: CheckContext, params: CacheParams) -> str:
    """`router` has an RTR session up and holds exactly the VRPs the cache serves now."""
    cache = _cache_node(ctx, params.cache)
    router = ctx.running.router(params.router)
    state = router.rpki()
    if not state.configured:
        raise CheckFailed(
            f"{params.router} has no RTR session with the RPKI cache {cache}, and no cache "
            "configured: every route is 'not found' and nothing can be dropped as invalid. FRR: "
            "an `rpki` block with `rpki cache ADDRESS PORT preference 1`; BIRD: a "
            "`protocol rpki` with roa4 and roa6 channels.",
            final=True,
        )
    if not state.connected:
        raise CheckFailed(
            f"{params.router} has no RTR session with the RPKI cache {cache}: without it, "
            "every route is 'not found' and nothing can be dropped as invalid. Look at "
            "`show rpki cache-connection` (FRR) or `birdc show protocols all` (BIRD)."
        )
    served = ctx.running.rtr(cache).vrps()
    loaded = router.rpki_vrps()
    if not same_vrps(loaded, served):
        wanted = {vrp_text(v) for v in served}
        held = {vrp_text(v) for v in loaded}
        missing = sorted(wanted - held)
        stale = sorted(held - wanted)
        parts = [f"{params.router} is connected to {cache} but holds {len(loaded)} VRPs"]
        if missing:
            parts.append(f"misses {', '.join(missing)}")
        if stale:
            parts.append(f"still holds {', '.join(stale)}, no longer published")
        raise CheckFailed(
            "; ".join(parts) + f". The cache serves {len(served)}; it refreshes every 5 s. If "
            "this lasts, check that the session carries both address families (BIRD: a roa4 "
            "and a roa6 channel)."
        )
    return f"{params.router} is connected to {cache} and holds its {len(loaded)} VRPs"


# -- route origin validation on the learner's router --------------------------------------
class ObserversParams(Params):
    observers: list[str] = Field(min_length=1)

    def router_names(self) -> list[str]:
        return self.observers


def _learner_view(ctx: CheckContext, prefix: str, probe: ProbeResult) -> str:
    """What the learner's router does with the probe's route: the reason a verdict went wrong."""
    learner = ctx.learner
    if learner == probe.node:
        return ""
    router = ctx.running.router(learner)
    held = [r for r in router.routes(prefix) if _from_probe(r, probe)]
    if not held:
        return f"{learner} does not hold it"
    states = {r.rpki_state for r in held if r.rpki_state is not None}
    marked = f", marked RPKI {', '.join(sorted(states))}," if states else ""
    use = "uses it" if any(r.best for r in held) else "keeps it"
    return f"{learner} holds it{marked} and {use}"


@check("rpki_invalid_dropped", ObserversParams, needs_probe=True, refuses=True)
def rpki_invalid_dropped(ctx: CheckContext, params: ObserversParams) -> str:
    """No observer holds the probe's RPKI-invalid routes: the learner's ROV dropped them."""
    probe = ctx.require_probe()
    leaks = []
    for prefix in probe.prefixes:
        seen = []
        for observer in params.observers:
            bad = [r for r in ctx.running.router(observer).routes(prefix) if _from_probe(r, probe)]
            verb = "accepted" if observer == ctx.learner else "received"
            seen += [f"{observer} {verb} it with AS path {r.path_text}" for r in bad]
        if seen:
            vrps = _published(ctx)
            why = explain_state(prefix, probe.origin_as, vrps)
            view = _learner_view(ctx, prefix, probe)
            leaks.append(
                f"{prefix} ({_probe_origin_text(probe)}) is RPKI-invalid: {why}. "
                + "; ".join(seen)
                + (f" ({view})" if view else "")
                + _first_as_advice(prefix, probe, vrps, dropped=False)
            )
    if leaks:
        raise CheckFailed(
            " | ".join(leaks) + f". {ctx.learner} must drop RPKI-invalid routes on this "
            f"session with {probe.node}: connected to the cache is not enough, and a lower "
            "preference is not enough either (an invalid route that is the only path is still "
            "used and passed on)."
        )
    return f"{', '.join(probe.prefixes)} ({_probe_origin_text(probe)}, RPKI-invalid) reached " + (
        "none of " + ", ".join(params.observers)
    )


@check("probe_accepted", ObserversParams, needs_probe=True)
def probe_accepted(ctx: CheckContext, params: ObserversParams) -> str:
    """Every observer holds the probe's routes (a valid or not-found route must get through)."""
    probe = ctx.require_probe()
    missing = []
    for prefix in probe.prefixes:
        for observer in params.observers:
            routes = ctx.running.router(observer).routes(prefix)
            if not any(_from_probe(r, probe) for r in routes):
                view = _learner_view(ctx, prefix, probe)
                vrps = _published(ctx)
                state = rov_state(prefix, probe.origin_as, vrps)
                why = explain_state(prefix, probe.origin_as, vrps)
                missing.append(
                    f"{observer} has no route for {prefix} ({_probe_origin_text(probe)}; "
                    f"{_paths(routes)}){f': {view}' if view else ''}. Its RPKI state is "
                    f"{state.value}: {why}." + _first_as_advice(prefix, probe, vrps, dropped=True)
                )
    if missing:
        raise CheckFailed(
            " ".join(missing) + f" Only invalid routes may be dropped: 'not found' is most "
            f"of the Internet (no ROA yet), and valid routes are what RPKI is for. Check "
            f"{ctx.learner}'s import policy towards {probe.node}."
        )
    return f"{', '.join(probe.prefixes)} ({_probe_origin_text(probe)}) reached " + ", ".join(
        params.observers
    )


class InvalidAbsentParams(Params):
    observers: list[str] = Field(min_length=1)
    via: str = Field(
        description="the neighbour whose session is graded: routes whose AS path crosses its AS"
    )

    def router_names(self) -> list[str]:
        return [*self.observers, self.via]


@check("rpki_invalid_routes_absent", InvalidAbsentParams)
def rpki_invalid_routes_absent(ctx: CheckContext, params: InvalidAbsentParams) -> str:
    """No observer holds a route through `via` that is RPKI-invalid for the VRPs the lab's
    caches serve, whatever its prefix: the lab's standing invalid routes and every probe's."""
    via_as = ctx.running.router(params.via).asn
    vrps = _published(ctx)
    leaks: list[str] = []
    held = 0
    for observer in params.observers:
        for route in ctx.running.router(observer).routes():
            if route.peer is None or via_as not in route.as_path:
                continue
            held += 1
            if rov_state(route.prefix, route.origin_as, vrps) is RpkiState.INVALID:
                why = explain_state(route.prefix, route.origin_as, vrps)
                leaks.append(
                    f"{observer} holds {route.prefix} with AS path {route.path_text}: "
                    f"RPKI-invalid, {why}"
                )
    if leaks:
        frr = ctx.running.lab.topology.nodes[ctx.learner].role is Role.FRR
        pitfall = (
            " FRR filters a route it already holds again only when asked: after changing the "
            "policy, and once the VRPs are loaded, `clear bgp ipv4 unicast * soft in`."
            if frr
            else ""
        )
        raise CheckFailed(
            "; ".join(leaks) + f". {ctx.learner} must drop every RPKI-invalid route it learns "
            f"from {params.via}, whatever its prefix: the routes already there too.{pitfall}"
        )
    return (
        f"none of the {held} routes through {params.via} that {', '.join(params.observers)} "
        "hold is RPKI-invalid"
    )


# -- ROAs as seen by a validating upstream ------------------------------------------------
class RouteStateParams(Params):
    observer: str = Field(description="a validating FRR router (shows each path's RPKI state)")
    prefix: str
    origin_as: int
    state: RpkiState = RpkiState.VALID

    @field_validator("prefix")
    @classmethod
    def _net(cls, value: str) -> str:
        return str(ip_network(value, strict=True))

    def router_names(self) -> list[str]:
        return [self.observer]


@check("route_rpki_state", RouteStateParams)
def route_rpki_state(ctx: CheckContext, params: RouteStateParams) -> str:
    """The observer holds `prefix` from `origin_as` with the given RPKI validation state."""
    routes = ctx.running.router(params.observer).routes(params.prefix)
    ours = [r for r in routes if r.origin_as == params.origin_as]
    if ours and params.state in {r.rpki_state for r in ours}:
        return (
            f"{params.observer} holds {params.prefix} from AS{params.origin_as}: "
            f"RPKI {params.state}"
        )
    vrps = _published(ctx)
    why = explain_state(params.prefix, params.origin_as, vrps)
    if not ours:
        state = rov_state(params.prefix, params.origin_as, vrps)
        dropped = (
            f": it is RPKI-invalid ({why}) and {params.observer} drops invalid routes"
            if state is RpkiState.INVALID
            else ""
        )
        raise CheckFailed(
            f"{params.observer} has no route for {params.prefix} from AS{params.origin_as} "
            f"({_paths(routes)}){dropped}. Look at your ROAs: `manrs-lab roa list`."
        )
    states = {r.rpki_state for r in ours}
    if states == {None}:
        raise LabError(f"{params.observer} shows no RPKI state: it does not validate routes")
    shown = ", ".join(sorted(s.value for s in states if s is not None))
    raise CheckFailed(
        f"{params.observer} holds {params.prefix} from AS{params.origin_as} with RPKI state "
        f"{shown}, not {params.state.value}: {why}. Look at `manrs-lab roa list`."
    )


def _roa_advice(ctx: CheckContext, probe: ProbeResult, state: RpkiState) -> str:
    """What to change in the learner's ROAs so that this hijack becomes invalid."""
    learner_as = ctx.running.router(ctx.learner).asn
    if state is RpkiState.NOT_FOUND:
        return (
            "Without a ROA for your prefix nobody can tell your route from the attacker's: "
            f"publish one that names your AS{learner_as} as origin"
        )
    if state is RpkiState.INVALID:
        return (
            "It is invalid yet still held: the validating router has not re-checked its routes "
            "since the ROAs changed. Publish with `manrs-lab roa`, which waits for that"
        )
    if probe.origin_as == learner_as:
        return (
            f"The attacker put your AS{learner_as} as origin, so only the length can make it "
            "invalid: a ROA should authorize exactly the prefixes you announce (maxLength equal "
            "to the announced length, RFC 9319), never more-specifics you do not announce"
        )
    return f"Your ROAs authorize AS{probe.origin_as}: a ROA is a promise about who may originate"


@check("hijack_invalid_by_roa", ObserversParams, needs_probe=True, refuses=True)
def hijack_invalid_by_roa(ctx: CheckContext, params: ObserversParams) -> str:
    """A validating observer drops the probe's hijack: the learner's ROAs make it invalid."""
    probe = ctx.require_probe()
    leaks = []
    advice: dict[RpkiState, str] = {}
    for prefix in probe.prefixes:
        for observer in params.observers:
            bad = [r for r in ctx.running.router(observer).routes(prefix) if _from_probe(r, probe)]
            vrps = _published(ctx) if bad else []
            for route in bad:
                state = route.rpki_state or rov_state(prefix, probe.origin_as, vrps)
                advice.setdefault(state, _roa_advice(ctx, probe, state))
                leaks.append(
                    f"{observer} accepted {prefix} with AS path {route.path_text} "
                    f"({_probe_origin_text(probe)}): RPKI {state.value}, "
                    f"{explain_state(prefix, probe.origin_as, vrps)}"
                )
    if leaks:
        raise CheckFailed(
            "; ".join(leaks) + ". " + ". ".join(advice.values()) + ". Look at `manrs-lab roa list`."
        )
    return f"{', '.join(probe.prefixes)} ({_probe_origin_text(probe)}) reached none of " + (
        ", ".join(params.observers)
    )
