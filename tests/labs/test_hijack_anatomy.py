"""hijack-anatomy on real daemons: the learner (evil) hijacks, observers and hosts show it.

The tasks are steps of one story, checked one at a time (`check --task`): an announced hijack
and a withdrawn one cannot be graded at once. Full marks = every task passing at its step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "hijack-anatomy"
SOLUTION = Path(__file__).resolve().parents[2] / "labs" / LAB / "solution"
STEP1 = (SOLUTION / "1-exact-prefix.conf").read_text()
STEP2 = (SOLUTION / "2-more-specific.conf").read_text()

# Correct, written differently: routes in evil's own table, redistributed; a /26 as the
# more-specific; a route-map instead of a bare prefix-list as the egress filter.
ALT_STEP1 = """
ip route 198.18.1.0/24 blackhole
router bgp 65551
 address-family ipv4 unicast
  redistribute static
 exit-address-family
exit
"""
ALT_STEP2 = """
ip route 198.18.1.0/26 blackhole
"""
ALT_STEP3 = """
no ip route 198.18.1.0/24 blackhole
no ip route 198.18.1.0/26 blackhole
ip prefix-list OURS seq 5 permit 198.18.99.0/24
route-map TO-TRANSIT permit 10
 match ip address prefix-list OURS
exit
router bgp 65551
 address-family ipv4 unicast
  neighbor 10.10.99.1 route-map TO-TRANSIT out
 exit-address-family
exit
"""

# Plausible mistake in task 2: the other half of the /24, which does not cover 198.18.1.10.
WRONG_HALF = """
router bgp 65551
 address-family ipv4 unicast
  network 198.18.1.128/25
 exit-address-family
exit
"""

# Plausible mistake in task 3: the egress filter hides the hijacks, nobody withdrew them.
FILTER_ONLY = """
ip prefix-list EVIL-OUT seq 10 permit 198.18.99.0/24
router bgp 65551
 address-family ipv4 unicast
  neighbor 10.10.99.1 prefix-list EVIL-OUT out
 exit-address-family
exit
"""

# Plausible mistake in task 3: withdrawn, but nothing stops the next typo.
WITHDRAW_ONLY = """
router bgp 65551
 address-family ipv4 unicast
  no network 198.18.1.0/24
  no network 198.18.1.0/25
 exit-address-family
exit
"""

# Correct, a third idiom for the egress filter: a zebra access-list as a distribute-list.
ACL_STEP3 = (
    WITHDRAW_ONLY
    + """
access-list OURS-ONLY seq 10 permit 198.18.99.0/24 exact-match
router bgp 65551
 address-family ipv4 unicast
  neighbor 10.10.99.1 distribute-list OURS-ONLY out
 exit-address-family
exit
"""
)

# Deny exactly the strays the guide used to name, let out everything else.
EGRESS_DENY_NAMED = (
    WITHDRAW_ONLY
    + """
ip prefix-list NO-STRAYS seq 10 deny 198.18.0.0/24 le 32
ip prefix-list NO-STRAYS seq 20 deny 198.19.0.0/16 le 32
ip prefix-list NO-STRAYS seq 30 permit 0.0.0.0/0 le 32
router bgp 65551
 address-family ipv4 unicast
  neighbor 10.10.99.1 prefix-list NO-STRAYS out
 exit-address-family
