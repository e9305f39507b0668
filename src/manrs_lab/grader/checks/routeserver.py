"""Route-server checks (MANRS for IXPs): graded at the members that receive the RS's routes.

A route server is transparent (`rs client`): what a member sends reaches the other members with
the path and next hop it was sent with. So a probe's route is recognised at an observer by the
exact path the probing member sent, and every verdict names the rule the route broke.
"""

from __future__ import annotations

import time
from enum import StrEnum
from ipaddress import ip_network

from pydantic import Field

from manrs_lab.errors import ExecError
from manrs_lab.grader.context import CheckContext, ProbeResult
from manrs_lab.grader.limits import lift_limit
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.roa import rov_state
from manrs_lab.spec.topology import Role
from manrs_lab.special_purpose import bogon_of
from manrs_lab.state import BgpRoute, RpkiState

# Special-purpose IPv4/IPv6 space a learner is likely to meet (RFC 6890), for messages only.
SPECIAL_PURPOSE = {
    "0.0.0.0/8": "'this network' space (RFC 791)",
    "10.0.0.0/8": "private-use space (RFC 1918)",
    "100.64.0.0/10": "shared CGN space (RFC 6598)",
    "127.0.0.0/8": "loopback space (RFC 1122)",
    "169.254.0.0/16": "link-local space (RFC 3927)",
    "172.16.0.0/12": "private-use space (RFC 1918)",
    "192.0.0.0/24": "IETF protocol assignments (RFC 6890)",
    "192.0.2.0/24": "documentation space (RFC 5737)",
    "192.168.0.0/16": "private-use space (RFC 1918)",
    "198.51.100.0/24": "documentation space (RFC 5737)",
    "203.0.113.0/24": "documentation space (RFC 5737)",
    "224.0.0.0/4": "multicast space (RFC 5771)",
    "240.0.0.0/4": "reserved space (RFC 1112)",
    "fc00::/7": "unique-local space (RFC 4193)",
    "fe80::/10": "link-local space (RFC 4291)",
}


class Rule(StrEnum):
    IRR = "irr"
    FIRST_AS = "first_as"
    NEXT_HOP = "next_hop"
    BOGON = "bogon"
    LIMIT = "limit"


class ViolationParams(Params):
    observers: list[str] = Field(min_length=1, description="members that must not get the route")
    rule: Rule = Field(description="the rule the probe's routes break (for the explanation)")
    as_set: str | None = Field(default=None, description="the prober's as-set, for messages")

    def router_names(self) -> list[str]:
        return self.observers


def _sent_paths(probe: ProbeResult) -> set[tuple[int, ...]]:
    """The paths the probing member may have sent: its AS first, or (a router that does not
    prepend itself) just the relayed or forged part."""
    paths = {(probe.asn, *probe.as_path)}
    if probe.as_path:
        paths.add(probe.as_path)
    return paths


def _from_probe(route: BgpRoute, probe: ProbeResult) -> bool:
    return route.peer is not None and route.as_path in _sent_paths(probe)


def _member_addresses(ctx: CheckContext) -> dict[str, str]:
    """Peering-LAN address -> member name, from the route server's sessions."""
    by_as = {n.asn: n.name for n in ctx.running.lab.topology.nodes.values() if n.asn is not None}
    return {
        s.peer: by_as.get(s.remote_as, f"AS{s.remote_as}")
        for s in ctx.running.router(ctx.learner).sessions()
    }


def special_purpose(prefix: str) -> str | None:
    """'private-use space (RFC 1918)' for a prefix inside special-purpose space, else None."""
    net = ip_network(prefix)
    for block, what in SPECIAL_PURPOSE.items():
        special = ip_network(block)
        if special.version == net.version and special.supernet_of(net):  # type: ignore[arg-type]
            return what
    return None


def _why(ctx: CheckContext, params: ViolationParams, probe: ProbeResult, route: BgpRoute) -> str:
    member = f"{probe.node} (AS{probe.asn})"
    if params.rule is Rule.IRR:
        where = f"{probe.node}'s as-set {params.as_set}" if params.as_set else f"{member}'s as-set"
        return (
            f"{route.prefix} is not among the routes registered for {where}: build {probe.node}'s "
            "prefix filter from its as-set (`manrs-lab irr FILE --as-set AS-...`) and accept "
            "only those prefixes"
        )
    if params.rule is Rule.FIRST_AS:
        first = route.as_path[0] if route.as_path else None
        return (
            f"its first AS is AS{first}, but {member} sent it: a member's routes must start with "
            "the member's own AS (BIRD: `bgp_path.first`; the origin, `bgp_path.last`, may differ)"
        )
    if params.rule is Rule.NEXT_HOP:
        addresses = _member_addresses(ctx)
        own = next((a for a, n in addresses.items() if n == probe.node), "its own address")
        hop = route.next_hop or "?"
        whose = f" ({addresses[hop]}'s address)" if hop in addresses else ""
        return (
            f"its next hop is {hop}{whose}, but {member} sent it from {own}: traffic would go to "
            f"a router that never offered the route. Accept a member's routes only with the "
            "member's own address as next hop (BIRD: `bgp_next_hop`)"
        )
    bogon = bogon_of(route.prefix)
    what = bogon.describe() if bogon is not None else special_purpose(route.prefix)
    return (
        f"{route.prefix} is {what or 'special-purpose space'}: no one "
        f"may announce it, even if it is registered in {probe.node}'s IRR data. Drop bogons "
        "from every member"
    )


