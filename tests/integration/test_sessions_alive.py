"""The liveness gate (issue 12, timing): a configuration that silently drops BGP packets keeps
its sessions Established until their hold timers expire, seconds after a check would have
passed. The gate sees the silence during the check, and every task loses its points."""

from __future__ import annotations

import pytest

from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.progress import SilentProgress

pytestmark = pytest.mark.daemons

# Anti-spoofing gone wrong: only the customers' registered /24s may send through edge, so the
# customers' BGP packets (from their link addresses) are dropped too.
DROP_BGP_FROM_CUST2 = """
table inet overbroad {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth2" ip saddr != 198.18.2.0/24 drop
  }
}
"""


def test_a_filter_that_silently_drops_bgp_fails_every_task_while_sessions_still_look_up(
    boot_lab,
):
    running = boot_lab("customer-filtering")
    operations.solve(running.instance.name, SilentProgress())
    assert grade(running, SilentProgress(), seed=3).passed
    running.handle("edge").exec_ok(["nft", "-f", "-"], input_text=DROP_BGP_FROM_CUST2)
    report = grade(running, SilentProgress(), seed=3)
    results = {c.id: c for c in report.checks}
    # Established all along (the hold timer has not run out), but silent
    assert results["sessions-up"].passed
    assert not results["sessions-alive"].passed
    assert "edge heard nothing from 10.0.2.2" in results["sessions-alive"].message
    assert report.points == 0
    running.handle("edge").exec_ok(["nft", "delete", "table", "inet", "overbroad"])
    assert grade(running, SilentProgress(), seed=3).passed


# Silence the other way: edge's own BGP packets to cust1 (BIRD) never leave. BIRD's side is
# read from its TCP connection (bytes received) and its hold timer.
DROP_BGP_TO_CUST1 = """
table inet mute {
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "eth1" tcp sport 179 drop
    oifname "eth1" tcp dport 179 drop
  }
}
"""


def test_a_bird_neighbour_that_hears_nothing_fails_the_gate(boot_lab):
    running = boot_lab("customer-filtering")
    operations.solve(running.instance.name, SilentProgress())
    for seed in (1, 2, 3):  # checks in a row: each gate is passed by what the refresh brings
        assert grade(running, SilentProgress(), seed=seed).passed
    running.handle("edge").exec_ok(["nft", "-f", "-"], input_text=DROP_BGP_TO_CUST1)
    report = grade(running, SilentProgress(), seed=4)
    results = {c.id: c for c in report.checks}
    assert results["sessions-up"].passed
    assert not results["sessions-alive"].passed
    assert "cust1 heard nothing from 10.0.1.1" in results["sessions-alive"].message
    # (No grade after lifting the drop: TCP's retransmission backoff after seconds of loss may
    # let cust1's 9 s hold timer expire first, and the session restarts.)


# The reference solution's list for cust1, edited in place afterwards so that it would drop
# cust1's own prefix: FRR keeps the routes it holds until they are sent again.
EDIT_IN_PLACE_TOO_STRICT = """
no ip prefix-list CUST1-IN
ip prefix-list CUST1-IN seq 5 permit 198.18.1.0/25
"""


def test_a_filter_edited_in_place_is_graded_as_configured_not_as_held(boot_lab):
    running = boot_lab("customer-filtering")
    operations.solve(running.instance.name, SilentProgress())
    running.router("edge").apply_config(EDIT_IN_PLACE_TOO_STRICT)
    # edge still holds cust1's /24 (nothing sent it again) ...
    assert any(r.origin_as == 64501 for r in running.router("edge").routes("198.18.1.0/24"))
    report = grade(running, SilentProgress(), seed=5)
    # ... but the grader has the neighbours send their routes again: the new rule drops it
    failed = {c.id for c in report.checks if not c.passed}
    assert "cust1-reaches-transit" in failed, [c.message for c in report.checks]
    assert report.task("filter-cust1").points == 0
