"""Route sanity checks (MANRS Action 1): bogons, prefix lengths, AS paths, max-prefix limits.

Probes make a neighbour send a bad route at check time; observers show whether the learner's
router let it in. Legitimate routes must keep flowing. A max-prefix burst is graded from the
learner's own session state (limit tripped, restart timer running), never from its config.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

from pydantic import BaseModel, ConfigDict, Field, field_validator

from manrs_lab.drivers.bird import BirdRouter
from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.errors import LabError
from manrs_lab.grader.context import CheckContext, ProbeResult
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.special_purpose import bogon_of, special_asn
from manrs_lab.state import BgpRoute, BgpSession


class Rules(BaseModel):
    """The lab's sanity rules, used to say why a route that got through is bad."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length_v4: int = 24
    min_length_v4: int = 8
    max_length_v6: int = 48
    min_length_v6: int = 16
    max_path_length: int = 50


def why_bad(prefix: str, as_path: tuple[int, ...], rules: Rules) -> list[str]:
    """Every reason the lab's rules give to drop this route (empty: nothing wrong with it)."""
    net: IPv4Network | IPv6Network = ip_network(prefix)
    reasons = []
    if net.prefixlen == 0:
        reasons.append("a default route")
    bogon = bogon_of(prefix)
    if bogon is not None and net.prefixlen > 0:
        reasons.append(f"a bogon: {bogon.describe()}")
    longest, shortest = (
        (rules.max_length_v4, rules.min_length_v4)
        if net.version == 4
        else (rules.max_length_v6, rules.min_length_v6)
    )
    if net.prefixlen > longest:
        reasons.append(f"too long: /{net.prefixlen} is longer than /{longest}")
    if 0 < net.prefixlen < shortest:
        reasons.append(f"too short: /{net.prefixlen} is shorter than /{shortest}")
    if len(as_path) > rules.max_path_length:
        reasons.append(f"an AS path of {len(as_path)} hops (more than {rules.max_path_length})")
    kinds = {a: special_asn(a) for a in as_path}
    private = sorted({a for a, r in kinds.items() if r is not None and r.kind == "private"})
    reserved = sorted({a for a, r in kinds.items() if r is not None and r.kind == "reserved"})
    if private:
        reasons.append(f"private AS{'es' if len(private) > 1 else ''} {private} in the AS path")
    if reserved:
        reasons.append(f"reserved AS{'es' if len(reserved) > 1 else ''} {reserved} in the path")
    return reasons


def _from_probe(route: BgpRoute, probe: ProbeResult) -> bool:
    """A path that carries the probe's origin and went through the probing AS."""
    return route.origin_as == probe.origin_as and probe.asn in route.as_path


def _short_path(route: BgpRoute) -> str:
    hops = route.as_path
    if len(hops) <= 12:
        return route.path_text
    return f"{' '.join(map(str, hops[:4]))} ... {' '.join(map(str, hops[-2:]))} ({len(hops)} hops)"


def _sessions_towards(ctx: CheckContext, router: str, node: str) -> list[BgpSession]:
    asn = ctx.running.router(node).asn
    return [s for s in ctx.running.router(router).sessions() if s.remote_as == asn]


def _family(session: BgpSession) -> str:
    return "IPv6" if ":" in session.peer else "IPv4"


# -- legitimate routes -------------------------------------------------------------------------
class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    observer: str
    prefix: str
    origin_as: int

    @field_validator("prefix")
    @classmethod
    def _net(cls, value: str) -> str:
        return str(ip_network(value, strict=True))


class LegitParams(Params):
    routes: list[Expected] = Field(min_length=1)
    hint: str = ""

    def router_names(self) -> list[str]:
        return sorted({r.observer for r in self.routes})


@check("legit_routes_present", LegitParams)
def legit_routes_present(ctx: CheckContext, params: LegitParams) -> str:
    """Every listed observer holds its prefix from the given origin (nothing legitimate lost)."""
    lost = []
    for want in params.routes:
        routes = ctx.running.router(want.observer).routes(want.prefix)
        if not any(r.origin_as == want.origin_as for r in routes):
            lost.append(f"{want.observer} has no route for {want.prefix} from AS{want.origin_as}")
    if lost:
        raise CheckFailed(
            "; ".join(lost) + f". Legitimate routes are being dropped: {ctx.learner}'s filters "
            "are too strict." + (f" {params.hint}" if params.hint else "")
        )
    return f"{len(params.routes)} legitimate routes present on " + ", ".join(params.router_names())


# -- bad routes from a probe -------------------------------------------------------------------
class ProbeObserversParams(Params):
    observers: list[str] = Field(min_length=1)
    rules: Rules = Field(default_factory=Rules)
    hint: str = ""

    def router_names(self) -> list[str]:
        return self.observers


