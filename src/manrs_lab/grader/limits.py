"""Lifting what a prefix limit left on a router's session: the grader's own bursts (limit
probes) trip limits on purpose, and other checks' leaked probes may fill one by accident."""

from __future__ import annotations

from manrs_lab.drivers.bird import BirdRouter
from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.drivers.router import Router
from manrs_lab.state import BgpSession


def lift_limit(router: Router, session: BgpSession, *, always: bool = False) -> str | None:
    """BIRD: `reload in` (an `import limit ... action block` stays blocked after the routes are
    gone; a reload lifts it, the router's own filters unchanged), for a limit marked hit, or
    `always`. FRR: `clear bgp` for a session its maximum-prefix shut (it would stay down until
    cleared, or its restart timer). What was done, or None when the session needs nothing."""
    if isinstance(router, BirdRouter) and session.name and (session.limit_hit or always):
        router.birdc(f"reload in {session.name}")
        return f"{router.name} re-imported the routes of {session.name} (its limit lifted)"
    if isinstance(router, FrrRouter) and "PfxCt" in session.state:
        router.bgpd_commands([f"clear bgp {session.peer}"])
        return f"{router.name}'s session with {session.peer} restarted after its limit"
    return None
