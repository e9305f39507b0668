"""rpki-rov-bird on real daemons: the learner's edge is BIRD 2 (a whole bird.conf per answer)."""

from __future__ import annotations

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.roa import same_vrps
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "rpki-rov-bird"
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

BASE = """
router id 198.18.0.1;
protocol device {}
protocol static own { ipv4; route 198.18.0.0/24 blackhole; }
template bgp neighbour {
  local as 64500;
  hold time 9; keepalive time 3; connect retry time 5;
}
"""


def edge_conf(rpki: str, transit_import: str, cust1_import: str) -> str:
    return (
        BASE
        + rpki
        + f"""
protocol bgp cust1 from neighbour {{
  neighbor 10.0.1.2 as 64501;
  ipv4 {{ {cust1_import} export all; }};
}}
protocol bgp transit from neighbour {{
  neighbor 10.0.10.2 as 64510;
  ipv4 {{ {transit_import} export all; }};
}}
"""
    )


CACHE = """
roa4 table r4;
protocol rpki {
  roa4 { table r4; };
  remote 10.255.0.1 port 8282;
  retry keep 5; refresh keep 30; expire keep 600;
}
"""

# Also correct: other names, both ROA tables, the test inline with `where`, no import table.
INLINE_WHERE = edge_conf(
    """
roa4 table vrps_v4;
roa6 table vrps_v6;
protocol rpki validator {
  roa4 { table vrps_v4; };
  roa6 { table vrps_v6; };
  remote 10.255.0.1 port 8282;
}
""",
    "import where roa_check(vrps_v4, net, bgp_path.last) != ROA_INVALID;",
    "import where roa_check(vrps_v4, net, bgp_path.last) != ROA_INVALID;",
)

# Plausible mistake: invalid routes only lose preference; the only path is still used.
DEPREFERENCE_ONLY = edge_conf(
    CACHE
    + """
filter rov_in {
  if roa_check(r4, net, bgp_path.last) = ROA_INVALID then bgp_local_pref = 50;
  accept;
}
""",
    "import filter rov_in;",
    "import filter rov_in;",
)

# Plausible mistake: the RTR session and ROA table are there, no filter uses them.
CACHE_ONLY = edge_conf(CACHE, "import all;", "import all;")

# Plausible mistake: ROV on transit only, the customer is trusted.
TRANSIT_ONLY = edge_conf(
    CACHE
    + """
filter rov_in {
  if roa_check(r4, net, bgp_path.last) = ROA_INVALID then reject;
  accept;
}
""",
    "import table on; import filter rov_in;",
    "import all;",
)


# Also correct: a filter function with a `case` on the ROA state (valid and unknown fall
# through to the accept), called from each channel's filter.
CASE_FUNCTION = edge_conf(
    CACHE
    + """
function rpki_ok() {
  case roa_check(r4, net, bgp_path.last) {
    ROA_INVALID: return false;
    else: return true;
  }
}
filter from_transit { if !rpki_ok() then reject "RPKI invalid"; accept; }
filter from_customer { if rpki_ok() then accept; reject "RPKI invalid"; }
""",
    "import table on; import filter from_transit;",
    "import table on; import filter from_customer;",
)

# Wrong: the RTR session is up, but the "validation" is a prefix set of what the guide used to
# name (and the old probes used).
DENY_NAMED = edge_conf(
    CACHE
    + """
define NAMED_INVALIDS = [ 198.18.11.0/24, 198.18.21.0/24, 198.18.20.0/24{25,32},
  198.18.1.0/24{25,32} ];
filter no_named { if net ~ NAMED_INVALIDS then reject; accept; }
""",
    "import filter no_named;",
    "import filter no_named;",
)

# Wrong: validates the neighbour's AS (the first of the path) instead of the origin.
FIRST_AS = edge_conf(
    CACHE
    + """
filter rov_first {
  if roa_check(r4, net, bgp_path.first) = ROA_INVALID then reject;
  accept;
}
""",
    "import table on; import filter rov_first;",
    "import table on; import filter rov_first;",
)

# Wrong (a boundary): "too long" read as "longer than /24", the maxLength of every lab ROA,
# with the origin checked for the lab's own invalid routes only.
LONGER_THAN_24 = edge_conf(
    CACHE
    + """
filter short_only {
  if net.len > 24 then reject;
  if net ~ [ 198.18.11.0/24, 198.18.21.0/24 ] then reject;
  accept;
}
""",
    "import filter short_only;",
    "import filter short_only;",
)


def graded(running: RunningLab, config: str | None = None) -> GradeReport:
    if config is not None:
        running.router("edge").apply_config(config)
        running.wait_converged(SilentProgress())
    return grade(running, SilentProgress(), seed=11)


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


def test_unsolved_lab_fails_with_what_leaked_and_why(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == TASK_CHECKS | {"rpki-cache"}
    assert report.points == 0
    text = messages(report)
    assert "edge has no RTR session with the RPKI cache rpki" in text["rpki-cache"]
    assert "edge holds 198.18.21.0/24 with AS path 64510 65551" in text["transit-invalids-gone"]
    origin = text["lab-origin-invalid-dropped"]
    assert "edge accepted it with AS path 64510 " in origin
    assert "does not authorize AS65551" in origin


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    served = running.rtr("rpki").vrps()
    operations.solve(running.instance.name, SilentProgress())
    for seed in (11, 12):
        report = grade(running, SilentProgress(), seed=seed)
        assert report.passed, [c.message for c in report.checks if not c.passed]
        assert report.points == report.max_points == 5
        assert report.seconds < 8
        assert same_vrps(running.router("edge").rpki_vrps(), served)


def test_differently_written_correct_solutions_pass(boot_lab):
    running = boot_lab(LAB)
    for config in (INLINE_WHERE, CASE_FUNCTION):
        report = graded(running, config)
        assert report.passed, [c.message for c in report.checks if not c.passed]


def test_validating_the_first_as_instead_of_the_origin_fails(boot_lab):
    report = graded(boot_lab(LAB), FIRST_AS)
    failed = failed_ids(report)
    assert {"first-as-invalid-dropped", "valid-accepted", "lab-valid-accepted"} <= failed
    assert report.task("rov-transit").points == 0
    assert report.task("rov-customer").points == 2  # there the first AS is the origin
    text = messages(report)
    assert "bgp_path.last" in text["first-as-invalid-dropped"]
    assert "instead of the origin" in text["valid-accepted"]


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


def test_dropping_longer_than_24_instead_of_length_invalid_fails(boot_lab):
    report = graded(boot_lab(LAB), LONGER_THAN_24)
    assert report.points == 0
    failed = failed_ids(report)
    assert {"length-invalid-dropped", "customer-length-invalid-dropped"} <= failed
    assert "lab-length-invalid-dropped" not in failed


def test_invalid_routes_only_depreferred_fail(boot_lab):
    report = graded(boot_lab(LAB), DEPREFERENCE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0
    assert "edge holds it and uses it" in messages(report)["lab-origin-invalid-dropped"]


def test_cache_without_a_filter_fails(boot_lab):
    report = graded(boot_lab(LAB), CACHE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0


def test_rov_towards_transit_only_fails_the_customer_task(boot_lab):
    report = graded(boot_lab(LAB), TRANSIT_ONLY)
    assert failed_ids(report) == CUSTOMER_DROPS
    assert report.task("rov-transit").points == 3
    assert report.task("rov-customer").points == 0
