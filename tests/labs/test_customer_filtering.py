"""customer-filtering on real daemons: unsolved fails, the reference passes, wrong ones fail."""

from __future__ import annotations

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "customer-filtering"

# The customers' filters written as route-maps with other names: also correct.
ROUTE_MAP_STYLE = """
ip prefix-list AS64501-ROUTES permit 198.18.1.0/24
ip prefix-list AS64502-ROUTES permit 198.18.2.0/24
route-map FROM-CUST1 permit 10
 match ip address prefix-list AS64501-ROUTES
exit
route-map FROM-CUST2 permit 10
 match ip address prefix-list AS64502-ROUTES
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 route-map FROM-CUST1 in
  neighbor 10.0.2.2 route-map FROM-CUST2 in
 exit-address-family
exit
"""

# Plausible mistake: the right prefix-lists, applied to what edge sends, not what it receives.
FILTER_OUTBOUND = """
ip prefix-list CUST1-IN seq 10 permit 198.18.1.0/24
ip prefix-list CUST2-IN seq 10 permit 198.18.2.0/24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUST1-IN out
  neighbor 10.0.2.2 prefix-list CUST2-IN out
 exit-address-family
exit
"""

# Plausible mistake: "block the victim's space from customers" also blocks the victim itself.
DROPS_LEGITIMATE = """
ip prefix-list NO-HIJACK seq 10 deny 198.18.1.0/24 le 32
ip prefix-list NO-HIJACK seq 15 deny 198.18.0.0/24 le 32
ip prefix-list NO-HIJACK seq 20 permit 0.0.0.0/0 le 24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list NO-HIJACK in
  neighbor 10.0.2.2 prefix-list NO-HIJACK in
 exit-address-family
exit
"""


def graded(running: RunningLab, config: str | None = None) -> GradeReport:
    if config is not None:
        running.router("edge").apply_config(config)
        running.wait_converged(SilentProgress())
    return grade(running, SilentProgress(), seed=7)


def test_unsolved_lab_fails_the_hijack_checks_with_what_leaked(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == {
        "cust1-cannot-hijack",
        "exact-hijack-dropped",
        "more-specific-hijack-dropped",
    }
    assert report.points == 0
    messages = {c.id: c.message for c in report.checks}
    assert "edge accepted 198.18.1.0/24 with AS path 64502" in messages["exact-hijack-dropped"]
    assert "with AS path 64502" in messages["more-specific-hijack-dropped"]
    assert "towards cust2 (AS64502)" in messages["more-specific-hijack-dropped"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 5


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), ROUTE_MAP_STYLE)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_filter_applied_outbound_fails(boot_lab):
    report = graded(boot_lab(LAB), FILTER_OUTBOUND)
    assert {"exact-hijack-dropped", "more-specific-hijack-dropped"} <= failed_ids(report)
    assert report.points == 0


def test_filter_that_drops_the_legitimate_prefix_fails(boot_lab):
    report = graded(boot_lab(LAB), DROPS_LEGITIMATE)
    failed = failed_ids(report)
    assert "cust1-reaches-transit" in failed
    assert "exact-hijack-dropped" not in failed  # the hijacks are stopped, the victim too
    message = next(c.message for c in report.checks if c.id == "cust1-reaches-transit")
    assert "transit has no route for 198.18.1.0/24 from AS64501" in message
    assert report.task("filter-cust1").points == 0
