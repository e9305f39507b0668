"""rpki-rov on real daemons: unsolved fails, the reference passes, wrong ones fail."""

from __future__ import annotations

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "rpki-rov"
TASK_CHECKS = {
    "origin-invalid-dropped",
    "length-invalid-dropped",
    "customer-invalid-dropped",
}

CACHE = """
rpki
 rpki cache 10.255.0.1 8282 preference 1
exit
"""

# Also correct: the policy as a permit-list of the acceptable states, with other names, and
# ROV merged into an existing route-map that does other work (tags with a community).
PERMIT_STYLE = (
    CACHE
    + """
bgp community-list standard FROM-TRANSIT permit 64500:10
route-map FROM-TRANSIT permit 10
 match rpki valid
 set community 64500:10 additive
exit
route-map FROM-TRANSIT deny 20
 match rpki invalid
exit
route-map FROM-TRANSIT permit 30
 set community 64500:10 additive
exit
route-map FROM-CUSTOMER deny 5
 match rpki invalid
exit
route-map FROM-CUSTOMER permit 10
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.10.2 route-map FROM-TRANSIT in
  neighbor 10.0.1.2 route-map FROM-CUSTOMER in
 exit-address-family
exit
"""
)

# Plausible mistake: invalid routes only lose preference. With no other path they are still
# best, used and passed on to cust1.
DEPREFERENCE_ONLY = (
    CACHE
    + """
route-map RPKI-IN permit 10
 match rpki invalid
 set local-preference 50
exit
route-map RPKI-IN permit 20
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.10.2 route-map RPKI-IN in
  neighbor 10.0.1.2 route-map RPKI-IN in
 exit-address-family
exit
"""
)

# Plausible mistake: the cache is connected, no policy uses the validation state.
CACHE_ONLY = CACHE

# Plausible mistake: only valid routes are accepted: not-found ones (most of the Internet) go too.
VALID_ONLY = (
    CACHE
    + """
route-map RPKI-IN permit 10
 match rpki valid
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.10.2 route-map RPKI-IN in
  neighbor 10.0.1.2 route-map RPKI-IN in
 exit-address-family
exit
"""
)

# Plausible mistake: ROV towards transit only, the customer is trusted.
TRANSIT_ONLY = (
    CACHE
    + """
route-map RPKI-IN deny 10
 match rpki invalid
exit
route-map RPKI-IN permit 20
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.10.2 route-map RPKI-IN in
 exit-address-family
exit
"""
)


def graded(running: RunningLab, config: str | None = None) -> GradeReport:
    if config is not None:
        running.router("edge").apply_config(config)
        running.wait_converged(SilentProgress())
    return grade(running, SilentProgress(), seed=7)


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


def test_unsolved_lab_fails_with_what_leaked_and_why(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == TASK_CHECKS | {"rpki-cache"}
    assert report.points == 0
    text = messages(report)
    assert "edge has no RTR session with the RPKI cache rpki" in text["rpki-cache"]
    origin = text["origin-invalid-dropped"]
    assert "198.18.11.0/24 (origin AS65551, sent by transit (AS64510)) is RPKI-invalid" in origin
    assert "the ROA 198.18.11.0/24 maxLength 24 AS64511 does not authorize AS65551" in origin
    # Seen first on edge; cust1 shows up too when the leak had propagated by then.
    assert "edge accepted it with AS path 64510 65551" in origin
    length = text["length-invalid-dropped"]
    assert "maxLength 24 AS64520 allows up to /24, not /2" in length
    assert "session with transit" in length
    assert "session with cust1" in text["customer-invalid-dropped"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 5
    assert report.seconds < 8  # the gate waits for a fresh RTR session (~3 s on FRR)


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), PERMIT_STYLE)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_invalid_routes_only_depreferred_fail(boot_lab):
    report = graded(boot_lab(LAB), DEPREFERENCE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0
    origin = messages(report)["origin-invalid-dropped"]
    assert "edge holds it, marked RPKI invalid, and uses it" in origin
    assert "a lower preference is not enough" in origin


def test_cache_without_a_policy_fails(boot_lab):
    report = graded(boot_lab(LAB), CACHE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert "marked RPKI invalid" in messages(report)["length-invalid-dropped"]


def test_dropping_not_found_routes_fails(boot_lab):
    report = graded(boot_lab(LAB), VALID_ONLY)
    # cust1's valid route may go too: FRR ran the policy before the VRPs arrived (not found,
    # denied) and does not look at a denied route again until a soft clear.
    assert failed_ids(report) - {"customer-valid-kept"} == {"not-found-accepted"}
    message = messages(report)["not-found-accepted"]
    assert "cust1 has no route for 198.18.30.0/24 (origin AS64530" in message
    assert "edge does not hold it" in message
    assert "Its RPKI state is not found" in message
    assert report.task("rov-transit").points == 0


def test_rov_towards_transit_only_fails_the_customer_task(boot_lab):
    report = graded(boot_lab(LAB), TRANSIT_ONLY)
    assert failed_ids(report) == {"customer-invalid-dropped"}
    assert report.task("rov-transit").points == 3
    assert report.task("rov-customer").points == 0
