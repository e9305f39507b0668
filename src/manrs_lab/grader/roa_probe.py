"""Probe ROAs: fresh ROAs published on the lab's RTR cache for one grading run.

A check whose probe has `roa:` (`spec.lab.RoaPublish`) announces routes whose RPKI state is drawn
too: for each announced prefix a ROA is drawn around it (its prefix a supernet of the route's,
its maxLength relative to the route's length, its AS the route's origin, the path's first AS or
another one). So an ROV filter that names prefixes cannot pass: only one that drops routes by
their RPKI state does.

All probe ROAs of a run are published once, before the checks start, and withdrawn once, after
the last (also when a check fails or the grader is interrupted by an exception): the cache
re-reads its file every `RTR_REFRESH` s and every validating router then loads the change. What
was published is recorded in the instance folder before the cache file is written, so a run
killed half-way has its ROAs removed by the next one (and only those: ROAs the learner published
meanwhile stay).

A probe ROA never overlaps a VRP already served, a route any router of the lab holds, or another
probe's prefix: it changes the RPKI state of its own probe's routes and of nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import TYPE_CHECKING, Any

from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import ExecError, LabError
from manrs_lab.progress import Progress
from manrs_lab.running import RunningLab
from manrs_lab.spec.lab import Check, Draw, RoaPublish
from manrs_lab.spec.topology import Role
from manrs_lab.special_purpose import asn_ranges

if TYPE_CHECKING:
    from manrs_lab.grader.engine import DrawnProbe

Network = IPv4Network | IPv6Network

RECORD = "roa-probes.json"  # in the instance folder: probe ROAs on the cache right now
LOAD_TIMEOUT = 6.0  # s; the cache re-reads its file every second, routers load it at once
POLL = 0.05
MAX_TRIES = 64
DEFAULT_SPAN = 4  # a ROA's prefix is up to this much shorter than the route's, by default


# -- drawing ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ProbeRoas:
    """What one grading run publishes: the VRPs per check and the draws they were made for."""

    vrps: dict[str, list[Vrp]]
    draws: dict[str, DrawnProbe]

    def all(self) -> list[Vrp]:
        return [v for vrps in self.vrps.values() for v in vrps]


def _overlaps(net: Network, taken: Sequence[Network]) -> bool:
    return any(net.version == t.version and net.overlaps(t) for t in taken)


def _network(prefix: str) -> Network | None:
    """A route's prefix; None for what is not one (BIRD lists ROA table rows, `P-maxlen`)."""
    try:
        return ip_network(prefix)
    except ValueError:
        return None


def _slots(announce_prefixes: Sequence[Any]) -> list[Any]:
    """The drawing function behind each announced prefix, in order (None: a fixed prefix)."""
    out: list[Any] = []
    for p in announce_prefixes:
        out += p.slots() if isinstance(p, Draw) else [None]
    return out


def _other_asn(rng: random.Random, avoid: set[int]) -> int:
    """A public (documentation) AS that is on no probe path and no lab router."""
    ranges = asn_ranges("documentation")
    for _ in range(MAX_TRIES):
        r = rng.choice(ranges)
        asn = rng.randint(r.first, r.last)
        if asn not in avoid:
            return asn
    raise LabError("probe ROA: no public AS number left to draw")


def roa_around(
    route: Network, spec: RoaPublish, asn: int, rng: random.Random, taken: Sequence[Network]
) -> Vrp | None:
    """A ROA for `route` as `spec` says, its prefix clear of `taken`; None if there is none."""
    length = route.prefixlen
    max_length = length + rng.randint(*spec.max_length)
    max_length = max(0, min(max_length, route.max_prefixlen))
    longest = min(length, max_length)  # the ROA's prefix covers the route, within maxLength
    lo, hi = spec.lengths if spec.lengths is not None else (length - DEFAULT_SPAN, longest)
    lo, hi = max(lo, 0), min(hi, longest)
    if lo > hi:
        return None
    # The drawn length first, then longer ones: the shortest ROA prefix that stays clear.
    start = rng.randint(lo, hi)
    for plen in range(start, hi + 1):
        net = route.supernet(new_prefix=plen)
        if not _overlaps(net, taken):
            return Vrp(str(net), max_length, asn)
    return None


def draw_probe_roas(
    checks: Sequence[Check],
    draws: dict[str, DrawnProbe],
    taken: Sequence[Network],
    rng: random.Random,
    router_asns: dict[str, int],
) -> ProbeRoas:
    """ROAs for every check whose probe has `roa:`, and its announced prefixes (drawn ones are
    drawn again where no ROA fits around them). `taken`: what a ROA or a probe route must not
    overlap (served VRPs, the lab's routes); every other check's prefixes are added here."""
    roa_checks = [c for c in checks if c.probe is not None and c.probe.roa is not None]
    roa_ids = {c.id for c in roa_checks}
    blocked: list[Network] = list(taken)
    for cid, drawn in draws.items():
        if cid not in roa_ids:
            blocked += [ip_network(p) for p in drawn.prefixes]
    lab_asns = set(router_asns.values())
    out_vrps: dict[str, list[Vrp]] = {}
    out_draws = dict(draws)
    for chk in roa_checks:
        assert chk.probe is not None
        assert chk.probe.roa is not None
        announce, spec = chk.probe.announce, chk.probe.roa
        drawn = draws[chk.id]
        node_asn = router_asns[announce.node]
        origin = drawn.as_path[-1] if drawn.as_path else node_asn
        if spec.asn == "origin":
            asn = origin
        elif spec.asn == "first":
            asn = node_asn
        else:
            asn = _other_asn(rng, lab_asns | {node_asn, *drawn.as_path})
        prefixes: list[str] = []
        vrps: list[Vrp] = []
        for prefix, slot in zip(drawn.prefixes, _slots(announce.prefixes), strict=True):
            candidate = prefix
            for _ in range(MAX_TRIES):
                route = ip_network(candidate)
                if not _overlaps(route, blocked):
                    vrp = roa_around(route, spec, asn, rng, blocked)
                    if vrp is not None:
                        break
                if slot is None:
                    raise LabError(
                        f"check {chk.id}: no probe ROA fits around {prefix}: it overlaps a "
                        "VRP, a route of the lab or another probe"
                    )
                candidate = slot(rng)
            else:
                raise LabError(f"check {chk.id}: no prefix to draw that a probe ROA fits around")
            blocked += [route, ip_network(vrp.prefix)]
            prefixes.append(candidate)
            vrps.append(vrp)
        out_vrps[chk.id] = vrps
        out_draws[chk.id] = dataclasses.replace(drawn, prefixes=tuple(prefixes))
    return ProbeRoas(out_vrps, out_draws)


