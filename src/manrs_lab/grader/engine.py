"""Run a lab's checks against a running instance.

`wait:` retries a check until it passes or time runs out (never a fixed sleep); `hold:` asks a
passing check to keep passing that long ("the hijack never shows up", "the route stays");
`requires:` skips a check whose prerequisite failed; `after:` only orders. A check starts as soon
as its prerequisites are done, alongside every other, so grading costs its longest chain of
holds, not their sum.
A probe acts on the lab for the check's duration only; probes on one router take turns.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from ipaddress import ip_network
from typing import NoReturn

from manrs_lab.drivers.router import Router
from manrs_lab.errors import ExecError, LabError
from manrs_lab.grader import roa_probe
from manrs_lab.grader.context import LEAK_SETTLE, CheckContext, ProbeResult
from manrs_lab.grader.journal import Announcement, ProbeJournal
from manrs_lab.grader.limits import lift_limit
from manrs_lab.grader.one_cpu import one_cpu
from manrs_lab.grader.registry import CheckFailed, get_check
from manrs_lab.grader.report import CheckResult, GradeReport, TaskResult
from manrs_lab.progress import Progress
from manrs_lab.running import RunningLab
from manrs_lab.spec.lab import Announce, Check, Draw, Probe
from manrs_lab.special_purpose import asn_ranges
from manrs_lab.state import BgpSession, canonical_prefix

POLL = 0.1
# Between looks during a hold. A probe stays announced for the whole hold, so what shows up
# (a leak, a hijack) stays: a look every quarter second and one at the very end see it, and a
# class of thirty checking at once pays a third of the reads (and of the daemons' answers).
HOLD_LOOK = 0.25
MAX_CONCURRENT_CHECKS = 32  # checks mostly wait (holds, polls): threads are cheap
PROBE_VISIBLE_TIMEOUT = 5.0
CLAIM_TIMEOUT = 300.0  # s; longer than any check that may hold a prefix (wait + hold)
MAX_DRAWS = 64


def grade(
    running: RunningLab,
    progress: Progress,
    *,
    seed: int | None = None,
    tasks: list[str] | None = None,
) -> GradeReport:
    spec = running.lab.spec
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    start = time.monotonic()
    selected = [c for c in spec.checks if tasks is None or c.task is None or c.task in tasks]
    needed = _with_prerequisites(selected, spec.checks)
    checks = [c for c in spec.checks if c.id in needed]
    # Drawn up front, in file order, so a seed replays the same probes whatever the scheduling.
    # Drawn ASNs are never a lab router's (a path through its own AS is a loop it drops) nor
    # one a served ROA authorizes (a private origin drawn as 64512, the ROA's, made an
    # "invalid" probe valid)
    routers = frozenset(n.asn for n in running.lab.topology.nodes.values() if n.asn)
    lab_asns = routers | roa_probe.served_asns(running)
    draws = _draw_probes(checks, random.Random(seed), lab_asns)
    # Probes with `roa:` get fresh ROAs on the RTR cache, published once for the whole run.
    with one_cpu(), roa_probe.published(running, checks, draws, seed, progress) as draws:
        results = _run_scheduled(running, checks, draws, progress, seed)
    task_results = []
    for task in spec.tasks:
        if tasks is not None and task.id not in tasks:
            continue
        own = [r for r in results.values() if r.task == task.id]
        gates = [r for r in results.values() if r.task is None]
        passed = bool(own) and all(r.passed for r in own + gates)
        task_results.append(
            TaskResult(
                id=task.id,
                title=task.title,
                passed=passed,
                points=task.points if passed else 0,
                max_points=task.points,
                next_hint=None if passed else (task.hints[0] if task.hints else None),
            )
        )
    return GradeReport(
        lab=spec.id,
        instance=running.instance.name,
        seed=seed,
        seconds=round(time.monotonic() - start, 3),
        tasks=task_results,
        checks=[results[c.id] for c in checks],
    )


@dataclass(frozen=True)
class DrawnProbe:
    """A probe's values for one grading run: drawn up front from the report's seed."""

    prefixes: tuple[str, ...]
    as_path: tuple[int, ...] = ()


def _draw_probes(
    checks: list[Check], rng: random.Random, lab_asns: frozenset[int] = frozenset()
) -> dict[str, DrawnProbe]:
    """A drawn prefix never equals another prefix probed from the same node: checks run at the
    same time, and two probes of one prefix from one node would have to share its AS path.
    Drawn ASNs are never in `lab_asns` (the lab's routers, the ASes its ROAs authorize)."""
    taken: dict[str, set[str]] = {}
    for c in checks:
        if c.probe is not None:
            node = taken.setdefault(c.probe.announce.node, set())
            node |= {str(ip_network(p)) for p in c.probe.announce.prefixes if isinstance(p, str)}
    # Nor, where the space allows, one probed from another node: two origins of one drawn
    # prefix would compete (a range with room for one prefix, a /24 bogon, is shared).
    anywhere: set[str] = set().union(*taken.values())
    draws: dict[str, DrawnProbe] = {}
    for c in checks:
        if c.probe is None:
            continue
        node = taken[c.probe.announce.node]
        drawn: list[str] = []
        for p in c.probe.announce.prefixes:
            if isinstance(p, str):
                drawn.append(p)
                continue
            for prefix in _fresh(p, rng, node, c.id, anywhere):
                node.add(prefix)
                anywhere.add(prefix)
                drawn.append(prefix)
        draws[c.id] = DrawnProbe(tuple(drawn), draw_as_path(c.probe.announce, rng, lab_asns))
    return draws


def _fresh(
    p: Draw,
    rng: random.Random,
    taken: set[str],
    check_id: str,
    shun: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    """`p`'s prefixes, each slot drawn again until it is not one `taken` (or this) holds, nor
    for the first half of the attempts one of `shun` (other nodes' probes)."""
    out: list[str] = []
    for slot in p.slots():
        for attempt in range(MAX_DRAWS):
            prefix = slot(rng)
            shunned = prefix in shun and attempt < MAX_DRAWS // 2
            if prefix not in taken and prefix not in out and not shunned:
                break
        else:
            raise LabError(f"check {check_id}: no free prefix to draw (last: {prefix})")
        out.append(prefix)
    return out


def draw_as_path(
    announce: Announce, rng: random.Random, lab_asns: frozenset[int] = frozenset()
) -> tuple[int, ...]:
    """The probe's relayed or forged path with its `{asn: ...}` items drawn, padded with public
    ASNs to `as_path_length` (padding goes right after the announcing node's own AS)."""
    path = [
        a if isinstance(a, int) else _draw_asn(a.asn, rng, lab_asns, a.bits, a.between)
        for a in announce.as_path
    ]
    if announce.as_path_length is not None:
        pad = announce.as_path_length - 1 - len(path)
        path = [_draw_asn("public", rng, lab_asns) for _ in range(pad)] + path
    return tuple(path)


def _draw_asn(
    kind: str,
    rng: random.Random,
    lab_asns: frozenset[int],
    bits: int | None = None,
    between: tuple[int, int] | None = None,
) -> int:
    # The labs' "public" ASNs are the documentation ranges (RFC 5398).
    ranges = [(r.first, r.last) for r in asn_ranges("documentation" if kind == "public" else kind)]
    if bits is not None:  # 16-bit ranges end at 65535, 32-bit ones start above it
        ranges = [(lo, hi) for lo, hi in ranges if (hi <= 65535) == (bits == 16)]
    if between is not None:
        ranges = [
            (max(lo, between[0]), min(hi, between[1]))
            for lo, hi in ranges
            if lo <= between[1] and between[0] <= hi
        ]
    if not ranges:
        raise LabError(f"no {kind} AS number of {bits} bits between {between}")
    for _ in range(MAX_DRAWS):
        # A range first, then a number in it: 16-bit private ASNs are as likely as 32-bit ones;
        # a range's two ends are drawn now and then, so its boundaries get probed too.
        lo, hi = rng.choice(ranges)
        asn = rng.choice((lo, hi)) if hi - lo > 16 and rng.random() < 0.2 else rng.randint(lo, hi)
        if asn not in lab_asns:
            return asn
    raise LabError(f"no {kind} AS number left that no lab router uses")


def _run_scheduled(
    running: RunningLab,
    checks: list[Check],
    draws: dict[str, DrawnProbe],
    progress: Progress,
    seed: int = 0,
) -> dict[str, CheckResult]:
    """Start each check as soon as its `requires`/`after` are done (not when a whole wave is):
    a gate that passes in 50 ms lets what it gates start at 50 ms, not after others' holds."""
    results: dict[str, CheckResult] = {}
    book = ProbeBook()
    # Each prefix drawn, with the checks that drew it: a check's foreign prefixes are those
    # another check drew too.
    drawn_by: dict[str, set[str]] = {}
    for cid, d in draws.items():
        for prefix in d.prefixes:
            drawn_by.setdefault(prefix, set()).add(cid)

    every = frozenset(drawn_by)
    own_only: dict[str, set[str]] = {}
    for prefix, ids in drawn_by.items():
        if len(ids) == 1:
            own_only.setdefault(next(iter(ids)), set()).add(prefix)

    def foreign_of(check_id: str) -> frozenset[str]:
        return every - own_only.get(check_id, set())

    # Every probe this run may announce goes into the journal before the first is sent (one
    # write, not two per probe check: some forty a capstone check), and leaves it at the end
    # unless its router still has it (a withdrawal that failed: the next caller's recovery
    # withdraws it). A run killed half-way leaves them all named: recovery withdraws each
    # (one never announced is nothing to withdraw).
    journal = ProbeJournal.of(running)
    planned: list[Announcement] = [
        (c.probe.announce.node, drawn.prefixes, drawn.as_path, c.probe.announce.next_hop)
        for c in checks
        if c.probe is not None and (drawn := draws.get(c.id)) is not None
    ]
    if planned:
        journal.add_many(planned)
    try:
        _schedule(
            running,
            checks,
            draws,
            progress,
            seed=seed,
            book=book,
            results=results,
            foreign_of=foreign_of,
        )
    finally:
        if planned:
            named = {(node, p) for node, prefixes, _, _ in planned for p in prefixes}
            journal.remove_many(named - book.outstanding())
    return results


def _schedule(
    running: RunningLab,
    checks: list[Check],
    draws: dict[str, DrawnProbe],
    progress: Progress,
    *,
    seed: int,
    book: ProbeBook,
    results: dict[str, CheckResult],
    foreign_of: Callable[[str], frozenset[str]],
) -> None:
    running_ids = {c.id for c in checks}
    # `after` only orders: a check not being run this time (other task) does not hold it back.
    waits_for = {c.id: {d for d in c.requires + c.after if d in running_ids} for c in checks}
    waited_by: dict[str, list[Check]] = {}
    for c in checks:
        for d in waits_for[c.id]:
            waited_by.setdefault(d, []).append(c)
    ready = [c for c in checks if not waits_for[c.id]]
    finished: queue.SimpleQueue[tuple[str, Future[CheckResult]]] = queue.SimpleQueue()
    running_now = 0
    # A completion wakes this thread once (a queue, not `wait` over every running future).
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CHECKS) as pool:
        while ready or running_now:
            while ready:
                chk = ready.pop(0)
                blocked = [r for r in chk.requires if not results[r].passed]
                if blocked:
                    results[chk.id] = _skipped(chk, blocked)
                    progress.node(chk.id, "skipped")
                    ready += _unblocked(chk.id, waited_by, waits_for)
                    continue
                progress.step(f"checking: {chk.title}")
                future = pool.submit(
                    _run_check,
                    running,
                    chk,
                    draws.get(chk.id),
                    book,
                    check_seed(seed, chk.id),
                    foreign=foreign_of(chk.id),
                )
                future.add_done_callback(partial(_report_to, finished, chk.id))
                running_now += 1
            if not running_now:
                break
            check_id, done = finished.get()
            running_now -= 1
            results[check_id] = done.result()
            progress.node(check_id, "pass" if results[check_id].passed else "fail")
            ready += _unblocked(check_id, waited_by, waits_for)
    stuck = [c.id for c in checks if c.id not in results]
    if stuck:
        raise LabError(f"checks wait on each other: {', '.join(stuck)}")


def _report_to(
    finished: queue.SimpleQueue[tuple[str, Future[CheckResult]]],
    check_id: str,
    future: Future[CheckResult],
) -> None:
    finished.put((check_id, future))


def _unblocked(
    done: str, waited_by: dict[str, list[Check]], waits_for: dict[str, set[str]]
) -> list[Check]:
    """The checks that waited for `done` and now wait for nothing, in file order."""
    freed = []
    for chk in waited_by.get(done, []):
        waits_for[chk.id].discard(done)
        if not waits_for[chk.id]:
            freed.append(chk)
    return freed


def check_seed(seed: int, check_id: str) -> int:
    """A check's own seed (`CheckContext.seed`) from the report's: what a check draws itself
    (spoofed sources) replays with `--seed` and differs between checks."""
    return random.Random(f"{seed}:{check_id}").randrange(2**32)


def _skipped(chk: Check, blocked: list[str]) -> CheckResult:
    return CheckResult(
        chk.id,
        chk.title,
        chk.task,
        passed=False,
        skipped=True,
        message=f"skipped: needs {', '.join(blocked)} to pass first",
        evidence="",
        seconds=0.0,
    )


def _with_prerequisites(selected: list[Check], all_checks: list[Check]) -> set[str]:
    by_id = {c.id: c for c in all_checks}
    needed: set[str] = set()
    stack = [c.id for c in selected]
    while stack:
        cid = stack.pop()
        if cid not in needed:
            needed.add(cid)
            stack.extend(by_id[cid].requires)
    return needed


def _run_check(
    running: RunningLab,
    chk: Check,
    drawn: DrawnProbe | None,
    book: ProbeBook,
    seed: int = 0,
    *,
    foreign: frozenset[str] = frozenset(),
) -> CheckResult:
    definition = get_check(chk.check)
    params = definition.params.model_validate(chk.params)
    start = time.monotonic()

    def result(passed: bool, message: str = "", evidence: str = "") -> CheckResult:
        seconds = round(time.monotonic() - start, 3)
        return CheckResult(chk.id, chk.title, chk.task, passed, False, message, evidence, seconds)

    def attempt(alone: bool = False) -> tuple[str, str | None]:
        """The evidence, and why a pass may not count (None if it does)."""
        prepare = partial(_lift_limits, running, chk.probe) if alone else None
        with _probe(running, chk.id, chk.probe, drawn, book, alone=alone, prepare=prepare) as probe:
            announced = time.monotonic()
            ctx = CheckContext(running=running, probe=probe, seed=seed, others_probe=foreign)
            settle = LEAK_SETTLE if chk.probe is not None else 0.0
            evidence = _evaluate(lambda: definition.fn(ctx, params), chk.wait, chk.hold, settle)
            if definition.refuses and probe is not None:
                # A read from the hold's last look on shows a limit hit before the probe's
                # routes came (it stays hit): checks that end together share one read.
                since = max(announced, time.monotonic() - HOLD_LOOK)
                read_at, sessions = book.learner_sessions(running, since)
                return evidence, _kept_out_by_limit(ctx, probe, sessions, read_at - announced)
            return evidence, None

    try:
        evidence, doubt = attempt()
        if doubt is not None:
            # Other checks' leaked probes from the same neighbour filled the learner's limit:
            # once more with the limit lifted and no other probe from that neighbour.
            evidence, doubt = attempt(alone=True)
            if doubt is not None:
                raise CheckFailed(doubt)
    except CheckFailed as failed:
        return result(False, message=str(failed))
    except (ExecError, LabError) as exc:
        return result(False, message=f"could not read the routers' state: {exc}")
    return result(True, evidence=evidence)


LIMIT_LIFT_TIMEOUT = 15.0  # s for the learner's sessions with a neighbour to come back


def _stuck(sessions: list[BgpSession], asn: int) -> list[BgpSession]:
    """The sessions with AS `asn` that a prefix limit stopped, or that are down."""
    return [s for s in sessions if s.remote_as == asn and (s.limit_hit or not s.established)]


def _flapped(sessions: list[BgpSession], asn: int, probed_for: float) -> list[BgpSession]:
    """The sessions with AS `asn` that came up again within the last `probed_for` seconds: a
    limit that restarts the session (BIRD's `action restart`) shows no hit once it is back."""
    return [
        s
        for s in sessions
        if s.remote_as == asn and s.established and s.up_for is not None and s.up_for < probed_for
    ]


def _kept_out_by_limit(
    ctx: CheckContext, probe: ProbeResult, sessions: list[BgpSession], probed_for: float
) -> str | None:
    """A probe's routes kept out prove the learner's filters only if nothing else stopped them:
    the learner's sessions with the probing neighbour must have stayed up, under their prefix
    limits, for the `probed_for` seconds from the announcement to the read. A limit that leaked
    routes filled (other checks' probes from the same neighbour, running at the same time)
    blocks every later route, an FRR limit shuts the session, and a restarting one drops it
    for a while. Why the pass does not count, or None."""
    if probe.node == ctx.learner:
        return None
    for session in _stuck(sessions, probe.asn) + _flapped(sessions, probe.asn, probed_for):
        if session.limit_hit:
            why = f"prefix limit for {probe.node} was hit"
        elif not session.established:
            why = f"session with {probe.node} ({session.peer}) is {session.state}"
        else:
            why = (
                f"session with {probe.node} ({session.peer}) went down and came back up "
                "during the check"
            )
        return (
            f"not judged: {', '.join(probe.prefixes)} from {probe.node} did not get through, "
            f"but {ctx.learner}'s {why}, so a limit or a closed session may have kept them out "
            "rather than a filter (also with the limit lifted and no other probe from "
            f"{probe.node} at the same time). A prefix limit is a last resort, not a filter"
        )
    return None


def _lift_limits(running: RunningLab, probe: Probe | None) -> None:
    """Lift what a prefix limit left on the learner's sessions with the probe's node, and wait
    until they are up again (up to LIMIT_LIFT_TIMEOUT; a check then judges what it sees)."""
    if probe is None or probe.announce.node == running.lab.spec.learner:
        return
    asn = running.router(probe.announce.node).asn
    learner = running.router(running.lab.spec.learner)
    for session in _stuck(learner.sessions(), asn):
        lift_limit(learner, session)
    deadline = time.monotonic() + LIMIT_LIFT_TIMEOUT
    while _stuck(learner.sessions(), asn) and time.monotonic() < deadline:
        time.sleep(0.2)


def _evaluate(attempt: Callable[[], str], wait: float, hold: float, settle: float = 0.0) -> str:
    """`settle`: a probe check that fails looks once more that much later, for its message only
    (a leak seen at one observer reaches the others a moment later): the verdict stands."""
    deadline = time.monotonic() + wait
    while True:
        try:
            evidence = attempt()
            break
        except (CheckFailed, ExecError) as exc:
            if time.monotonic() >= deadline or getattr(exc, "final", False):
                _settled_failure(attempt, exc, settle)
            time.sleep(_to_next_tick(POLL))
    end = time.monotonic() + hold
    while (left := end - time.monotonic()) > 0:
        # the last look is at the hold's end, not before it
        time.sleep(min(_to_next_tick(HOLD_LOOK), left))
        try:
            evidence = attempt()
        except CheckFailed as exc:
            _settled_failure(attempt, exc, settle)
    return evidence


def _to_next_tick(period: float) -> float:
    """Seconds to the next multiple of `period` on the monotonic clock: checks that poll at the
    same time look at the same moments, and one read of a router's table serves them all
    (`policy._read_table`) instead of each check reading it at its own phase."""
    now = time.monotonic()
    return period - now % period


def _settled_failure(attempt: Callable[[], str], failure: Exception, settle: float) -> NoReturn:
    if settle > 0 and isinstance(failure, CheckFailed):
        time.sleep(settle)
        try:
            attempt()
        except CheckFailed as later:
            raise later from None
        except ExecError:
            pass
    raise failure


class ProbeBook:
    """Which probe prefixes each router announces, for how many checks at once.

    Concurrent checks may probe with the same prefix from the same router: it is announced by
    the first and withdrawn by the last, and changes to one router's config take turns.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._router_locks: dict[str, threading.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}
        # prefix (or "@node") -> the checks announcing it (probing from it) right now, each
        # marked exclusive or not (`claim`)
        self._claims: dict[str, dict[str, bool]] = {}
        self._claims_changed = threading.Condition()
        self._sessions_lock = threading.Lock()
        self._sessions_read_at = float("-inf")
        self._sessions: list[BgpSession] = []
        # (router, prefix) sent to the router and not yet taken back by it: what a journal
        # must keep naming (an announcement that failed half-way counts as sent)
        self._sent: set[tuple[str, str]] = set()

    def claim(self, check_id: str, wants: dict[str, bool], *, timeout: float) -> float:
        """Wait until the check may take every key of `wants` (a prefix it announces, or
        "@node" for the node announcing it), and take them; the seconds waited. A key taken
        exclusively (True) is held by no other check at the same time, and a key another
        check holds exclusively is not taken meanwhile: an exclusive probe's prefixes
        (`Probe.exclusive`), or a node whose probes a check needs to itself. All of a check's
        keys are taken at once: no check holds some while it waits for others, so checks
        cannot wait on each other in a circle."""

        def conflicts() -> bool:
            for key, exclusive in wants.items():
                for other, other_exclusive in self._claims.get(key, {}).items():
                    if other != check_id and (exclusive or other_exclusive):
                        return True
            return False

        start = time.monotonic()
        with self._claims_changed:
            if not self._claims_changed.wait_for(lambda: not conflicts(), timeout):
                held = [k for k in wants if not k.startswith("@")]
                held += [f"probes from {k[1:]}" for k in wants if k.startswith("@")]
                raise LabError(
                    f"check {check_id}: other checks kept announcing {', '.join(held)} "
                    f"for {timeout:g} s"
                )
            for key, exclusive in wants.items():
                self._claims.setdefault(key, {})[check_id] = exclusive
        return time.monotonic() - start

    def unclaim(self, check_id: str, keys: Iterable[str]) -> None:
        with self._claims_changed:
            for key in keys:
                holders = self._claims.get(key, {})
                holders.pop(check_id, None)
                if not holders:
                    self._claims.pop(key, None)
            self._claims_changed.notify_all()

    def learner_sessions(self, running: RunningLab, since: float) -> tuple[float, list[BgpSession]]:
        """The learner's sessions as read at `since` (time.monotonic()) or later, and when the
        read began: one read for the checks that ask at about the same time (holds that started
        together end together). A later read is as good as an earlier one: a hit limit stays
        hit, a shut session stays shut until lifted, and a session's time in its state tells
        whether it went down since a probe was announced; lifting waits for the checks that
        still hold a claim on the node (`_lift_limits` runs alone)."""
        with self._sessions_lock:
            if self._sessions_read_at < since:
                self._sessions_read_at = time.monotonic()  # the read shows at least this moment
                self._sessions = running.router(running.lab.spec.learner).sessions()
            return self._sessions_read_at, self._sessions

    def outstanding(self) -> set[tuple[str, str]]:
        with self._lock:
            return set(self._sent)

    def announce(
        self,
        router: Router,
        prefixes: tuple[str, ...],
        as_path: tuple[int, ...] = (),
        next_hop: str | None = None,
        journal: ProbeJournal | None = None,
    ) -> None:
        """`as_path`: a relayed or forged path. Probes sharing a prefix share its path: give
        checks that probe one prefix with different paths an `after:` order.

        `journal`: the instance's probe journal, which records the announcement before it is
        sent (a killed check's probes are withdrawn from it later)."""
        with self._lock:
            lock = self._router_locks.setdefault(router.name, threading.Lock())
        with lock:
            new = [p for p in prefixes if self._users.get((router.name, p), 0) == 0]
            for p in prefixes:
                self._users[(router.name, p)] = self._users.get((router.name, p), 0) + 1
            if new:
                if journal is not None:
                    journal.add(router.name, new, as_path, next_hop)
                with self._lock:
                    self._sent |= {(router.name, p) for p in new}
                router.announce(new, as_path=as_path, next_hop=next_hop)

    def withdraw(
        self, router: Router, prefixes: tuple[str, ...], journal: ProbeJournal | None = None
    ) -> list[str]:
        """Release the prefixes; withdraw (and return) those no other check still uses. They
        leave the journal once the router has taken the withdrawal."""
        with self._lock:
            lock = self._router_locks.setdefault(router.name, threading.Lock())
        with lock:
            last = []
            for p in prefixes:
                self._users[(router.name, p)] -= 1
                if self._users[(router.name, p)] == 0:
                    last.append(p)
            if last:
                router.withdraw(last)
                with self._lock:
                    self._sent -= {(router.name, p) for p in last}
                if journal is not None:
                    journal.remove(router.name, last)
            return last


@contextmanager
def _probe(
    running: RunningLab,
    check_id: str,
    probe: Probe | None,
    drawn: DrawnProbe | None,
    book: ProbeBook,
    *,
    alone: bool = False,
    prepare: Callable[[], None] | None = None,
) -> Iterator[ProbeResult | None]:
    """Announce the check's probe while the check runs. `alone`: no other check probes from
    the same node meanwhile; `prepare` runs once that is so, before the announcement."""
    if probe is None or drawn is None:
        yield None
        return
    node = probe.announce.node
    router = running.router(node)
    prefixes, as_path = drawn.prefixes, drawn.as_path
    next_hop = probe.announce.next_hop
    wants = dict.fromkeys(prefixes, probe.exclusive) | {f"@{node}": alone}
    book.claim(check_id, wants, timeout=CLAIM_TIMEOUT)
    try:
        if prepare is not None:
            prepare()
        # The run's journal already names these (`_run_scheduled`)
        book.announce(router, prefixes, as_path, next_hop)
        try:
            _wait_originated(router, prefixes)
            yield ProbeResult(
                node=node, asn=router.asn, prefixes=prefixes, as_path=as_path, next_hop=next_hop
            )
        finally:
            _wait_withdrawn(router, tuple(book.withdraw(router, prefixes)))
    finally:
        book.unclaim(check_id, wants)


WHOLE_TABLE_FROM = 4  # prefixes: past this many, one read of the table beats one query each


def _originated(router: Router, prefixes: set[str]) -> set[str]:
    """Those of `prefixes` the router originates itself (a route with no peer)."""
    if len(prefixes) <= WHOLE_TABLE_FROM:
        return {p for p in prefixes if any(r.peer is None for r in router.routes(p))}
    families = {6 if ":" in p else 4 for p in prefixes}
    table = router.routes(family=families.pop()) if len(families) == 1 else router.routes()
    own = {canonical_prefix(r.prefix) for r in table if r.peer is None}
    return {p for p in prefixes if canonical_prefix(p) in own}


def _wait_originated(router: Router, prefixes: tuple[str, ...]) -> None:
    """The announcing router holds its own route: from here on, neighbours get the update."""
    deadline = time.monotonic() + PROBE_VISIBLE_TIMEOUT
    pending = set(prefixes)
    pause = 0.0
    while pending:
        pending -= _originated(router, pending)
        if not pending:
            return
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(pending))
            raise LabError(f"probe: {missing} did not appear on {router.name}")
        pause = _next_pause(pause)
        time.sleep(pause)


def _wait_withdrawn(router: Router, prefixes: tuple[str, ...]) -> None:
    deadline = time.monotonic() + PROBE_VISIBLE_TIMEOUT
    pause = 0.0
    while time.monotonic() < deadline:
        if not _originated(router, set(prefixes)):
            return
        pause = _next_pause(pause)
        time.sleep(pause)


def _next_pause(pause: float) -> float:
    """10 ms, then half as long again each time, up to 100 ms: a router takes its own probe
    within milliseconds when idle, and a loaded machine is not asked again and again."""
    return min(max(pause * 1.5, 0.01), 0.1)
