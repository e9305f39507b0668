"""Hijack checks: the learner is the attacker, so these are positive checks on observers.

"Did the observers that should follow the hijack follow it, and did the others not", "where does
a host's traffic end now", "is nothing of the hijack left". Graded from routers' BGP tables and
from traceroutes between hosts, never from configuration text.
"""

from __future__ import annotations

import json
from ipaddress import ip_address, ip_network

from pydantic import Field, field_validator

from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.drivers.host import Hop
from manrs_lab.errors import ExecError
from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.state import BgpRoute


def _net(value: str) -> str:
    return str(ip_network(value, strict=True))


def _paths(routes: list[BgpRoute]) -> str:
    if not routes:
        return "no route at all"
    return "; ".join(
        f"AS path {r.path_text} (origin AS{r.origin_as}){' best' if r.best else ''}" for r in routes
    )


def _tail(hint: str) -> str:
    return f" {hint}" if hint else ""


# -- which path an observer prefers ---------------------------------------------------------
class BestPathParams(Params):
    observer: str
    prefix: str = Field(description="exactly this prefix (no longest match)")
    origin_as: int = Field(description="the origin AS the observer's best path must have")
    also_holds_origin: int | None = Field(
        default=None,
        description="the observer must also hold a (losing) path from this origin: it saw the "
        "other announcement and still chose `origin_as`",
    )
    hint: str = Field(default="", description="where to look, appended to a failure")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _net(value)

    def router_names(self) -> list[str]:
        return [self.observer]


@check("best_path_origin", BestPathParams)
def best_path_origin(ctx: CheckContext, params: BestPathParams) -> str:
    """The observer's best path for exactly `prefix` has origin `origin_as`."""
    routes = ctx.running.router(params.observer).routes(params.prefix)
    best = next((r for r in routes if r.best), None)
    if best is None:
        raise CheckFailed(
            f"{params.observer} has no route for {params.prefix} ({_paths(routes)})."
            + _tail(params.hint)
        )
    if best.origin_as != params.origin_as:
        raise CheckFailed(
            f"{params.observer}'s best path for {params.prefix} has origin AS{best.origin_as} "
            f"(AS path {best.path_text}), not AS{params.origin_as}. It holds: {_paths(routes)}."
            + _tail(params.hint)
        )
    others = [r for r in routes if not r.best]
    if params.also_holds_origin is not None:
        seen = [r for r in others if r.origin_as == params.also_holds_origin]
        if not seen:
            raise CheckFailed(
                f"{params.observer} uses AS path {best.path_text} for {params.prefix} but holds "
                f"no path for it from AS{params.also_holds_origin} ({_paths(routes)}): "
                f"AS{params.also_holds_origin} is not announcing exactly {params.prefix}."
                + _tail(params.hint)
            )
        return (
            f"{params.observer} prefers AS path {best.path_text} for {params.prefix} over "
            f"{seen[0].path_text} (origin AS{params.also_holds_origin})"
        )
    return f"{params.observer}'s best path for {params.prefix} is {best.path_text}"


