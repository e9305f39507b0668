"""rpki-rov-bird on real daemons: the learner's edge is BIRD 2 (a whole bird.conf per answer)."""

from __future__ import annotations

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "rpki-rov-bird"
TASK_CHECKS = {
    "origin-invalid-dropped",
    "length-invalid-dropped",
    "customer-invalid-dropped",
}

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
    origin = text["origin-invalid-dropped"]
    assert "edge accepted it with AS path 64510 65551" in origin
    assert "does not authorize AS65551" in origin


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 5
    assert report.seconds < 8  # the gate waits for a fresh RTR session (~3 s on FRR)


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), INLINE_WHERE)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_invalid_routes_only_depreferred_fail(boot_lab):
    report = graded(boot_lab(LAB), DEPREFERENCE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0
    assert "edge holds it and uses it" in messages(report)["origin-invalid-dropped"]


def test_cache_without_a_filter_fails(boot_lab):
    report = graded(boot_lab(LAB), CACHE_ONLY)
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0


def test_rov_towards_transit_only_fails_the_customer_task(boot_lab):
    report = graded(boot_lab(LAB), TRANSIT_ONLY)
    assert failed_ids(report) == {"customer-invalid-dropped"}
    assert report.task("rov-transit").points == 3
    assert report.task("rov-customer").points == 0
