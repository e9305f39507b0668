"""rpki-rov on real daemons: unsolved fails, the reference passes, wrong ones fail."""

from __future__ import annotations

import contextlib
import time

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.errors import LabError
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.paths import labs_dir
from manrs_lab.progress import SilentProgress
from manrs_lab.roa import same_vrps
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "rpki-rov"
LAB_DIR = labs_dir() / LAB
# What fails when edge drops nothing: every "invalid is dropped" check of both tasks.
TRANSIT_DROPS = {
    "transit-invalids-gone",
    "origin-invalid-dropped",
    "first-as-invalid-dropped",
    "length-invalid-dropped",
    "lab-origin-invalid-dropped",
    "lab-length-invalid-dropped",
}
CUSTOMER_DROPS = {
    "customer-origin-invalid-dropped",
    "customer-length-invalid-dropped",
    "customer-invalid-dropped",
}
TASK_CHECKS = TRANSIT_DROPS | CUSTOMER_DROPS

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


# Wrong: the RTR session is up, but the "validation" is a prefix-list of what the guide used to
# name (and the old probes used): the lab's invalid prefixes and the more-specifics of its ROAs.
DENY_NAMED = (
    CACHE
    + """
ip prefix-list NAMED-INVALIDS seq 5 deny 198.18.11.0/24
ip prefix-list NAMED-INVALIDS seq 10 deny 198.18.21.0/24
ip prefix-list NAMED-INVALIDS seq 15 deny 198.18.20.0/24 ge 25
ip prefix-list NAMED-INVALIDS seq 20 deny 198.18.1.0/24 ge 25
ip prefix-list NAMED-INVALIDS seq 100 permit 0.0.0.0/0 le 32
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.10.2 prefix-list NAMED-INVALIDS in
  neighbor 10.0.1.2 prefix-list NAMED-INVALIDS in
 exit-address-family
exit
"""
)

# Wrong (a boundary): "too long" read as "longer than /24" (every lab ROA's maxLength), plus
# the one origin-invalid route in sight. A route one bit past a /20 ROA's maxLength is a /21.
LONGER_THAN_24 = (
    CACHE
    + """
ip prefix-list NO-LONG seq 5 deny 0.0.0.0/0 ge 25
ip prefix-list NO-LONG seq 10 deny 198.18.21.0/24
ip prefix-list NO-LONG seq 100 permit 0.0.0.0/0 le 24
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.10.2 prefix-list NO-LONG in
  neighbor 10.0.1.2 prefix-list NO-LONG in
 exit-address-family
exit
"""
)

REFERENCE = (LAB_DIR / "solution" / "edge.conf").read_text()


def graded(
    running: RunningLab, config: str | None = None, *, soft_clear: bool = True, seed: int = 7
) -> GradeReport:
    """Apply `config` as a learner would: then, once the RTR session is up, ask edge to filter
    the routes it holds again (`clear bgp ipv4 unicast * soft in`, as the guide says)."""
    if config is not None:
        running.router("edge").apply_config(config)
        running.wait_converged(SilentProgress())
        if soft_clear:
            running.wait_rpki(SilentProgress())
            wait_vrps(running)
            running.router("edge").vtysh("clear bgp ipv4 unicast * soft in")
            # A config that drops not-found routes never converges: it is graded as it is.
            with contextlib.suppress(LabError):
                running.wait_converged(SilentProgress(), timeout=3)
    return grade(running, SilentProgress(), seed=seed)


def wait_vrps(running: RunningLab, timeout: float = 10.0) -> None:
    served = running.rtr("rpki").vrps()
    deadline = time.monotonic() + timeout
    while not same_vrps(running.router("edge").rpki_vrps(), served):
        assert time.monotonic() < deadline, "edge did not load the VRPs"
        time.sleep(0.05)


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