# -- longest match: where an address's traffic goes ----------------------------------------
class CoveringParams(Params):
    observers: list[str] = Field(min_length=1)
    address: str = Field(description="an address; each observer's most specific route for it")
    origin_as: int
    hint: str = ""

    @field_validator("address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return str(ip_address(value))

    def router_names(self) -> list[str]:
        return self.observers


def _most_specific(routes: list[BgpRoute], address: str) -> list[BgpRoute]:
    addr = ip_address(address)
    covering = [r for r in routes if addr in ip_network(r.prefix)]
    if not covering:
        return []
    longest = max(ip_network(r.prefix).prefixlen for r in covering)
    return [r for r in covering if ip_network(r.prefix).prefixlen == longest]


@check("covering_route_origin", CoveringParams)
def covering_route_origin(ctx: CheckContext, params: CoveringParams) -> str:
    """On every observer, the most specific route covering `address` has origin `origin_as`."""
    wrong = []
    used = []
    for observer in params.observers:
        routes = _most_specific(ctx.running.router(observer).routes(), params.address)
        best = next((r for r in routes if r.best), routes[0] if routes else None)
        if best is None:
            wrong.append(f"{observer} has no route covering {params.address}")
        elif best.origin_as != params.origin_as:
            wrong.append(
                f"{observer} sends {params.address} along {best.prefix} from AS{best.origin_as} "
                f"(AS path {best.path_text})"
            )
        else:
            used.append(f"{observer} ({best.prefix}, AS path {best.path_text})")
    if wrong:
        raise CheckFailed(
            "; ".join(wrong) + f": their most specific route for {params.address} is not one "
            f"from AS{params.origin_as}." + _tail(params.hint)
        )
    return f"{params.address} goes to AS{params.origin_as} on " + ", ".join(used)


# -- nothing of an origin left but its own prefixes ------------------------------------------
class OriginOnlyParams(Params):
    origin_as: int
    allowed: list[str] = Field(description="the only prefixes `origin_as` may originate")
    observers: list[str] | None = Field(default=None, description="routers; all if absent")
    hint: str = ""

    @field_validator("allowed")
    @classmethod
    def _nets(cls, value: list[str]) -> list[str]:
        return [_net(v) for v in value]

    def router_names(self) -> list[str]:
        return self.observers or []


@check("origin_announces_only", OriginOnlyParams)
def origin_announces_only(ctx: CheckContext, params: OriginOnlyParams) -> str:
    """No router holds a route from `origin_as` other than the `allowed` prefixes."""
    names = params.observers or ctx.running.router_names()
    found = []
    for name in names:
        extra = sorted(
            {
                r.prefix
                for r in ctx.running.router(name).routes()
                if r.origin_as == params.origin_as and r.prefix not in params.allowed
            }
        )
        if extra:
            own = ctx.running.router(name).asn == params.origin_as
            verb = "still originates" if own else f"holds from AS{params.origin_as}"
            found.append(f"{name} {verb} {', '.join(extra)}")
    if found:
        raise CheckFailed(
            "; ".join(found) + f". AS{params.origin_as} may announce only "
            f"{', '.join(params.allowed)}." + _tail(params.hint)
        )
    return (
        f"AS{params.origin_as} originates only {', '.join(params.allowed)} on {len(names)} routers"
    )


# -- forwarding: BGP's choices are in the kernel ---------------------------------------------
class RoutersParams(Params):
    routers: list[str] | None = Field(default=None, description="routers; all if absent")

    def router_names(self) -> list[str]:
        return self.routers or []


def _kernel_prefixes(ctx: CheckContext, node: str) -> set[str]:
    found: set[str] = set()
    for family, default in (("-4", "0.0.0.0/0"), ("-6", "::/0")):
        out = ctx.running.handle(node).exec_ok(["ip", "-j", family, "route", "show"])
        for entry in json.loads(out or "[]"):
            dst = str(entry.get("dst", ""))
            if dst == "default":
                found.add(default)
            elif dst:
                found.add(str(ip_network(dst, strict=False)))
    return found


@check("forwarding_ready", RoutersParams)
def forwarding_ready(ctx: CheckContext, params: RoutersParams) -> str:
    """Every best route a router learned over BGP is in its kernel routing table (traffic
    follows the kernel, not the BGP table)."""
    names = params.routers or ctx.running.router_names()
    missing = []
    count = 0
    for name in names:
        router = ctx.running.router(name)
        if name == ctx.learner and isinstance(router, FrrRouter):
            # bgpd and staticd may start before zebra listens and connect seconds later: until
            # then nothing they learn or configure reaches the kernel. The learner's static
            # routes depend on staticd; everywhere else the kernel comparison below suffices.
            clients = router.vtysh("show zebra client summary").split()
            absent = [d for d in ("bgp", "static") if d not in clients]
            if absent:
                missing.append(f"{name}'s {' and '.join(absent)} daemon is not connected to zebra")
                continue
        learned = {r.prefix for r in router.routes() if r.best and r.peer}
        count += len(learned)
        lost = sorted(learned - _kernel_prefixes(ctx, name))
        if lost:
            missing.append(f"{name} has not installed {', '.join(lost)}")
    if missing:
        raise CheckFailed(
            "; ".join(missing) + ": BGP chose these routes but the kernel does not forward "
            "along them yet (`ip route` on the router, `show ip route` in vtysh)."
        )
    return f"{count} BGP routes installed in the kernels of {', '.join(names)}"


# -- traffic: where a host's packets end ------------------------------------------------------
class TrafficParams(Params):
    host: str = Field(description="the host node that sends (a traceroute)")
    address: str = Field(description="where it sends to")
    ends_at: str = Field(description="the node whose answer must end the trace")
    max_hops: int = Field(default=8, ge=2, le=30)
    hint: str = ""

    @field_validator("address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return str(ip_address(value))


def _address_owners(ctx: CheckContext) -> dict[str, set[str]]:
    """Every node's interface addresses (lo included: a router may own a service address)."""
    owners: dict[str, set[str]] = {}
    for name in ctx.running.lab.topology.nodes:
        links = json.loads(ctx.running.handle(name).exec_ok(["ip", "-j", "addr", "show"]))
        for link in links:
            for info in link.get("addr_info", []):
                addr = ip_address(info["local"])
                if not (addr.is_loopback or addr.is_link_local):
                    owners.setdefault(str(addr), set()).add(name)
    return owners


def _traceroute(ctx: CheckContext, host: str, address: str, max_hops: int) -> list[Hop]:
    """Like Host.traceroute, but `-w 1,0,0`: wait up to 1 s for every probe. traceroute's
    adaptive waits (3x / 10x another hop's round-trip time, microseconds here) count a reply
    delayed by a busy machine as lost."""
    result = ctx.running.handle(host).exec(
        ["traceroute", "-n", "-q", "1", "-w", "1,0,0", "-m", str(max_hops), address],
        timeout=max_hops * 1.5 + 5,
    )
    if not result.ok and not result.stdout.strip():
        raise ExecError(f"{host}: traceroute {address} failed: {result.stderr.strip()}")
    hops = []
    for line in result.stdout.splitlines()[1:]:
        parts = line.split()
        if parts and parts[0].isdigit():
            addr = parts[1] if len(parts) > 1 and parts[1] != "*" else None
            hops.append(Hop(ttl=int(parts[0]), address=addr))
    return hops


def _resolve(ctx: CheckContext, start: str, hops: list[Hop]) -> list[str | None]:
    """Hop addresses -> node names. An address several nodes own (a forged service address) is
    the one next to the previous hop: that is where the packet actually went."""
    owners = _address_owners(ctx)
    topology = ctx.running.lab.topology
    previous = start
    names: list[str | None] = []
    for hop in hops:
        if hop.address is None:
            names.append(None)
            continue
        candidates = owners.get(hop.address, set())
        neighbours = {remote.node for _, remote in topology.links_of(previous)}
        near = sorted(candidates & neighbours)
        if len(candidates) == 1:
            name = next(iter(candidates))
        elif len(near) == 1:
            name = near[0]
        elif candidates:
            name = " or ".join(sorted(candidates))
        else:
            name = hop.address
        names.append(name)
        previous = name
    return names


@check("traffic_ends_at", TrafficParams)
def traffic_ends_at(ctx: CheckContext, params: TrafficParams) -> str:
    """A traceroute from `host` to `address` is answered last by `ends_at`."""
    hops = _traceroute(ctx, params.host, params.address, params.max_hops)
    names = _resolve(ctx, params.host, hops)
    shown = [
        f"{name} ({hop.address})" if name != hop.address else str(hop.address)
        for hop, name in zip(hops, names, strict=True)
        if hop.address is not None
    ]
    answered = [n for n in names if n is not None]
    path = " -> ".join([params.host, *shown]) if shown else f"{params.host} -> (no answer)"
    if not answered:
        raise CheckFailed(
            f"traceroute from {params.host} to {params.address}: no hop answered."
            + _tail(params.hint)
        )
    last = answered[-1]
    if last != params.ends_at:
        raise CheckFailed(
            f"traceroute from {params.host} to {params.address} went {path}: it ends at "
            f"{last}, not at {params.ends_at}." + _tail(params.hint)
        )
    return f"{path}"


# -- the learner's own announcements ---------------------------------------------------------
class ExportParams(Params):
    observers: list[str] = Field(min_length=1, description="the probing node's neighbours")
    hint: str = ""

    def router_names(self) -> list[str]:
        return self.observers


@check("probe_not_exported", ExportParams, needs_probe=True, refuses=True)
def probe_not_exported(ctx: CheckContext, params: ExportParams) -> str:
    """What the probe makes a router originate by mistake does not leave it (egress filter)."""
    probe = ctx.require_probe()
    leaks = []
    for observer in params.observers:
        for prefix in probe.prefixes:
            leaks += [
                f"{observer} received {prefix} with AS path {r.path_text}"
                for r in ctx.running.router(observer).routes(prefix)
                if r.origin_as == probe.origin_as
            ]
    if leaks:
        raise CheckFailed(
            "; ".join(leaks) + f". The grader made {probe.node} originate "
            f"{', '.join(probe.prefixes)} by mistake, and {probe.node}'s export policy let it "
            "out." + _tail(params.hint)
        )
    return (
        f"{probe.node} originated {', '.join(probe.prefixes)}; none of "
        f"{', '.join(params.observers)} received it"
    )
