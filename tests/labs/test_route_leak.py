"""route-leak on real daemons: unsolved fails, the reference (BGP roles on edge, an export
filter on cust1) passes, prefix filters with BIRD roles pass too, and wrong fixes fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.spec.loader import load_lab

pytestmark = pytest.mark.daemons
LAB = "route-leak"
LEAK_CHECKS = {
    "customer-leak-dropped",
    "cust1-leak-not-announced",
    "cust1-leak-not-announced-to-edge",
}


def cust1_starting_config() -> str:
    return (load_lab(LAB).folder / "configs" / "cust1.conf").read_text()


def cust1_with_role(role: str) -> str:
    """cust1's starting bird.conf (exports everything) with a BGP role on both sessions."""
    return cust1_starting_config().replace(
        "  hold time 9;", f"  local role {role};\n  hold time 9;"
    )


def cust1_reference() -> str:
    return Path(load_lab(LAB).solution_path("cust1")).read_text()


def cust1_exports(edge: str, upstream2: str) -> str:
    """cust1's starting bird.conf with these export statements towards edge and upstream2."""
    first, _, rest = cust1_starting_config().partition("export all;")
    second, _, last = rest.partition("export all;")
    return first + edge + second + upstream2 + last


# Correct, written differently: only what cust1 originates itself leaves it (no BGP path).
CUST1_EMPTY_PATH_ONLY = "export where bgp_path.len = 0;"

# Plausible mistake: cust1 filters the session with upstream2 (where the grader's leak used to
# be seen) and still passes upstream2's routes on to edge.
CUST1_OWN = "export where net ~ [ 198.18.1.0/24 ];"

# Plausible mistake: "no more-specifics to my providers": /24 and shorter routes still leak.
CUST1_NO_MORE_SPECIFICS = "export where net.len <= 24;"

# Plausible mistake: cust1 withholds the space the guide named (transit's) and nothing else.
CUST1_NOT_TRANSITS = "export where !(net ~ [ 198.18.10.0/24+ ]);"


# Correct, written differently: edge filters each customer to its registered prefix (the
# customer-filtering way), and cust1 uses BGP roles instead of an export filter.
EDGE_PREFIX_LISTS = """
ip prefix-list CUST1-IN seq 10 permit 198.18.1.0/24
ip prefix-list CUST2-IN seq 10 permit 198.18.2.0/24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUST1-IN in
  neighbor 10.0.2.2 prefix-list CUST2-IN in
 exit-address-family
exit
"""

# Correct, a third idiom: from each customer only the paths it originates itself (AS-path).
EDGE_AS_PATH_ONLY_ORIGINATED = """
bgp as-path access-list CUST1-ORIGINATED seq 10 permit ^64501$
bgp as-path access-list CUST2-ORIGINATED seq 10 permit ^64502$
route-map FROM-CUST1 permit 10
 match as-path CUST1-ORIGINATED
exit
route-map FROM-CUST2 permit 10
 match as-path CUST2-ORIGINATED
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 route-map FROM-CUST1 in
  neighbor 10.0.2.2 route-map FROM-CUST2 in
 exit-address-family
exit
"""

# Plausible mistake: a length filter on the customers ("no more-specifics from customers"):
# a leaked /24 or shorter prefix still gets in.
EDGE_LENGTH_ONLY = """
ip prefix-list NO-MORE-SPECIFICS seq 10 permit 0.0.0.0/0 le 24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list NO-MORE-SPECIFICS in
  neighbor 10.0.2.2 prefix-list NO-MORE-SPECIFICS in
 exit-address-family
exit
"""

# Plausible mistake: deny what the guide named (upstream2's space), accept everything else.
EDGE_DENY_UPSTREAM2_SPACE = """
ip prefix-list NOT-UPSTREAM2 seq 10 deny 198.18.4.0/24 le 32
ip prefix-list NOT-UPSTREAM2 seq 20 permit 0.0.0.0/0 le 32
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list NOT-UPSTREAM2 in
  neighbor 10.0.2.2 prefix-list NOT-UPSTREAM2 in
 exit-address-family
exit
"""

# Plausible mistake: the customers' prefix-lists applied to what edge sends them. The leak
# still comes in, and the customers no longer get their transit routes.
EDGE_FILTER_OUTBOUND = EDGE_PREFIX_LISTS.replace(" in\n", " out\n")

# Plausible mistake: the role names what edge is to... edge, read the wrong way round. edge
# now treats its customers as its providers, and accepts their leaks.
EDGE_ROLE_MISMATCH = """
router bgp 64500
 neighbor 10.0.1.2 local-role customer
 neighbor 10.0.2.2 local-role customer
 neighbor 10.0.10.2 local-role provider
exit
"""


def configure(running: RunningLab, edge: str | None = None, cust1: str | None = None) -> None:
    if edge is not None:
        running.router("edge").apply_config(edge)
    if cust1 is not None:
        running.router("cust1").apply_config(cust1)
    running.wait_converged(SilentProgress())


def graded(running: RunningLab) -> GradeReport:
    return grade(running, SilentProgress(), seed=11)


def message(report: GradeReport, check_id: str) -> str:
    return next(c.message for c in report.checks if c.id == check_id)