@check("bad_route_dropped", ProbeObserversParams, needs_probe=True, refuses=True)
def bad_route_dropped(ctx: CheckContext, params: ProbeObserversParams) -> str:
    """No observer holds the probe's routes: the learner's import policy dropped them."""
    probe = ctx.require_probe()
    leaks = []
    for prefix in dict.fromkeys(probe.prefixes):
        held = []
        for observer in params.observers:
            bad = [r for r in ctx.running.router(observer).routes(prefix) if _from_probe(r, probe)]
            verb = "accepted" if observer == ctx.learner else "received"
            held += [f"{observer} {verb} it with AS path {_short_path(r)}" for r in bad[:1]]
        if held:
            path = (probe.asn, *probe.as_path)
            reasons = why_bad(prefix, path, params.rules) or ["(no rule of this lab matches)"]
            leaks.append(f"{prefix} from {probe.node} is {'; '.join(reasons)}: " + ", ".join(held))
    if leaks:
        raise CheckFailed(
            " | ".join(leaks) + f". Look at {ctx.learner}'s import policy on its sessions with "
            f"{probe.node} (`show bgp neighbors` lists the filters applied in and out)."
            + (f" {params.hint}" if params.hint else "")
        )
    return f"{len(set(probe.prefixes))} routes from {probe.node} reached none of " + ", ".join(
        params.observers
    )


@check("good_route_accepted", ProbeObserversParams, needs_probe=True)
def good_route_accepted(ctx: CheckContext, params: ProbeObserversParams) -> str:
    """Every observer holds the probe's routes: nothing in them breaks the lab's rules."""
    probe = ctx.require_probe()
    missing = []
    for prefix in dict.fromkeys(probe.prefixes):
        for observer in params.observers:
            if not any(_from_probe(r, probe) for r in ctx.running.router(observer).routes(prefix)):
                missing.append(f"{observer} has no route for {prefix}")
    if missing:
        path = " ".join(str(a) for a in (probe.asn, *probe.as_path))
        raise CheckFailed(
            "; ".join(missing) + f" from {probe.node} (AS path {path}, "
            f"{len(probe.as_path) + 1} hops). Nothing is wrong with these routes: "
            f"{ctx.learner}'s filters are too strict." + (f" {params.hint}" if params.hint else "")
        )
    return f"{len(set(probe.prefixes))} routes from {probe.node} reached " + ", ".join(
        params.observers
    )


# -- max-prefix ----------------------------------------------------------------------------------
class LimitParams(Params):
    router: str | None = Field(default=None, description="the limited router; the learner's")
    hint: str = ""

    def router_names(self) -> list[str]:
        return [self.router] if self.router else []


def _frr(ctx: CheckContext, name: str) -> FrrRouter:
    router = ctx.running.router(name)
    if not isinstance(router, FrrRouter):
        raise LabError(f"max-prefix checks read FRR neighbour state; {name} is not FRR")
    return router


def _neighbour(router: FrrRouter, peer: str) -> dict[str, object]:
    doc = router.show_json(f"show bgp neighbors {peer} json")
    info = doc.get(peer, {}) if isinstance(doc, dict) else {}
    return info if isinstance(info, dict) else {}


@check("max_prefix_enforced", LimitParams, needs_probe=True)
def max_prefix_enforced(ctx: CheckContext, params: LimitParams) -> str:
    """A burst from the probing neighbour trips a max-prefix limit on every session with it, and
    a restart timer is running: the session will come back by itself."""
    probe = ctx.require_probe()
    name = params.router or ctx.learner
    router = _frr(ctx, name)
    burst = {
        family: len({p for p in probe.prefixes if ip_network(p).version == version})
        for family, version in (("IPv4", 4), ("IPv6", 6))
    }
    sessions = _sessions_towards(ctx, name, probe.node)
    if not sessions:
        raise CheckFailed(f"{name} has no BGP session with {probe.node}.")
    problems = []
    done = []
    for session in sessions:
        what = f"{name}'s {_family(session)} session with {probe.node} ({session.peer})"
        info = _neighbour(router, session.peer)
        if not info.get("prefixesConfigExceedMax"):
            if session.established:
                problems.append(
                    f"{what} stayed Established with {session.prefixes_received} prefixes "
                    f"accepted after {burst[_family(session)]} extra ones: no maximum-prefix "
                    "limit tripped"
                )
            else:
                reason = info.get("lastNotificationReason") or info.get("lastResetDueTo")
                problems.append(f"{what} is {session.state} ({reason}), not shut by a limit")
            continue
        restart_ms = info.get("restartInTimerMsec")
        if not isinstance(restart_ms, int) or restart_ms <= 0:
            problems.append(
                f"{what} was shut by its maximum-prefix limit ({session.state}) but no restart "
                "timer runs: it stays down until someone clears it by hand"
            )
            continue
        done.append(f"{what}: limit tripped, restarts in {restart_ms // 1000} s")
    if problems:
        raise CheckFailed(
            "; ".join(problems)
            + f". The grader made {probe.node} leak "
            + " and ".join(f"{n} {family}" for family, n in burst.items() if n)
            + " prefixes at once."
            + (f" {params.hint}" if params.hint else "")
        )
    return "; ".join(done)


