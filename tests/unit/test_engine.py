"""Grader semantics: wait, hold, requires, after, concurrency, points, seeds.

The checks here are test-registered functions over counters, not router output: what is under
test is the engine's scheduling and scoring, which no daemon influences.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from typing import Any

import pytest

from manrs_lab.errors import LabError
from manrs_lab.grader.engine import ProbeBook, _draw_probes, _evaluate, grade
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.instance import Instance
from manrs_lab.progress import RecordingProgress
from manrs_lab.running import RunningLab
from manrs_lab.spec.lab import LabSpecFile
from manrs_lab.spec.loader import Lab, load_lab

calls: dict[str, int] = defaultdict(int)
order: list[str] = []
rendezvous = threading.Barrier(2, timeout=5)


class Script(Params):
    key: str
    outcomes: list[bool]  # per call; the last repeats


@check("test_scripted", Script)
def scripted(ctx: Any, params: Script) -> str:
    calls[params.key] += 1
    order.append(params.key)
    index = min(calls[params.key], len(params.outcomes)) - 1
    if not params.outcomes[index]:
        raise CheckFailed(f"{params.key} failed on call {calls[params.key]}")
    return f"{params.key} ok"


class Meet(Params):
    key: str


@check("test_meet", Meet)
def meet(ctx: Any, params: Meet) -> str:
    rendezvous.wait()  # only returns if the other check runs at the same time
    order.append(params.key)
    return "met"


def running_with(checks: list[dict], tasks: list[dict] | None = None) -> RunningLab:
    base = load_lab("customer-filtering")
    raw = base.spec.model_dump(by_alias=True)
    raw["checks"] = checks
    raw["tasks"] = tasks or [{"id": "t", "title": "T", "points": 3}]
    lab = Lab(LabSpecFile.model_validate(raw), base.folder, base.topology)
    inst = Instance(name="unit", lab=lab.id, runtime="netns", lab_folder=str(lab.folder))
    return RunningLab(inst, lab, runtime=None)  # type: ignore[arg-type]


def c(cid: str, outcomes: list[bool], **extra: Any) -> dict:
    return {
        "id": cid,
        "title": cid,
        "task": "t",
        "check": "test_scripted",
        "with": {"key": cid, "outcomes": outcomes},
        **extra,
    }


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()
    order.clear()
    rendezvous.reset()


def results(running: RunningLab) -> dict[str, Any]:
    return {r.id: r for r in grade(running, RecordingProgress(), seed=1).checks}


def test_wait_retries_until_pass():
    out = results(running_with([c("w", [False, False, True], wait=5)]))
    assert out["w"].passed
    assert calls["w"] == 3


def test_without_wait_one_failure_fails():
    out = results(running_with([c("n", [False, True])]))
    assert not out["n"].passed
    assert out["n"].message == "n failed on call 1"


def test_hold_catches_a_later_failure():
    out = results(running_with([c("h", [True, True, False], hold=2)]))
    assert not out["h"].passed
    assert "call 3" in out["h"].message


def test_hold_passes_when_it_keeps_passing():
    out = results(running_with([c("h", [True], hold=0.3)]))
    assert out["h"].passed
    assert calls["h"] >= 2


def test_requires_skips_dependants_and_scores_zero():
    running = running_with(
        [
            {**c("gate", [False]), "task": None},
            c("a", [True], requires=["gate"]),
        ]
    )
    report = grade(running, RecordingProgress(), seed=1)
    by_id = {r.id: r for r in report.checks}
    assert by_id["a"].skipped
    assert "needs gate" in by_id["a"].message
    assert calls["a"] == 0
    assert report.points == 0


def test_failed_gate_fails_every_task():
    running = running_with([{**c("gate", [True, False], wait=0), "task": None}, c("a", [True])])
    report = grade(running, RecordingProgress(), seed=1)
    assert report.task("t").points == 3
    running = running_with([{**c("gate", [False]), "task": None}, c("a", [True])])
    assert grade(running, RecordingProgress(), seed=1).task("t").points == 0


def test_after_orders_without_gating():
    running = running_with([c("first", [False]), c("second", [True], after=["first"])])
    out = results(running)
    assert order == ["first", "second"]
    assert out["second"].passed


def test_independent_checks_run_concurrently():
    meet_check = {"title": "m", "task": "t", "check": "test_meet"}
    running = running_with(
        [
            {**meet_check, "id": "m1", "with": {"key": "m1"}},
            {**meet_check, "id": "m2", "with": {"key": "m2"}},
        ]
    )
    out = results(running)  # sequential execution would break the barrier
    assert out["m1"].passed
    assert out["m2"].passed


def test_a_check_starts_when_its_own_gate_is_done_not_when_all_others_are():
    # "slow" only returns once another check meets it; "gated" needs just the quick gate. In
    # waves (gate + slow, then gated) slow would wait for gated forever (barrier timeout).
    meet_check = {"title": "m", "task": "t", "check": "test_meet"}
    running = running_with(
        [
            {**c("gate", [True]), "task": None},
            {**meet_check, "id": "slow", "with": {"key": "slow"}},
            {**meet_check, "id": "gated", "with": {"key": "gated"}, "requires": ["gate"]},
        ]
    )
    out = results(running)
    assert out["gated"].passed, out["gated"].message
    assert out["slow"].passed


def test_task_points_need_every_check_of_the_task():
    running = running_with(
        [c("a", [True]), {**c("b", [False]), "task": "u"}],
        tasks=[{"id": "t", "title": "T", "points": 2}, {"id": "u", "title": "U", "points": 5}],
    )
    report = grade(running, RecordingProgress(), seed=1)
    assert (report.task("t").points, report.task("u").points) == (2, 0)
    assert (report.points, report.max_points) == (2, 7)
    assert not report.passed
    assert report.task("u").next_hint is None  # no hints given for this task


def test_only_selected_tasks_are_graded():
    running = running_with(
        [c("a", [True]), {**c("b", [False]), "task": "u"}],
        tasks=[{"id": "t", "title": "T"}, {"id": "u", "title": "U"}],
    )
    report = grade(running, RecordingProgress(), seed=1, tasks=["t"])
    assert [t.id for t in report.tasks] == ["t"]
    assert calls["b"] == 0


def test_after_on_a_check_not_run_does_not_hold_back():
    running = running_with(
        [c("a", [True]), {**c("b", [True]), "task": "u", "after": ["a"]}],
        tasks=[{"id": "t", "title": "T"}, {"id": "u", "title": "U"}],
    )
    report = grade(running, RecordingProgress(), seed=1, tasks=["u"])
    assert [r.id for r in report.checks] == ["b"]
    assert report.passed


def test_drawn_probe_prefixes_never_collide_with_another_probe_from_the_same_node():
    # Two probes from one node with different AS paths: the draw may not hit the fixed /25s.
    def probe_check(cid: str, prefixes: list, as_path: list[int]) -> dict:
        return {
            **c(cid, [True]),
            "probe": {"announce": {"node": "cust1", "prefixes": prefixes, "as_path": as_path}},
        }

    halves = ["198.18.1.0/25", "198.18.1.128/25"]
    running = running_with(
        [
            probe_check("forged", halves, [64500]),
            probe_check("hijack", [{"more_specific_of": "198.18.1.0/24", "lengths": [25, 25]}], []),
        ]
    )
    with pytest.raises(LabError, match="no free prefix to draw"):
        _draw_probes(running.lab.spec.checks, random.Random(1))
    running = running_with(
        [
            probe_check("forged", halves, [64500]),
            probe_check("hijack", [{"more_specific_of": "198.18.1.0/24", "lengths": [25, 26]}], []),
        ]
    )
    for seed in range(30):
        draws = _draw_probes(running.lab.spec.checks, random.Random(seed))
        assert draws["hijack"].prefixes[0] not in halves
        assert draws["hijack"].prefixes[0].endswith("/26")


class RecordingRouter:
    """Records what the probe book asks a router to do (no daemon involved)."""

    name = "r"
    asn = 64500

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def announce(
        self, prefixes: list[str], as_path: tuple[int, ...] = (), next_hop: str | None = None
    ) -> None:
        self.calls.append(("announce", prefixes))

    def withdraw(self, prefixes: list[str]) -> None:
        self.calls.append(("withdraw", prefixes))


def test_probe_book_announces_once_and_withdraws_after_the_last_user():
    book = ProbeBook()
    router = RecordingRouter()
    book.announce(router, ("198.18.1.0/24",))  # type: ignore[arg-type]
    book.announce(router, ("198.18.1.0/24", "198.18.1.0/25"))  # type: ignore[arg-type]
    assert book.withdraw(router, ("198.18.1.0/24",)) == []  # type: ignore[arg-type]
    assert book.withdraw(router, ("198.18.1.0/24", "198.18.1.0/25")) == [  # type: ignore[arg-type]
        "198.18.1.0/24",
        "198.18.1.0/25",
    ]
    assert router.calls == [
        ("announce", ["198.18.1.0/24"]),
        ("announce", ["198.18.1.0/25"]),
        ("withdraw", ["198.18.1.0/24", "198.18.1.0/25"]),
    ]


def test_a_failing_probe_check_words_its_verdict_on_a_settled_view():
    seen = iter(["cust1 got it", "cust1 and cust2 got it"])

    def spreading() -> str:
        raise CheckFailed(next(seen))

    with pytest.raises(CheckFailed, match="cust1 and cust2 got it"):
        _evaluate(spreading, wait=0, hold=0, settle=0.01)
    answers = iter([False, True])  # a leak that vanishes again still failed the check

    def flapping() -> str:
        if not next(answers):
            raise CheckFailed("seen once")
        return "gone"

    with pytest.raises(CheckFailed, match="seen once"):
        _evaluate(flapping, wait=0, hold=0, settle=0.01)