exit
"""
)

# Boundary: its own /24 "and anything inside it".
EGRESS_OWN_LE_32 = FILTER_ONLY.replace("permit 198.18.99.0/24", "permit 198.18.99.0/24 le 32")

# Over-broad: the /23 around its /24 "to leave room to grow".
EGRESS_SUPERNET = FILTER_ONLY.replace("permit 198.18.99.0/24", "permit 198.18.98.0/23 le 24")


def booted(boot_lab) -> RunningLab:
    """A lab whose gates pass: bgpd may still be connecting to zebra right after `up`."""
    running = boot_lab(LAB)
    gates = grade(running, SilentProgress(), tasks=[])
    assert gates.passed, [c.message for c in gates.checks if not c.passed]
    return running


def apply(running: RunningLab, config: str) -> None:
    running.router("evil").apply_config(config)
    running.wait_converged(SilentProgress())


def graded(running: RunningLab, task: str | None = None) -> GradeReport:
    return grade(running, SilentProgress(), seed=7, tasks=[task] if task else None)


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


def test_unsolved_lab_fails_the_hijack_tasks_and_says_what_was_seen(boot_lab):
    report = graded(booted(boot_lab))
    assert failed_ids(report) == {
        "exact-transit-follows",
        "exact-peer-follows",
        "exact-edge-stays",
        "exact-traffic-peer",
        "ms-everyone-follows",
        "ms-traffic-cust2",
        "ms-traffic-peer",
        "egress-filtered",
    }
    assert report.points == 0
    said = messages(report)
    assert (
        "transit's best path for 198.18.1.0/24 has origin AS64501 (AS path 64500 64501)"
        in said["exact-transit-follows"]
    )
    assert "holds no path for it from AS65551" in said["exact-edge-stays"]
    assert "it ends at h-cust1, not at evil" in said["exact-traffic-peer"]
    assert "edge sends 198.18.1.10 along 198.18.1.0/24 from AS64501" in said["ms-everyone-follows"]
    assert "transit received" in said["egress-filtered"]
    assert "evil's export policy let it out" in said["egress-filtered"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks_step_by_step(boot_lab):
    running = booted(boot_lab)
    points = 0
    apply(running, STEP1)
    report = graded(running, "exact-prefix")
    assert report.passed, [c.message for c in report.checks if not c.passed]
    points += report.points
    evidence = {c.id: c.evidence for c in report.checks}
    assert "h-peer -> peer" in evidence["exact-traffic-peer"]
    assert evidence["exact-traffic-peer"].endswith("evil (198.18.1.10)")
    assert evidence["exact-traffic-cust2"].endswith("h-cust1 (198.18.1.10)")

    apply(running, STEP2)
    report = graded(running, "more-specific")
    assert report.passed, [c.message for c in report.checks if not c.passed]
    points += report.points

    operations.solve(running.instance.name, SilentProgress())
    report = graded(running, "clean-up")
    assert report.passed, [c.message for c in report.checks if not c.passed]
    points += report.points

    full = graded(running)
    assert points == full.max_points == 8
    # After the clean-up only the hijack steps fail, and they say why.
    assert {"exact-transit-follows", "ms-everyone-follows"} <= failed_ids(full)
    assert "egress-filtered" not in failed_ids(full)


def test_reference_solution_applies_on_a_fresh_lab(boot_lab):
    running = booted(boot_lab)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running, "clean-up")
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_differently_written_correct_solution_passes(boot_lab):
    running = booted(boot_lab)
    for step, task in ((ALT_STEP1, "exact-prefix"), (ALT_STEP2, "more-specific")):
        apply(running, step)
        report = graded(running, task)
        assert report.passed, [c.message for c in report.checks if not c.passed]
    apply(running, ALT_STEP3)
    report = graded(running, "clean-up")
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_egress_filter_as_an_access_list_passes(boot_lab):
    running = booted(boot_lab)
    apply(running, STEP1 + STEP2)
    apply(running, ACL_STEP3)
    report = graded(running, "clean-up")
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_more_specific_that_misses_the_server_fails(boot_lab):
    running = booted(boot_lab)
    apply(running, WRONG_HALF)
    report = graded(running, "more-specific")
    assert report.points == 0
    assert {"ms-everyone-follows", "ms-traffic-cust2", "ms-traffic-peer"} <= failed_ids(report)
    said = messages(report)
    assert "from AS64501" in said["ms-everyone-follows"]
    assert "it ends at h-cust1, not at evil" in said["ms-traffic-cust2"]
    # Announcing a more-specific is not the exact-prefix hijack of task 1 either.
    report = graded(running, "exact-prefix")
    assert report.points == 0
    assert "exact-transit-follows" in failed_ids(report)


def test_clean_up_without_withdrawing_fails(boot_lab):
    running = booted(boot_lab)
    apply(running, STEP1 + STEP2 + FILTER_ONLY)
    report = graded(running, "clean-up")
    assert report.points == 0
    assert failed_ids(report) == {"cleanup-nothing-left"}
    assert (
        "evil still originates 198.18.1.0/24, 198.18.1.0/25"
        in messages(report)["cleanup-nothing-left"]
    )


def test_clean_up_without_egress_filter_fails(boot_lab):
    running = booted(boot_lab)
    apply(running, STEP1 + STEP2)
    apply(running, WITHDRAW_ONLY)
    report = graded(running, "clean-up")
    assert report.points == 0
    assert failed_ids(report) == {"egress-filtered"}


@pytest.mark.parametrize(
    "egress",
    [EGRESS_DENY_NAMED, EGRESS_OWN_LE_32, EGRESS_SUPERNET],
    ids=["deny-the-named-strays", "own-le-32", "supernet"],
)
def test_egress_filters_that_let_something_else_out_fail(boot_lab, egress):
    running = booted(boot_lab)
    apply(running, STEP1 + STEP2)
    apply(running, egress if egress is EGRESS_DENY_NAMED else WITHDRAW_ONLY + egress)
    report = graded(running, "clean-up")
    assert failed_ids(report) == {"egress-filtered"}
    assert report.points == 0
    message = messages(report)["egress-filtered"]
    assert "transit received" in message
    assert "evil's export policy let it out" in message
