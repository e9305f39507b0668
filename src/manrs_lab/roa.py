"""ROAs: the lab's RPKI "portal" (`manrs-lab roa`) and what a ROA means for a route.

A learner publishes ROAs for their own address space the way an RIR portal lets a resource
holder do it: list, add, remove, with the same refusals (not your space, impossible maxLength).
Publishing writes the lab's RTR cache file; stayrtr serves it within its 5 s refresh. Validating
routers then hold the new VRPs, and FRR re-runs its import policy only on a soft clear
inbound (recipes.md), which publishing does once they have them: the lab's stand-in for the
periodic re-validation real networks run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network

from manrs_lab.drivers.bird import BirdRouter
from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.drivers.router import Router
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import ExecError, LabError
from manrs_lab.progress import Progress
from manrs_lab.running import RunningLab
from manrs_lab.spec.topology import Role
from manrs_lab.state import RpkiState

MAX_ASN = 2**32 - 1
LOAD_TIMEOUT = 20.0  # the cache refreshes every 5 s; routers then ask for the changes
CONNECT_TIMEOUT = 10.0  # an RTR session comes up ~3 s after FRR starts
POLL = 0.2

Network = IPv4Network | IPv6Network


# -- what a ROA means (RFC 6811 origin validation) ----------------------------------------
def _net(prefix: str) -> Network:
    return ip_network(prefix, strict=False)


def vrp_text(vrp: Vrp) -> str:
    return f"{_net(vrp.prefix)} maxLength {vrp.max_length} AS{vrp.asn}"


def _key(vrp: Vrp) -> tuple[str, int, int]:
    return (str(_net(vrp.prefix)), vrp.max_length, vrp.asn)


def same_vrps(a: list[Vrp], b: list[Vrp]) -> bool:
    return {_key(v) for v in a} == {_key(v) for v in b}


def covering(prefix: str, vrps: list[Vrp]) -> list[Vrp]:
    """VRPs whose prefix covers `prefix` (equal or less specific)."""
    net = _net(prefix)
    return [
        v
        for v in vrps
        if _net(v.prefix).version == net.version and net.subnet_of(_net(v.prefix))  # type: ignore[arg-type]
    ]


def _matches(vrp: Vrp, prefix: str, origin: int) -> bool:
    return vrp.asn == origin and origin != 0 and _net(prefix).prefixlen <= vrp.max_length


def rov_state(prefix: str, origin: int, vrps: list[Vrp]) -> RpkiState:
    """Valid if a covering VRP matches origin and length; invalid if covered but none does."""
    cover = covering(prefix, vrps)
    if not cover:
        return RpkiState.NOT_FOUND
    if any(_matches(v, prefix, origin) for v in cover):
        return RpkiState.VALID
    return RpkiState.INVALID


def explain_state(prefix: str, origin: int, vrps: list[Vrp]) -> str:
    """Why `prefix` from `origin` has its RPKI state, in one phrase naming the ROAs."""
    cover = covering(prefix, vrps)
    if not cover:
        return "no ROA covers it"
    good = [v for v in cover if _matches(v, prefix, origin)]
    if good:
        return f"the ROA {vrp_text(good[0])} authorizes it"
    length = _net(prefix).prefixlen
    reasons = []
    for vrp in cover:
        if vrp.asn != origin:
            reasons.append(f"the ROA {vrp_text(vrp)} does not authorize AS{origin}")
        else:
            reasons.append(f"the ROA {vrp_text(vrp)} allows up to /{vrp.max_length}, not /{length}")
    return "; ".join(reasons)


# -- the portal ---------------------------------------------------------------------------
def registered_prefixes(asn: int) -> list[Network]:
    """The address plan (docs/addressing.md): AS645NN holds 198.18.NN.0/24, 2001:db8:NN::/48."""
    if not 64500 <= asn <= 64599:
        raise LabError(f"the lab's address plan gives no prefixes to AS{asn}")
    nn = asn - 64500
    return [ip_network(f"198.18.{nn}.0/24"), ip_network(f"2001:db8:{nn}::/48")]


@dataclass(frozen=True)
class Portal:
    """The learner's view of the RPKI: their AS, their address space, the lab's cache."""

    running: RunningLab
    asn: int
    holdings: list[Network]
    cache: str

    def yours(self, vrp: Vrp) -> bool:
        net = _net(vrp.prefix)
        return any(net.version == h.version and net.subnet_of(h) for h in self.holdings)  # type: ignore[arg-type]

    def published(self) -> list[Vrp]:
        return self.running.rtr(self.cache).vrps()

    def roas(self) -> list[Vrp]:
        return sorted(
            (v for v in self.published() if self.yours(v)),
            key=lambda v: (_net(v.prefix).version, _net(v.prefix), v.max_length, v.asn),
        )


def portal(running: RunningLab) -> Portal:
    caches = [n.name for n in running.lab.topology.nodes.values() if n.role is Role.RTR]
    if len(caches) != 1:
        raise LabError(
            f"lab {running.lab.id} has {'no' if not caches else len(caches)} RPKI cache "
            "(rtr node): ROAs are published in labs with one"
        )
    learner = running.lab.topology.nodes[running.lab.spec.learner]
    assert learner.asn is not None
    return Portal(running, learner.asn, registered_prefixes(learner.asn), caches[0])


def _holdings_text(p: Portal) -> str:
    return f"AS{p.asn} holds {' and '.join(str(h) for h in p.holdings)}"


def parse_roa(p: Portal, prefix: str, max_length: int | None, asn: int | None) -> Vrp:
    """Refuse what an RIR portal refuses, saying why."""
    try:
        net = ip_network(prefix, strict=True)
    except ValueError as exc:
        try:
            hint = f"; did you mean {ip_network(prefix, strict=False)}?"
        except ValueError:
            hint = ""
        raise LabError(f"{prefix!r} is not a prefix: {exc}{hint}") from None
    if not any(net.version == h.version and net.subnet_of(h) for h in p.holdings):  # type: ignore[arg-type]
        raise LabError(
            f"{net} is not your address space: {_holdings_text(p)}. Only the holder of a "
            "prefix (its resource certificate) can sign ROAs for it."
        )
    if max_length is None:
        raise LabError(f"give --max-length: the longest prefix within {net} that may be announced")
    if not net.prefixlen <= max_length <= net.max_prefixlen:
        raise LabError(
            f"--max-length {max_length} is impossible for {net}: between {net.prefixlen} (only "
            f"{net} itself) and {net.max_prefixlen}"
        )
    origin = p.asn if asn is None else asn
    if not 0 <= origin <= MAX_ASN:
        raise LabError(f"--asn {origin} is not an AS number (0 to {MAX_ASN})")
    return Vrp(str(net), max_length, origin)


def add(p: Portal, roa: Vrp, progress: Progress) -> list[str]:
    published = p.published()
    if any(_key(v) == _key(roa) for v in published):
        raise LabError(f"the ROA {vrp_text(roa)} is published already")
    return publish(p.running, [*published, roa], progress)


def remove(
    p: Portal, prefix: str, asn: int | None, progress: Progress
) -> tuple[list[Vrp], list[str]]:
    try:
        net = ip_network(prefix, strict=True)
    except ValueError as exc:
        raise LabError(f"{prefix!r} is not a prefix: {exc}") from None
    published = p.published()
    gone = [
        v
        for v in published
        if _net(v.prefix) == net and p.yours(v) and (asn is None or v.asn == asn)
    ]
    if not gone:
        mine = ", ".join(vrp_text(v) for v in p.roas()) or "none"
        which = f"{net} and AS{asn}" if asn is not None else str(net)
        raise LabError(f"no ROA of yours for {which} (yours: {mine})")
    keep = [v for v in published if v not in gone]
    return gone, publish(p.running, keep, progress)


# -- publishing ---------------------------------------------------------------------------
def parse_vrp_file(text: str) -> list[Vrp]:
    """A stayrtr VRP file, `{"roas": [{"prefix", "maxLength", "asn"}]}`."""
    try:
        return [
            Vrp(str(_net(r["prefix"])), int(r["maxLength"]), int(str(r["asn"]).removeprefix("AS")))
            for r in json.loads(text)["roas"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError(f"not a VRP file: {exc}") from exc


def validators(running: RunningLab) -> list[str]:
    """Routers on a link to an RTR cache: the ones expected to validate routes."""
    topo = running.lab.topology
    caches = {n.name for n in topo.nodes.values() if n.role is Role.RTR}
    names: list[str] = []
    for cache in sorted(caches):
        for _, remote in topo.links_of(cache):
            if topo.nodes[remote.node].role.is_router and remote.node not in names:
                names.append(remote.node)
    return names


def revalidate(router: Router) -> None:
    """Re-run the import policy on every route with the current VRPs."""
    if isinstance(router, FrrRouter):
        for family in ("ipv4", "ipv6"):
            router.bgpd_commands([f"clear bgp {family} unicast * soft in"])
    elif isinstance(router, BirdRouter):
        router.birdc("reload in all")


def _connected(router: Router) -> bool:
    try:
        return router.rpki().connected
    except ExecError:
        return False


def publish(running: RunningLab, vrps: list[Vrp], progress: Progress) -> list[str]:
    """Serve `vrps` from the lab's caches; wait until the validating routers hold them, then
    have them re-check their routes. Returns the routers that did.

    A router still connecting (a lab that just came up) is waited for: FRR never re-examines a
    route its policy saw before the VRPs arrived, so publishing must not skip it.
    """
    caches = [n.name for n in running.lab.topology.nodes.values() if n.role is Role.RTR]
    for cache in caches:
        running.rtr(cache).set_vrps(vrps)
    names = validators(running)
    progress.step(
        f"published; waiting for {', '.join(names) or 'validators'} to load it "
        "(the cache refreshes every 5 s)"
    )
    start = time.monotonic()
    pending = list(names)
    loaded: list[str] = []
    while pending:
        for name in list(pending):
            router = running.router(name)
            if _connected(router) and same_vrps(router.rpki_vrps(), vrps):
                pending.remove(name)
                loaded.append(name)
        waited = time.monotonic() - start
        idle = [n for n in pending if not _connected(running.router(n))]
        if idle and waited > CONNECT_TIMEOUT:
            for name in idle:
                progress.node(name, "no RTR session: it gets the VRPs once it connects")
                pending.remove(name)
        if pending and waited > LOAD_TIMEOUT:
            raise LabError(
                f"{', '.join(pending)} did not load the new VRPs within {LOAD_TIMEOUT:g} s: "
                "is the RTR session up (`manrs-lab status`)?"
            )
        if pending:
            time.sleep(POLL)
    for name in loaded:
        revalidate(running.router(name))
        progress.node(name, "loaded the VRPs and re-checked its routes")
    return loaded


def announced_states(p: Portal) -> list[tuple[str, RpkiState, str]]:
    """The learner's own announcements and their RPKI state under the published ROAs."""
    router = p.running.router(p.running.lab.spec.learner)
    vrps = p.published()
    out = []
    for prefix in sorted({r.prefix for r in router.routes() if r.peer is None}):
        out.append((prefix, rov_state(prefix, p.asn, vrps), explain_state(prefix, p.asn, vrps)))
    return out
