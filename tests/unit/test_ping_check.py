"""ping_replies: a round that loses replies is pinged again, with a longer timeout; the second
round decides.

The host here is a stand-in that answers ping rounds from a script: what is under test is how
the check judges rounds, which no daemon influences (the lab tests ping for real).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from manrs_lab.drivers.host import PingResult
from manrs_lab.grader.checks.policy import RETRY_PING_TIMEOUT, PingParams, ping_replies
from manrs_lab.grader.registry import CheckFailed


@dataclass
class ScriptedHost:
    rounds: list[int]  # replies received in each round of 3
    pinged: list[str] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)

    def ping(self, dst: str, count: int = 3, timeout: float = 1.0) -> PingResult:
        self.pinged.append(dst)
        self.timeouts.append(timeout)
        return PingResult(sent=count, received=self.rounds[len(self.pinged) - 1])


def ctx_with(host: ScriptedHost) -> SimpleNamespace:
    return SimpleNamespace(running=SimpleNamespace(host=lambda name: host), learner="edge")


def judge(rounds: list[int]) -> tuple[str | None, int]:
    """The check's evidence (None: it failed) and how many rounds it pinged."""
    host = ScriptedHost(rounds)
    params = PingParams(host="h-cust1", destination="2001:db8:10::10")
    try:
        return ping_replies(ctx_with(host), params), len(host.pinged)  # type: ignore[arg-type]
    except CheckFailed:
        return None, len(host.pinged)


def test_every_reply_passes_in_one_round():
    assert judge([3]) == ("h-cust1 -> 2001:db8:10::10: 3/3 replies", 1)


def test_a_partly_lost_round_is_pinged_again_and_the_second_round_decides():
    assert judge([2, 3]) == ("h-cust1 -> 2001:db8:10::10: 3/3 replies", 2)
    assert judge([1, 2]) == (None, 2)


def test_a_round_lost_whole_is_pinged_again_with_a_longer_timeout():
    # Neighbour discovery slower than the reply timeout (dozens of checks at once) loses a
    # whole round; a filter loses the second one too.
    assert judge([0, 3]) == ("h-cust1 -> 2001:db8:10::10: 3/3 replies", 2)
    assert judge([0, 0]) == (None, 2)
    host = ScriptedHost([0, 0])
    with pytest.raises(CheckFailed):
        ping_replies(ctx_with(host), PingParams(host="h", destination="10.0.0.1"))  # type: ignore[arg-type]
    assert host.timeouts == [1.0, RETRY_PING_TIMEOUT]


def test_the_failure_names_the_family_and_the_learner():
    params = PingParams(host="h-cust1", destination="2001:db8:10::10")
    with pytest.raises(CheckFailed, match=r"0 of 3 replies\. Legitimate IPv6 .* edge's routes"):
        ping_replies(ctx_with(ScriptedHost([0, 0])), params)  # type: ignore[arg-type]