def _where_to_look(ctx: CheckContext, probe: ProbeResult) -> str:
    """The command that shows what the route server accepted from the probing member."""
    session = next(
        (s for s in ctx.running.router(ctx.learner).sessions() if s.remote_as == probe.asn), None
    )
    if session is None:
        return ""
    if ctx.running.lab.topology.nodes[ctx.learner].role is Role.BIRD:
        return f"Look at `birdc show route protocol {session.name} all` on {ctx.learner}."
    return f"Look at `show bgp neighbors {session.peer} routes` on {ctx.learner}."


@check("rs_violation_dropped", ViolationParams, needs_probe=True, refuses=True)
def rs_violation_dropped(ctx: CheckContext, params: ViolationParams) -> str:
    """No observer (member) holds the probe's routes: the route server dropped them."""
    probe = ctx.require_probe()
    leaks: list[str] = []
    why = ""
    for observer in params.observers:
        for prefix in probe.prefixes:
            for route in ctx.running.router(observer).routes(prefix):
                if _from_probe(route, probe):
                    hop = f", next hop {route.next_hop}" if route.next_hop else ""
                    leaks.append(f"{observer} received {prefix} (AS path {route.path_text}{hop})")
                    why = why or _why(ctx, params, probe, route)
    if leaks:
        raise CheckFailed(
            "; ".join(leaks)
            + f" from {probe.node} through {ctx.learner}: {why}. {_where_to_look(ctx, probe)}"
        )
    return f"{', '.join(probe.prefixes)} from {probe.node} reached none of " + ", ".join(
        params.observers
    )


class AcceptedParams(Params):
    observers: list[str] = Field(min_length=1, description="members that must get the routes")
    rule: Rule | None = Field(
        default=None,
        description="the rule a wrong filter most likely applies to drop them (for the message)",
    )
    limit: int | None = Field(default=None, description="the member's prefix limit (messages)")

    def router_names(self) -> list[str]:
        return self.observers


def _dropped_why(ctx: CheckContext, params: AcceptedParams, probe: ProbeResult) -> str:
    member = f"{probe.node} (AS{probe.asn})"
    if params.rule is Rule.FIRST_AS:
        return (
            f"{member} relays it for AS{probe.origin_as}: its first AS is the member's, its "
            "origin is not. A first-AS rule compares the first AS (BIRD `bgp_path.first`) with "
            "the member's AS, not the origin (`bgp_path.last`)"
        )
    if params.rule is Rule.LIMIT:
        held = len(_member_routes(ctx, ctx.learner, probe.asn, probe))
        return (
            f"{member} sends {len(probe.prefixes)} more routes, {held} in all as {ctx.learner} "
            f"holds them, within its limit of {params.limit}: every route up to the limit must "
            "pass (a limit lower than the member's PeeringDB figure, or one counting routes "
            "the filter rejected, drops legitimate routes)"
        )
    return f"{member} may announce it: it breaks no rule"


def _rpki_note(ctx: CheckContext, probe: ProbeResult) -> str:
    """The other reason a route-server filter may drop a legitimate route: its RPKI handling."""
    from manrs_lab.grader.checks.rpki import _published  # noqa: PLC0415 (sibling module)

    vrps = _published(ctx)
    states = {rov_state(p, probe.origin_as, vrps) for p in probe.prefixes}
    if states == {RpkiState.NOT_FOUND}:
        return (
            ". It is RPKI not found (no ROA covers it): a filter that keeps only RPKI-valid "
            "routes drops it too, and only invalid routes may be dropped"
        )
    if states == {RpkiState.VALID} and probe.asn != probe.origin_as:
        return (
            f". It is RPKI valid for its origin AS{probe.origin_as}: validating the first AS "
            "(`bgp_path.first`) instead of the origin (`bgp_path.last`) drops it too"
        )
    return ""


@check("rs_route_accepted", AcceptedParams, needs_probe=True)
def rs_route_accepted(ctx: CheckContext, params: AcceptedParams) -> str:
    """Every observer holds every probe route, with the path the member sent: the route server
    passed on what breaks no rule."""
    probe = ctx.require_probe()
    missing = [
        f"{observer} has no {prefix} from {probe.node}"
        for observer in params.observers
        for prefix in probe.prefixes
        if not any(_from_probe(r, probe) for r in ctx.running.router(observer).routes(prefix))
    ]
    if missing:
        raise CheckFailed(
            "; ".join(missing)
            + f" (AS path {' '.join(map(str, (probe.asn, *probe.as_path)))}): "
            + _dropped_why(ctx, params, probe)
            + _rpki_note(ctx, probe)
            + f". {_where_to_look(ctx, probe)}"
        )
    return f"{', '.join(probe.prefixes)} from {probe.node} reached " + ", ".join(params.observers)


