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
LEAK_CHECKS = {"customer-leak-dropped", "cust1-leak-not-announced"}


def cust1_starting_config() -> str:
    return (load_lab(LAB).folder / "configs" / "cust1.conf").read_text()


def cust1_with_role(role: str) -> str:
    """cust1's starting bird.conf (exports everything) with a BGP role on both sessions."""
    return cust1_starting_config().replace(
        "  hold time 9;", f"  local role {role};\n  hold time 9;"
    )


def cust1_reference() -> str:
    return Path(load_lab(LAB).solution_path("cust1")).read_text()


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
    assert failed_ids(report) == {"cust1-leak-not-announced"}
    assert report.task("provider-side").passed
    assert report.task("customer-side").points == 0
