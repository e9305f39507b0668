"""packets_delivered: sources that fell short in the first round go once more, to the receivers
that missed them; what falls short again is lost.

The exchange here is scripted (what arrived, per round): what is under test is how the check
judges rounds, which no daemon influences (the lab tests send real packets).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from manrs_lab.grader.checks import traffic
from manrs_lab.grader.checks.traffic import Arrivals, DeliveredParams, Source, packets_delivered
from manrs_lab.grader.registry import CheckFailed

OWN = "198.18.1.10"


@pytest.fixture
def rounds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], list[str]]]:
    """(receivers, source addresses) of each exchange the check asked for."""
    asked: list[tuple[list[str], list[str]]] = []
    monkeypatch.setattr(traffic, "host_address", lambda ctx, host, version: OWN)
    monkeypatch.setattr(traffic, "_entry", lambda ctx, sender: "edge's eth1")
    monkeypatch.setattr(traffic, "_route_back", lambda ctx, source: "a route back")
    return asked


def judge(
    monkeypatch: pytest.MonkeyPatch,
    asked: list[tuple[list[str], list[str]]],
    dropped: list[set[str]],
) -> str | None:
    """`dropped[i]`: the source addresses lost in round i (at every receiver)."""

    def scripted(ctx, params, sources: list[Source], *, control, timeout) -> Arrivals:
        lost = dropped[len(asked)]
        asked.append((list(params.receivers), [s.address for s in sources]))
        counts = {
            r: {s.address: 0 if s.address in lost else params.count for s in sources}
            for r in params.receivers
        }
        return Arrivals(counts, set())

    monkeypatch.setattr(traffic, "exchange", scripted)
    params = DeliveredParams(
        sender="h-cust1", receivers=["h-transit", "h-peer"], across=["198.18.1.0/24"]
    )
    ctx = SimpleNamespace(seed=7, learner="edge")
    try:
        return packets_delivered(ctx, params)  # type: ignore[arg-type]
    except CheckFailed as failed:
        return f"failed: {failed}"


def test_everything_delivered_is_one_round(monkeypatch: pytest.MonkeyPatch, rounds):
    assert judge(monkeypatch, rounds, [set()]).startswith("h-transit, h-peer received all")
    assert len(rounds) == 1


def test_a_source_short_once_goes_again_alone_and_passes(monkeypatch: pytest.MonkeyPatch, rounds):
    assert not judge(monkeypatch, rounds, [{OWN}, set()]).startswith("failed")
    assert rounds[1] == (["h-transit", "h-peer"], [OWN])


def test_a_source_short_twice_is_lost(monkeypatch: pytest.MonkeyPatch, rounds):
    verdict = judge(monkeypatch, rounds, [{OWN}, {OWN}])
    assert verdict.startswith("failed: h-cust1 sent packets from its legitimate addresses")
    assert f"0 of 3 from {OWN}" in verdict
    assert len(rounds) == 2
