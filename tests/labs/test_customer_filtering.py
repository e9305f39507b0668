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
PROBE_CHECKS = {
    "cust1-registered-exactly",
    "cust1-only-its-own",
    "exact-hijack-dropped",
    "more-specific-hijack-dropped",
    "cust2-registered-exactly",
    "cust2-only-its-own",
}

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


# Correct, a third idiom: zebra access-lists (exact-match) as distribute-lists.
ACCESS_LIST_STYLE = """
access-list CUST1-NETS seq 10 permit 198.18.1.0/24 exact-match
access-list CUST2-NETS seq 10 permit 198.18.2.0/24 exact-match
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 distribute-list CUST1-NETS in
  neighbor 10.0.2.2 distribute-list CUST2-NETS in
 exit-address-family
exit
"""

# Deny exactly what the guide used to name (each customer's hijack targets), permit the rest:
# cust1 may still announce cust2's prefix, transit's, anybody's.
DENY_THE_NAMED_TARGETS = """
ip prefix-list NOT-EDGE seq 10 deny 198.18.0.0/24 le 32
ip prefix-list NOT-EDGE seq 20 permit 0.0.0.0/0 le 32
ip prefix-list NOT-CUST1 seq 10 deny 198.18.1.0/24 le 32
ip prefix-list NOT-CUST1 seq 20 permit 0.0.0.0/0 le 32
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list NOT-EDGE in
  neighbor 10.0.2.2 prefix-list NOT-CUST1 in
 exit-address-family
exit
"""

# Boundary: each customer's own /24 "and anything inside it".
OWN_SPACE_LE_32 = """
ip prefix-list CUST1-IN seq 10 permit 198.18.1.0/24 le 32
ip prefix-list CUST2-IN seq 10 permit 198.18.2.0/24 le 32
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUST1-IN in
  neighbor 10.0.2.2 prefix-list CUST2-IN in
 exit-address-family
exit
"""

# Boundary, one past it only: /25s of its own space are still accepted from cust1.
CUST1_LE_25 = """
ip prefix-list CUST1-IN seq 10 permit 198.18.1.0/24 le 25
ip prefix-list CUST2-IN seq 10 permit 198.18.2.0/24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUST1-IN in
  neighbor 10.0.2.2 prefix-list CUST2-IN in
 exit-address-family
exit
"""

# One list for both customers: each may announce the other's prefix.
SHARED_LIST = """
ip prefix-list CUSTOMERS seq 10 permit 198.18.1.0/24
ip prefix-list CUSTOMERS seq 20 permit 198.18.2.0/24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUSTOMERS in
  neighbor 10.0.2.2 prefix-list CUSTOMERS in
 exit-address-family
exit
"""

# Over-broad: a supernet of the customer's /24 (a /23 "to leave room to grow").
CUST2_SUPERNET = """
ip prefix-list CUST1-IN seq 10 permit 198.18.1.0/24
ip prefix-list CUST2-IN seq 10 permit 198.18.2.0/23 le 24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUST1-IN in
  neighbor 10.0.2.2 prefix-list CUST2-IN in
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
    assert failed_ids(report) == PROBE_CHECKS
    assert report.points == 0
    messages = {c.id: c.message for c in report.checks}
    assert (
        "198.18.1.0/24 from cust2 (not cust2's: it is registered for 198.18.2.0/24 only): "
        "edge accepted it with AS path 64502" in messages["exact-hijack-dropped"]
    )
    assert "with AS path 64502" in messages["more-specific-hijack-dropped"]
    assert "towards cust2 (AS64502)" in messages["more-specific-hijack-dropped"]
    assert (
        "a more-specific (/25) of cust1's registered 198.18.1.0/24"
        in (messages["cust1-registered-exactly"])
    )
    assert (
        "a covering prefix of cust2's registered 198.18.2.0/24"
        in (messages["cust2-registered-exactly"])
    )
    assert "198.18.2.0/24 from cust1 (not cust1's" in messages["cust1-only-its-own"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 5


@pytest.mark.parametrize("config", [ROUTE_MAP_STYLE, ACCESS_LIST_STYLE], ids=["route-map", "acl"])
def test_differently_written_correct_solution_passes(boot_lab, config):
    report = graded(boot_lab(LAB), config)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_filter_applied_outbound_fails(boot_lab):
    report = graded(boot_lab(LAB), FILTER_OUTBOUND)
    assert failed_ids(report) == PROBE_CHECKS
    assert report.points == 0


def test_filter_that_drops_the_legitimate_prefix_fails(boot_lab):
    report = graded(boot_lab(LAB), DROPS_LEGITIMATE)
    failed = failed_ids(report)
    assert "cust1-reaches-transit" in failed
    assert "exact-hijack-dropped" not in failed  # the hijacks are stopped, the victim too
    message = next(c.message for c in report.checks if c.id == "cust1-reaches-transit")
    assert "transit has no route for 198.18.1.0/24 from AS64501" in message
    assert report.task("filter-cust1").points == 0


def test_denying_only_the_named_hijack_targets_fails_both_tasks(boot_lab):
    report = graded(boot_lab(LAB), DENY_THE_NAMED_TARGETS)
    failed = failed_ids(report)
    assert {"cust1-only-its-own", "cust2-only-its-own", "cust1-registered-exactly"} <= failed
    assert {"exact-hijack-dropped", "more-specific-hijack-dropped"}.isdisjoint(failed)
    assert report.points == 0
    message = next(c.message for c in report.checks if c.id == "cust1-only-its-own")
    assert "198.18.2.0/24 from cust1 (not cust1's" in message
    assert "edge accepted it with AS path 64501" in message


def test_more_specifics_of_the_own_prefix_fail_both_tasks(boot_lab):
    report = graded(boot_lab(LAB), OWN_SPACE_LE_32)
    assert failed_ids(report) == {"cust1-registered-exactly", "cust2-registered-exactly"}
    assert report.points == 0
    message = next(c.message for c in report.checks if c.id == "cust2-registered-exactly")
    assert "a more-specific (/25) of cust2's registered 198.18.2.0/24" in message


def test_one_length_past_the_registered_prefix_fails(boot_lab):
    report = graded(boot_lab(LAB), CUST1_LE_25)
    assert failed_ids(report) == {"cust1-registered-exactly"}
    assert report.task("filter-cust1").points == 0
    assert report.task("filter-cust2").passed


def test_one_list_shared_by_both_customers_fails_both_tasks(boot_lab):
    report = graded(boot_lab(LAB), SHARED_LIST)
    assert failed_ids(report) == {"cust1-only-its-own", "exact-hijack-dropped"}
    assert report.points == 0


def test_a_supernet_of_the_customer_prefix_fails(boot_lab):
    report = graded(boot_lab(LAB), CUST2_SUPERNET)
    assert "cust2-registered-exactly" in failed_ids(report)
    assert report.task("filter-cust1").passed
    assert report.task("filter-cust2").points == 0