# -- publishing ---------------------------------------------------------------------------
def _caches(running: RunningLab) -> list[str]:
    return [n.name for n in running.lab.topology.nodes.values() if n.role is Role.RTR]


def _served(running: RunningLab) -> list[Vrp]:
    vrps: list[Vrp] = []
    for cache in _caches(running):
        vrps += running.rtr(cache).vrps()
    return vrps


def served_asns(running: RunningLab) -> frozenset[int]:
    """Every AS a ROA on the lab's caches authorizes now (the lab's own and the learner's)."""
    return frozenset(v.asn for v in _served(running))


def _key(v: Vrp) -> tuple[str, int, int]:
    return (str(ip_network(v.prefix)), v.max_length, v.asn)


def _write_cache(running: RunningLab, remove: list[Vrp], add: list[Vrp]) -> None:
    gone = {_key(v) for v in remove}
    for cache in _caches(running):
        rtr = running.rtr(cache)
        keep = [v for v in rtr.vrps() if _key(v) not in gone]
        rtr.set_vrps(keep + add)


def _record(running: RunningLab) -> Any:
    return running.instance.folder / RECORD


def _read_record(running: RunningLab) -> list[Vrp]:
    try:
        doc = json.loads(_record(running).read_text())
        return [Vrp(str(r[0]), int(r[1]), int(r[2])) for r in doc["vrps"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return []


def _write_record(running: RunningLab, vrps: list[Vrp]) -> None:
    path = _record(running)
    tmp = path.with_name(f".{RECORD}.tmp")
    tmp.write_text(json.dumps({"vrps": [list(_key(v)) for v in vrps]}) + "\n")
    tmp.replace(path)


def withdraw_leftovers(running: RunningLab, progress: Progress) -> list[Vrp]:
    """Remove the probe ROAs an interrupted run left on the cache (and nothing else)."""
    left = _read_record(running)
    if left:
        progress.step(f"withdrawing {len(left)} probe ROAs an interrupted check left")
        _write_cache(running, remove=left, add=[])
        _wait_loaded(running, present=[], absent=left)
    _record(running).unlink(missing_ok=True)
    return left


def _validators(running: RunningLab) -> list[str]:
    """Routers with an RTR session up now (others load everything when they connect)."""
    from manrs_lab.roa import validators  # noqa: PLC0415 (roa imports the drivers)

    names = []
    for name in validators(running):
        try:
            if running.router(name).rpki().connected:
                names.append(name)
        except ExecError:
            continue
    return names


def _wait_loaded(running: RunningLab, present: list[Vrp], absent: list[Vrp]) -> list[str]:
    """Wait until every connected validator holds `present` and none of `absent` (of the
    address families it loads at all). Returns the routers that did not within the timeout:
    their checks then fail on their own, saying what the router did with the route."""
    want = {_key(v) for v in present}
    gone = {_key(v) for v in absent}
    pending = _validators(running)
    deadline = time.monotonic() + LOAD_TIMEOUT
    while pending:
        for name in list(pending):
            try:
                loaded = running.router(name).rpki_vrps()
            except ExecError:
                continue
            held = {_key(v) for v in loaded}
            families = {ip_network(v.prefix).version for v in loaded}
            need = {k for k in want if ip_network(k[0]).version in families}
            if need <= held and not (gone & held):
                pending.remove(name)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(POLL)
    return pending


@contextmanager
def published(
    running: RunningLab,
    checks: Sequence[Check],
    draws: dict[str, DrawnProbe],
    seed: int,
    progress: Progress,
) -> Iterator[dict[str, DrawnProbe]]:
    """Publish the probe ROAs of `checks` for the duration; yields the probes' draws (with the
    prefixes the ROAs were drawn around). Nothing to do for a lab without probe ROAs."""
    if not any(c.probe is not None and c.probe.roa is not None for c in checks):
        yield draws
        return
    if not _caches(running):
        raise LabError("checks with probe ROAs need an RTR cache node in the lab")
    withdraw_leftovers(running, progress)
    taken: list[Network] = [ip_network(v.prefix) for v in _served(running)]
    router_asns: dict[str, int] = {}
    for name in running.router_names():
        router = running.router(name)
        router_asns[name] = router.asn
        taken += [net for r in router.routes() if (net := _network(r.prefix)) is not None]
    roas = draw_probe_roas(checks, draws, taken, random.Random(f"{seed}:probe-roas"), router_asns)
    added = roas.all()
    progress.step(f"publishing {len(added)} probe ROAs on the RPKI cache")
    _write_record(running, added)
    try:
        _write_cache(running, remove=[], add=added)
        _wait_loaded(running, present=added, absent=[])
        yield roas.draws
    finally:
        _write_cache(running, remove=added, add=[])
        _wait_loaded(running, present=[], absent=added)
        _record(running).unlink(missing_ok=True)
