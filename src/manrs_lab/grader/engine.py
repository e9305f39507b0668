"""Run a lab's checks against a running instance.

`wait:` retries a check until it passes or time runs out (never a fixed sleep); `hold:` asks a
passing check to keep passing that long (for "the hijack never shows up"); `requires:` skips a
check whose prerequisite failed. A probe acts on the lab for the check's duration only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
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
    rng = random.Random(seed)
    start = time.monotonic()
    results: dict[str, CheckResult] = {}
    selected = [c for c in spec.checks if tasks is None or c.task is None or c.task in tasks]
    needed = _with_prerequisites(selected, spec.checks)
    for chk in spec.checks:
        if chk.id not in needed:
            continue
        blocked = [r for r in chk.requires if not results[r].passed]
        if blocked:
            results[chk.id] = CheckResult(
                chk.id,
                chk.title,
                chk.task,
                passed=False,
                skipped=True,
                message=f"skipped: needs {', '.join(blocked)} to pass first",
                evidence="",
                seconds=0.0,
            )
        else:
            progress.step(f"checking: {chk.title}")
            results[chk.id] = _run_check(running, chk, rng)
        progress.node(chk.id, "pass" if results[chk.id].passed else "fail")
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
        checks=list(results.values()),
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


def _run_check(running: RunningLab, chk: Check, rng: random.Random) -> CheckResult:
    definition = get_check(chk.check)
    params = definition.params.model_validate(chk.params)
    start = time.monotonic()
    try:
        with _probe(running, chk.probe, rng) as probe:
            ctx = CheckContext(running=running, probe=probe)
            evidence = _evaluate(lambda: definition.fn(ctx, params), chk.wait, chk.hold)
    except CheckFailed as failed:
        return CheckResult(
            chk.id,
            chk.title,
            chk.task,
            False,
            False,
            str(failed),
            "",
            round(time.monotonic() - start, 3),
        )
    except (ExecError, LabError) as exc:
        return CheckResult(
            chk.id,
            chk.title,
            chk.task,
            False,
            False,
            f"could not read the routers' state: {exc}",
            "",
            round(time.monotonic() - start, 3),
        )
    return CheckResult(
        chk.id, chk.title, chk.task, True, False, "", evidence, round(time.monotonic() - start, 3)
    )


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


@contextmanager
def _probe(
    running: RunningLab, probe: Probe | None, rng: random.Random
) -> Iterator[ProbeResult | None]:
    if probe is None:
        yield None
        return
    spec = probe.announce
    prefixes = tuple(p if isinstance(p, str) else p.draw(rng) for p in spec.prefixes)
    router = running.router(spec.node)
    router.announce(list(prefixes))
    try:
        _wait_originated(router, prefixes)
        yield ProbeResult(node=spec.node, asn=router.asn, prefixes=prefixes)
    finally:
        router.withdraw(list(prefixes))
        _wait_withdrawn(router, prefixes)


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