LIMIT_SETTLE = 5.0  # seconds for a member's burst to reach the route server and its members


class LimitParams(Params):
    observers: list[str] = Field(min_length=1)
    limit: int = Field(ge=1, description="the member's prefix limit (its PeeringDB maximum)")

    def router_names(self) -> list[str]:
        return self.observers


def _earlier_probes(ctx: CheckContext, probe: ProbeResult | None) -> set[str]:
    """Fixed prefixes other checks' probes announce from the same member: one just withdrawn
    (the limit probed at its number, right before one past it) may linger a moment."""
    if probe is None:
        return set()
    return {
        p
        for c in ctx.running.lab.spec.checks
        if c.probe is not None and c.probe.announce.node == probe.node
        for p in c.probe.announce.prefixes
        if isinstance(p, str) and p not in probe.prefixes
    }


def _member_routes(
    ctx: CheckContext, observer: str, asn: int, probe: ProbeResult | None = None
) -> list[BgpRoute]:
    """The member's routes at `observer`: what it announces itself, and this check's burst."""
    skip = _earlier_probes(ctx, probe)
    return [
        r
        for r in ctx.running.router(observer).routes()
        if r.peer is not None and r.as_path[:1] == (asn,) and r.prefix not in skip
    ]


@check("rs_prefix_limit", LimitParams, needs_probe=True)
def rs_prefix_limit(ctx: CheckContext, params: LimitParams) -> str:
    """While the probing member floods the RS, no observer gets more than `limit` of its routes.

    Judged once the burst has had its effect: some of it reached the observers, or the RS closed
    the member's session (`action restart`/`disable`), or the session sits at its limit with the
    rest blocked. Until then (a busy machine delays the burst) it looks again, up to a few
    seconds, so a slow burst cannot pass for a filtered one."""
    probe = ctx.require_probe()
    burst = set(probe.prefixes)
    deadline = time.monotonic() + LIMIT_SETTLE
    while True:
        held = {obs: _member_routes(ctx, obs, probe.asn, probe) for obs in params.observers}
        over = [
            f"{obs} holds {len(r)} routes from {probe.node}"
            for obs, r in held.items()
            if len(r) > params.limit
        ]
        if over:
            raise CheckFailed(
                "; ".join(over) + f" (AS{probe.asn}), more than its limit of {params.limit}: "
                f"{ctx.learner} passed on the whole burst of {len(burst)} routes "
                f"{probe.node} sent. Give {probe.node}'s session a prefix limit of "
                f"{params.limit} (BIRD: `import limit N action block` or `action restart` in "
                "its ipv4 channel)."
            )
        counts = ", ".join(f"{obs} {len(r)}" for obs, r in held.items())
        session = next(
            (s for s in ctx.running.router(ctx.learner).sessions() if s.remote_as == probe.asn),
            None,
        )
        if session is None or not session.established:
            return (
                f"{probe.node} sent {len(burst)} more routes and {ctx.learner} closed its "
                f"session; observers hold {counts}"
            )
        seen = any(burst & {r.prefix for r in routes} for routes in held.values())
        if seen or (session.prefixes_received or 0) >= params.limit:
            return (
                f"{probe.node} sent {len(burst)} more routes; observers hold at most "
                f"{params.limit}: {counts}"
            )
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"{probe.node}'s burst of {len(burst)} routes had no effect within "
                f"{LIMIT_SETTLE:g} s: no observer received any of it, and {ctx.learner} still "
                f"holds {session.prefixes_received} routes from {probe.node}, below the limit of "
                f"{params.limit}. Is {ctx.learner} dropping them for another reason?"
            )
        time.sleep(0.1)


class LimitResetParams(Params):
    member: str = Field(description="the member whose session a limit probe may have tripped")

    def router_names(self) -> list[str]:
        return [self.member]


@check("rs_limit_reset", LimitResetParams)
def rs_limit_reset(ctx: CheckContext, params: LimitResetParams) -> str:
    """Undo what a prefix-limit probe left once its burst is withdrawn (no points; never
    fails): a BIRD `import limit ... action block` stays blocked after the routes are gone
    (a reload lifts it, with the learner's own filters), and a tripped FRR session stays down
    until cleared. Otherwise the member's routes would be blocked at the next check."""
    learner = ctx.running.router(ctx.learner)
    asn = ctx.running.router(params.member).asn
    session = next((s for s in learner.sessions() if s.remote_as == asn), None)
    if session is None:
        return f"{ctx.learner} has no session with {params.member}: nothing to reset"
    try:
        # BIRD: reload also when the limit is not marked hit (as this check always did)
        done = lift_limit(learner, session, always=True)
    except ExecError as exc:
        return f"could not reset {params.member}'s limit on {ctx.learner}: {exc}"
    return done or f"{params.member}'s session on {ctx.learner} needs no reset"