@check("max_prefix_not_reached", LimitParams, needs_probe=True)
def max_prefix_not_reached(ctx: CheckContext, params: LimitParams) -> str:
    """A burst that brings the probing neighbour exactly to the task's limit trips nothing:
    every session with it stays Established and the burst's routes are accepted (a limit set
    too low, or counting wrong, cuts a customer off while it does nothing wrong)."""
    probe = ctx.require_probe()
    name = params.router or ctx.learner
    router = _frr(ctx, name)
    sessions = _sessions_towards(ctx, name, probe.node)
    if not sessions:
        raise CheckFailed(f"{name} has no BGP session with {probe.node}.")
    problems = []
    counts = []
    for session in sessions:
        family = _family(session)
        what = f"{name}'s {family} session with {probe.node} ({session.peer})"
        info = _neighbour(router, session.peer)
        if info.get("prefixesConfigExceedMax") or not session.established:
            reason = info.get("lastNotificationReason") or info.get("lastResetDueTo") or ""
            problems.append(
                f"{what} went down ({session.state}{', ' + str(reason) if reason else ''})"
            )
            continue
        counts.append(f"{what}: {session.prefixes_received} prefixes, Established")
    missing = [
        p
        for p in dict.fromkeys(probe.prefixes)
        if not any(_from_probe(r, probe) for r in router.routes(p))
    ]
    if problems or missing:
        burst = {
            family: len({p for p in probe.prefixes if ip_network(p).version == version})
            for family, version in (("IPv4", 4), ("IPv6", 6))
        }
        said = "; ".join(problems)
        if missing:
            said += ("; " if said else "") + f"{name} did not accept {', '.join(missing[:4])}"
            said += f" (and {len(missing) - 4} more)" if len(missing) > 4 else ""
        raise CheckFailed(
            said
            + f". The grader made {probe.node} announce "
            + " and ".join(f"{n} more {family}" for family, n in burst.items() if n)
            + " prefixes: with its own, exactly as many per family as the limit allows. A "
            "limit must let a neighbour reach it and trip only beyond it."
            + (f" {params.hint}" if params.hint else "")
        )
    return "; ".join(counts)


class RestoreParams(Params):
    router: str | None = Field(default=None, description="the limited router; the learner's")
    neighbour: str = Field(description="the node whose sessions must come back")
    routes: list[Expected] = Field(
        default_factory=list, description="routes that must flow again once they are back"
    )

    def router_names(self) -> list[str]:
        return ([self.router] if self.router else []) + sorted({r.observer for r in self.routes})


def _clear(ctx: CheckContext, name: str, session: BgpSession) -> None:
    router = ctx.running.router(name)
    if isinstance(router, FrrRouter):
        router.bgpd_commands([f"clear bgp {session.peer}"])
    elif isinstance(router, BirdRouter) and session.name:
        router.birdc(f"restart {session.name}")


@check("sessions_restored", RestoreParams)
def sessions_restored(ctx: CheckContext, params: RestoreParams) -> str:
    """After a burst is withdrawn, the sessions with `neighbour` are Established again. A session
    still waiting for its max-prefix restart timer is cleared: the grader does not wait minutes
    for what the previous check already saw scheduled."""
    name = params.router or ctx.learner
    down = []
    for session in _sessions_towards(ctx, name, params.neighbour):
        if session.established:
            continue
        if "PfxCt" in session.state:
            _clear(ctx, name, session)  # the check's `wait:` sees it come back
        down.append(f"{name}'s session with {params.neighbour} ({session.peer}) is {session.state}")
    if down:
        raise CheckFailed("; ".join(down) + ". `show bgp summary` shows why.")
    lost = [
        f"{want.observer} has no route for {want.prefix} from AS{want.origin_as} yet"
        for want in params.routes
        if not any(
            r.origin_as == want.origin_as
            for r in ctx.running.router(want.observer).routes(want.prefix)
        )
    ]
    if lost:
        raise CheckFailed(
            f"{name}'s sessions with {params.neighbour} are Established again, but "
            + "; ".join(lost)
            + "."
        )
    return f"{name}'s sessions with {params.neighbour} are Established and routes flow again"