def test_unsolved_lab_leaks_both_ways_and_says_who_passed_what(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == LEAK_CHECKS
    assert report.points == 0
    provider = message(report, "customer-leak-dropped")
    assert "edge accepted 198.18.4." in provider
    assert "with AS path 64502 64504: cust2 (AS64502) passed a route it learned from " in provider
    assert "upstream2 (AS64504) on to edge" in provider
    customer = message(report, "cust1-leak-not-announced")
    assert "upstream2 received 198.18.10." in customer
    assert "with AS path 64501 64500 64510" in customer
    assert "Look at cust1's export policy towards upstream2" in customer
    to_edge = message(report, "cust1-leak-not-announced-to-edge")
    assert "cust1 (AS64501) announces to edge 198." in to_edge
    assert "(AS path 64504 64502 64510)" in to_edge
    assert "learned from upstream2 (AS64504): a route leak" in to_edge
    assert "Look at cust1's export policy towards edge" in to_edge
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 5


def test_prefix_filters_on_edge_and_roles_on_cust1_pass(boot_lab):
    running = boot_lab(LAB)
    configure(running, edge=EDGE_PREFIX_LISTS, cust1=cust1_with_role("customer"))
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_edge_filter_in_the_wrong_direction_fails_both_tasks(boot_lab):
    running = boot_lab(LAB)
    configure(running, edge=EDGE_FILTER_OUTBOUND)
    report = graded(running)
    assert "customer-leak-dropped" in failed_ids(report)
    assert report.points == 0
    starved = message(report, "cust1-leak-not-announced")
    assert "cust1 never learned 198.18.10." in starved
    assert "from its other provider, so the leak could not be tested" in starved


def test_edge_roles_the_wrong_way_round_accept_the_leak(boot_lab):
    running = boot_lab(LAB)
    configure(running, edge=EDGE_ROLE_MISMATCH, cust1=cust1_reference())
    report = graded(running)
    assert failed_ids(report) == {"customer-leak-dropped"}
    assert report.task("customer-side").passed
    assert report.task("provider-side").points == 0
    assert "edge's import policy towards its customer cust2 let it in" in message(
        report, "customer-leak-dropped"
    )


def test_cust1_claiming_the_provider_role_still_leaks(boot_lab):
    running = boot_lab(LAB)
    configure(running, edge=EDGE_PREFIX_LISTS, cust1=cust1_with_role("provider"))
    report = graded(running)
    assert failed_ids(report) == {"cust1-leak-not-announced", "cust1-leak-not-announced-to-edge"}
    assert report.task("provider-side").passed
    assert report.task("customer-side").points == 0


def test_as_path_filters_on_edge_and_empty_path_exports_on_cust1_pass(boot_lab):
    running = boot_lab(LAB)
    only_own = CUST1_EMPTY_PATH_ONLY
    configure(running, edge=EDGE_AS_PATH_ONLY_ORIGINATED, cust1=cust1_exports(only_own, only_own))
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]


@pytest.mark.parametrize(
    "edge", [EDGE_LENGTH_ONLY, EDGE_DENY_UPSTREAM2_SPACE], ids=["le24", "named"]
)
def test_edge_filters_that_miss_leaks_fail_the_provider_side(boot_lab, edge):
    running = boot_lab(LAB)
    configure(running, edge=edge, cust1=cust1_reference())
    report = graded(running)
    assert failed_ids(report) == {"customer-leak-dropped"}
    assert report.task("customer-side").passed
    assert "cust2 (AS64502) passed a route it learned from upstream2 (AS64504) on to edge" in (
        message(report, "customer-leak-dropped")
    )


def test_cust1_filtering_only_its_session_with_upstream2_leaks_to_edge(boot_lab):
    running = boot_lab(LAB)
    configure(running, edge=EDGE_PREFIX_LISTS, cust1=cust1_exports("export all;", CUST1_OWN))
    report = graded(running)
    assert failed_ids(report) == {"cust1-leak-not-announced-to-edge"}
    assert report.task("provider-side").passed  # edge's prefix-list drops it: cust1 still leaks
    assert report.task("customer-side").points == 0


def test_cust1_filtering_only_its_session_with_edge_leaks_to_upstream2(boot_lab):
    running = boot_lab(LAB)
    configure(running, edge=EDGE_PREFIX_LISTS, cust1=cust1_exports(CUST1_OWN, "export all;"))
    report = graded(running)
    assert failed_ids(report) == {"cust1-leak-not-announced"}
    assert report.task("customer-side").points == 0


@pytest.mark.parametrize(
    "cust1", [CUST1_NO_MORE_SPECIFICS, CUST1_NOT_TRANSITS], ids=["le24", "named"]
)
def test_cust1_export_filters_that_miss_leaks_fail_the_customer_side(boot_lab, cust1):
    running = boot_lab(LAB)
    configure(running, edge=EDGE_PREFIX_LISTS, cust1=cust1_exports(cust1, cust1))
    report = graded(running)
    assert {"cust1-leak-not-announced", "cust1-leak-not-announced-to-edge"} <= failed_ids(report)
    assert report.task("provider-side").passed
    assert report.task("customer-side").points == 0
