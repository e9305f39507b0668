"""Run a lab's checks against a running instance.

`wait:` retries a check until it passes or time runs out (never a fixed sleep); `hold:` asks a
passing check to keep passing that long ("the hijack never shows up", "the route stays");
`requires:` skips a check whose prerequisite failed; `after:` only orders. Checks whose
prerequisites are done run concurrently, so a check costs its longest hold, not the sum.
A probe acts on the lab for the check's duration only; probes on one router take turns.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from manrs_lab.drivers.router import Router
from manrs_lab.errors import ExecError, LabError
from manrs_lab.grader.context import CheckContext, ProbeResult
from manrs_lab.grader.registry import CheckFailed, get_check
from manrs_lab.grader.report import CheckResult, GradeReport, TaskResult
from manrs_lab.progress import Progress
from manrs_lab.running import RunningLab
from manrs_lab.spec.lab import Check, Probe

POLL = 0.1
MAX_CONCURRENT_CHECKS = 32  # checks mostly wait (holds, polls): threads are cheap
PROBE_VISIBLE_TIMEOUT = 5.0


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
    draws = _draw_probe_prefixes(checks, random.Random(seed))
    results = _run_in_waves(running, checks, draws, progress, seed)
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


def _draw_probe_prefixes(checks: list[Check], rng: random.Random) -> dict[str, tuple[str, ...]]:
    return {
        c.id: tuple(p if isinstance(p, str) else p.draw(rng) for p in c.probe.announce.prefixes)
        for c in checks
        if c.probe is not None
    }


def _run_in_waves(
    running: RunningLab,
    checks: list[Check],
    draws: dict[str, tuple[str, ...]],
    progress: Progress,
    seed: int = 0,
) -> dict[str, CheckResult]:
    """Run every check whose `requires`/`after` are done, concurrently; repeat."""
    results: dict[str, CheckResult] = {}
    book = ProbeBook()
    running_ids = {c.id for c in checks}
    # `after` only orders: a check not being run this time (other task) does not hold it back.
    waits_for = {c.id: [d for d in c.requires + c.after if d in running_ids] for c in checks}
    pending = list(checks)
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CHECKS) as pool:
        while pending:
            ready = [c for c in pending if all(d in results for d in waits_for[c.id])]
            pending = [c for c in pending if c not in ready]
            futures = {}
            for chk in ready:
                blocked = [r for r in chk.requires if not results[r].passed]
                if blocked:
                    results[chk.id] = _skipped(chk, blocked)
                    progress.node(chk.id, "skipped")
                    continue
                progress.step(f"checking: {chk.title}")
                futures[chk.id] = pool.submit(
                    _run_check, running, chk, draws.get(chk.id), book, check_seed(seed, chk.id)
                )
            for check_id, future in futures.items():
                results[check_id] = future.result()
                progress.node(check_id, "pass" if results[check_id].passed else "fail")
    return results


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
    prefixes: tuple[str, ...] | None,
    book: ProbeBook,
    seed: int = 0,
) -> CheckResult:
    definition = get_check(chk.check)
    params = definition.params.model_validate(chk.params)
    start = time.monotonic()

    def result(passed: bool, message: str = "", evidence: str = "") -> CheckResult:
        seconds = round(time.monotonic() - start, 3)
        return CheckResult(chk.id, chk.title, chk.task, passed, False, message, evidence, seconds)

    try:
        with _probe(running, chk.probe, prefixes, book) as probe:
            ctx = CheckContext(running=running, probe=probe, seed=seed)
            evidence = _evaluate(lambda: definition.fn(ctx, params), chk.wait, chk.hold)
    except CheckFailed as failed:
        return result(False, message=str(failed))
    except (ExecError, LabError) as exc:
        return result(False, message=f"could not read the routers' state: {exc}")
    return result(True, evidence=evidence)


def _evaluate(attempt: Callable[[], str], wait: float, hold: float) -> str:
    deadline = time.monotonic() + wait
    while True:
        try:
            evidence = attempt()
            break
        except (CheckFailed, ExecError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(POLL)
    end = time.monotonic() + hold
    while time.monotonic() < end:
        time.sleep(POLL)
        evidence = attempt()
    return evidence


class ProbeBook:
    """Which probe prefixes each router announces, for how many checks at once.

    Concurrent checks may probe with the same prefix from the same router: it is announced by
    the first and withdrawn by the last, and changes to one router's config take turns.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._router_locks: dict[str, threading.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}

    def announce(
        self,
        router: Router,
        prefixes: tuple[str, ...],
        as_path: tuple[int, ...] = (),
        next_hop: str | None = None,
    ) -> None:
        """`as_path`: a relayed or forged path. Probes sharing a prefix share its path: give
        checks that probe one prefix with different paths an `after:` order."""
        with self._lock:
            lock = self._router_locks.setdefault(router.name, threading.Lock())
        with lock:
            new = [p for p in prefixes if self._users.get((router.name, p), 0) == 0]
            for p in prefixes:
                self._users[(router.name, p)] = self._users.get((router.name, p), 0) + 1
            if new:
                router.announce(new, as_path=as_path, next_hop=next_hop)

    def withdraw(self, router: Router, prefixes: tuple[str, ...]) -> list[str]:
        """Release the prefixes; withdraw (and return) those no other check still uses."""
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
            return last


@contextmanager
def _probe(
    running: RunningLab,
    probe: Probe | None,
    prefixes: tuple[str, ...] | None,
    book: ProbeBook,
) -> Iterator[ProbeResult | None]:
    if probe is None or prefixes is None:
        yield None
        return
    node = probe.announce.node
    router = running.router(node)
    as_path = tuple(probe.announce.as_path)
    next_hop = probe.announce.next_hop
    book.announce(router, prefixes, as_path, next_hop)
    try:
        _wait_originated(router, prefixes)
        yield ProbeResult(
            node=node, asn=router.asn, prefixes=prefixes, as_path=as_path, next_hop=next_hop
        )
    finally:
        _wait_withdrawn(router, tuple(book.withdraw(router, prefixes)))


def _locally_originated(router: Router, prefix: str) -> bool:
    return any(r.peer is None for r in router.routes(prefix))


def _wait_originated(router: Router, prefixes: tuple[str, ...]) -> None:
    """The announcing router holds its own route: from here on, neighbours get the update."""
    deadline = time.monotonic() + PROBE_VISIBLE_TIMEOUT
    pending = set(prefixes)
    while pending:
        pending = {p for p in pending if not _locally_originated(router, p)}
        if not pending:
            return
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(pending))
            raise LabError(f"probe: {missing} did not appear on {router.name}")
        time.sleep(0.02)


def _wait_withdrawn(router: Router, prefixes: tuple[str, ...]) -> None:
    deadline = time.monotonic() + PROBE_VISIBLE_TIMEOUT
    while time.monotonic() < deadline:
        if not any(_locally_originated(router, p) for p in prefixes):
            return
        time.sleep(0.02)