def test_unsolved_lab_fails_with_what_leaked_and_why(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == TASK_CHECKS | {"rpki-cache"}
    assert report.points == 0
    text = messages(report)
    assert "edge has no RTR session with the RPKI cache rpki" in text["rpki-cache"]
    standing = text["transit-invalids-gone"]
    assert "edge holds 198.18.21.0/24 with AS path 64510 65551: RPKI-invalid" in standing
    assert "the ROA 198.18.21.0/24 maxLength 24 AS64521 does not authorize AS65551" in standing
    origin = text["lab-origin-invalid-dropped"]
    assert "198.18.11.0/24 (origin AS65551, sent by transit (AS64510)) is RPKI-invalid" in origin
    assert "the ROA 198.18.11.0/24 maxLength 24 AS64511 does not authorize AS65551" in origin
    assert "edge accepted it with AS path 64510 " in origin
    # The fresh ROAs are named, so the learner sees why a route they never heard of is invalid.
    assert "allows up to /" in text["length-invalid-dropped"]
    assert "does not authorize AS" in text["first-as-invalid-dropped"]
    assert "session with transit" in text["length-invalid-dropped"]
    assert "session with cust1" in text["customer-origin-invalid-dropped"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks_and_withdraws_its_roas(boot_lab):
    running = boot_lab(LAB)
    served = running.rtr("rpki").vrps()
    operations.solve(running.instance.name, SilentProgress())
    for seed in (1, 2, 3):
        report = grade(running, SilentProgress(), seed=seed)
        assert report.passed, [c.message for c in report.checks if not c.passed]
        assert report.points == report.max_points == 5
        assert report.seconds < 8
        # The probe ROAs are gone from the cache and from edge once the check is over.
        assert same_vrps(running.rtr("rpki").vrps(), served)
        assert same_vrps(running.router("edge").rpki_vrps(), served)
        assert not (running.instance.folder / "roa-probes.json").exists()


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), PERMIT_STYLE)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_rov_without_filtering_the_routes_already_held_fails(boot_lab):
    report = graded(boot_lab(LAB), REFERENCE, soft_clear=False)
    assert failed_ids(report) == {"transit-invalids-gone"}
    message = messages(report)["transit-invalids-gone"]
    assert "198.18.21.0/24 with AS path 64510 65551" in message
    assert "clear bgp ipv4 unicast * soft in" in message


def test_a_deny_list_of_the_named_invalids_fails_both_tasks(boot_lab):
    report = graded(boot_lab(LAB), DENY_NAMED)
    assert report.points == 0
    assert {
        "origin-invalid-dropped",
        "first-as-invalid-dropped",
        "length-invalid-dropped",
        "customer-origin-invalid-dropped",
        "customer-length-invalid-dropped",
    } <= failed_ids(report)
    assert not failed_ids(report) & {"lab-origin-invalid-dropped", "customer-invalid-dropped"}


def test_dropping_longer_than_24_instead_of_length_invalid_fails(boot_lab):
    report = graded(boot_lab(LAB), LONGER_THAN_24)
    assert report.points == 0
    failed = failed_ids(report)
    assert {"length-invalid-dropped", "customer-length-invalid-dropped"} <= failed
    assert "lab-length-invalid-dropped" not in failed  # a /25: the boundary it does catch
    assert "allows up to /" in messages(report)["length-invalid-dropped"]


def test_invalid_routes_only_depreferred_fail(boot_lab):
    report = graded(boot_lab(LAB), DEPREFERENCE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0
    origin = messages(report)["lab-origin-invalid-dropped"]
    assert "edge holds it, marked RPKI invalid, and uses it" in origin
    assert "a lower preference is not enough" in origin


def test_cache_without_a_policy_fails(boot_lab):
    report = graded(boot_lab(LAB), CACHE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert "marked RPKI invalid" in messages(report)["length-invalid-dropped"]


def test_dropping_not_found_routes_fails(boot_lab):
    report = graded(boot_lab(LAB), VALID_ONLY)
    assert failed_ids(report) == {"not-found-accepted"}
    message = messages(report)["not-found-accepted"]
    assert "cust1 has no route for " in message
    assert "edge does not hold it" in message
    assert "Its RPKI state is not found" in message
    assert report.task("rov-transit").points == 0


def test_rov_towards_transit_only_fails_the_customer_task(boot_lab):
    report = graded(boot_lab(LAB), TRANSIT_ONLY)
    assert failed_ids(report) == CUSTOMER_DROPS
    assert report.task("rov-transit").points == 3
    assert report.task("rov-customer").points == 0
