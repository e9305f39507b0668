"""ixp-route-server on real daemons: unsolved fails, the reference passes, wrong ones fail."""

from __future__ import annotations

import time

import pytest

from lab_reports import failed_ids, failed_tasks
from lab_support import REPO
from manrs_lab import operations
from manrs_lab.grader import roa_probe
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "ixp-route-server"
REFERENCE = (REPO / "labs" / LAB / "solution" / "rs.conf").read_text()

VIOLATIONS = {
    "content-unregistered-dropped",
    "content-foreign-64510-dropped",
    "content-foreign-64512-dropped",
    "access-unregistered-dropped",
    "access-more-specific-dropped",
    "access-foreign-64503-dropped",
    "access-foreign-64508-dropped",
    "access-foreign-64512-dropped",
    "regional-unregistered-dropped",
    "regional-more-specific-dropped",
    "regional-foreign-64503-dropped",
    "regional-foreign-64508-dropped",
    "regional-foreign-64510-dropped",
    "content-invalid-dropped",
    "access-invalid-dropped",
    "access-lab-invalid-dropped",
    "first-as-roa-invalid-dropped",
    "regional-invalid-dropped",
    "first-as-dropped",
    "content-next-hop-dropped",
    "access-next-hop-dropped",
    "regional-next-hop-dropped",
    "content-bogons-dropped",
    "access-bogons-dropped",
    "regional-bogons-dropped",
    "limit-enforced",
}

# Correct, written another way: one named filter per member, prefix sets inline, a path mask
# for the first AS, `from` for the next hop, a bogon function, `action restart` for the limit.
PER_MEMBER_FILTERS = """
router id 198.18.0.1;
protocol device {}
roa4 table r4;
protocol rpki validator {
  roa4 { table r4; };
  remote 10.255.0.1 port 8282;
  retry keep 5; refresh keep 30; expire keep 600;
}

function martian()
{
  return net ~ [ 0.0.0.0/8+, 10.0.0.0/8+, 100.64.0.0/10+, 127.0.0.0/8+, 169.254.0.0/16+,
                 172.16.0.0/12+, 192.0.0.0/24+, 192.0.2.0/24+, 192.88.99.0/24+,
                 192.168.0.0/16+, 198.51.100.0/24+, 203.0.113.0/24+, 224.0.0.0/3+,
                 0.0.0.0/0{25,32} ];
}

function checked_origin()
{
  if roa_check(r4, net, bgp_path.last) = ROA_INVALID then return false;
  return true;
}

filter from_content {
  if martian() then reject;
  if !(bgp_path ~ [= 64505 * =]) then reject;
  if bgp_next_hop != from then reject;
  if net !~ [ 10.5.0.0/16, 198.18.3.0/24, 198.18.5.0/24, 198.18.8.0/24 ] then reject;
  if !checked_origin() then reject;
  accept;
}

filter from_access {
  if martian() then reject;
  if !(bgp_path ~ [= 64506 * =]) then reject;
  if bgp_next_hop != from then reject;
  if net !~ [ 198.18.6.0/24, 198.18.9.0/24, 198.18.10.0/24, 198.19.10.0/24, 198.19.11.0/24,
              198.19.12.0/24, 198.19.13.0/24, 198.19.14.0/24, 198.19.15.0/24,
              198.19.16.0/24, 198.19.17.0/24 ] then reject;
  if !checked_origin() then reject;
  accept;
}

filter from_regional {
  if martian() then reject;
  if !(bgp_path ~ [= 64507 * =]) then reject;
  if bgp_next_hop != from then reject;
  if net !~ [ 198.18.7.0/24, 198.18.9.0/24, 198.18.12.0/24 ] then reject;
  if !checked_origin() then reject;
  accept;
}

protocol bgp content {
  local 10.200.0.1 as 64500; neighbor 10.200.0.5 as 64505; rs client;
  hold time 9; keepalive time 3; connect retry time 5;
  ipv4 { import filter from_content; import limit 5 action restart; export all; };
}
protocol bgp access {
  local 10.200.0.1 as 64500; neighbor 10.200.0.6 as 64506; rs client;
  hold time 9; keepalive time 3; connect retry time 5;
  ipv4 { import filter from_access; import limit 4 action restart; export all; };
}
protocol bgp regional {
  local 10.200.0.1 as 64500; neighbor 10.200.0.7 as 64507; rs client;
  hold time 9; keepalive time 3; connect retry time 5;
  ipv4 { import filter from_regional; import limit 5 action restart; export all; };
}
"""

# Plausible mistakes, each the reference with one thing wrong (or most things missing).
IRR_ONLY = REFERENCE.replace(
    """  if net ~ BOGONS then reject "bogon ", net;
  if bgp_path.first != member_as then reject "first AS ", bgp_path.first, " is not the member's";
  if bgp_next_hop != member_ip then reject "next hop ", bgp_next_hop, " is not the member's";
""",
    "",
).replace(
    """  if roa_check(r4, net, bgp_path.last) = ROA_INVALID then reject "RPKI invalid: ", net;
""",
    "",
)
IRR_ONLY = "\n".join(line for line in IRR_ONLY.splitlines() if "import limit" not in line)
FIRST_AS_IS_ORIGIN = REFERENCE.replace("bgp_path.first != member_as", "bgp_path.last != member_as")
DROPS_NOT_FOUND = REFERENCE.replace(
    "roa_check(r4, net, bgp_path.last) = ROA_INVALID",
    "roa_check(r4, net, bgp_path.last) != ROA_VALID",
)
# A textbook bogon list includes RFC 2544's 198.18.0.0/15: here it is the whole Internet.
BOGONS_WITH_BENCHMARK_SPACE = REFERENCE.replace(
    "192.0.0.0/24+, 192.0.2.0/24+,", "192.0.0.0/24+, 192.0.2.0/24+, 198.18.0.0/15+,"
)


# Wrong: the RTR session and a filter per member that names what the guide used to name (and
# the old probes used), with an accept for the rest.
DENY_NAMED = (
    PER_MEMBER_FILTERS.replace(
        "filter from_content {",
        """filter from_content {
  if net ~ [ 198.19.128.0/17+, 198.18.3.0/24, 10.5.0.0/16 ] then reject;
  if net = 198.18.8.0/24 && bgp_next_hop != 10.200.0.5 then reject;
  accept;
}
filter unused_content {""",
    )
    .replace(
        "filter from_access {",
        """filter from_access {
  accept;
}
filter unused_access {""",
    )
    .replace(
        "filter from_regional {",
        """filter from_regional {
  if net = 198.18.9.0/24 && bgp_path.first != 64507 then reject;
  accept;
}
filter unused_regional {""",
    )
)
# Wrong: every member may announce any prefix registered for *any* member (one set for all),
# except the one foreign prefix each member's probe used to relay. Everything else is right.
UNION_MINUS_OLD_PROBES = REFERENCE.replace(
    "  if !(net ~ registered) then reject",
    """  if member_as = 64505 && net = 198.18.10.0/24 then reject;
  if member_as = 64506 && net = 198.18.3.0/24 then reject;
  if member_as = 64507 && net = 198.18.10.0/24 then reject;
  if !(net ~ AS_CONTENT || net ~ AS_ACCESS || net ~ AS_REGIONAL) then reject""",
)

# Wrong: the limits and no filter at all. Leaked routes fill a member's limit at once, and
# `action block` then stops everything else the member sends, the probes of other rules too.
LIMITS_ONLY = REFERENCE.replace(
    "function member_import(int member_as; ip member_ip; prefix set registered)\n{",
    "function member_import(int member_as; ip member_ip; prefix set registered)\n{\n  accept;",
)

# Wrong (a boundary): registered prefixes accepted with any more-specific (`+`, bgpq4's
# `le 32`), and no length rule elsewhere to catch them.
MORE_SPECIFICS = (
    REFERENCE.replace("0.0.0.0/0{0,7}, 0.0.0.0/0{25,32}", "0.0.0.0/0{0,7}")
    .replace("198.18.7.0/24,", "198.18.7.0/24+,")
    .replace("198.19.12.0/24,", "198.19.12.0/24+,")
    .replace("198.19.13.0/24,", "198.19.13.0/24+,")
    .replace("198.19.14.0/24,", "198.19.14.0/24+,")
    .replace("198.19.15.0/24,", "198.19.15.0/24+,")
)
# Wrong: RPKI validated against the member's AS (the first) instead of the origin.
RPKI_FIRST_AS = REFERENCE.replace(
    "roa_check(r4, net, bgp_path.last)", "roa_check(r4, net, bgp_path.first)"
)
# Wrong (boundaries): access's limit one too high, or one too low.
LIMIT_5 = REFERENCE.replace("import limit 4 action block;", "import limit 5 action block;")
LIMIT_3 = REFERENCE.replace("import limit 4 action block;", "import limit 3 action block;")


def graded(running: RunningLab, config: str | None = None, converge: bool = True) -> GradeReport:
    if config is not None:
        running.router("rs").apply_config(config)
        if converge:
            running.wait_converged(SilentProgress())
        else:  # the config drops routes `converged:` waits for: only wait for the sessions
            deadline = time.monotonic() + 20
            while not all(s.established for s in running.router("rs").sessions()):
                assert time.monotonic() < deadline, "rs's sessions did not come back"
                time.sleep(0.2)
    return grade(running, SilentProgress(), seed=11)


def test_unsolved_lab_fails_every_task_naming_what_leaked(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == VIOLATIONS
    assert report.points == 0
    text = {c.id: c.message for c in report.checks}
    assert "access received 10.5.0.0/16 (AS path 64505" in text["content-bogons-dropped"]
    assert "private (RFC 1918)" in text["content-bogons-dropped"]
    assert "100.64.0.0/16" in text["access-bogons-dropped"]
    assert "Drop bogons from every member" in text["regional-bogons-dropped"]
    assert "(AS path 64509, next hop 10.200.0.7)" in text["first-as-dropped"]
    assert "its first AS is AS64509, but regional (AS64507) sent it" in text["first-as-dropped"]
    assert (
        "its next hop is 10.200.0.55, but content (AS64505) sent it from 10.200.0.5"
        in text["content-next-hop-dropped"]
    )
    assert "its next hop is 10.200.0.5 (content's address)" in text["access-next-hop-dropped"]
    assert (
        "not among the routes registered for content's as-set AS-CONTENT"
        in text["content-unregistered-dropped"]
    )
    assert "birdc show route protocol content all" in text["content-unregistered-dropped"]
    assert "ROA 198.18.3.0/24 maxLength 24 AS64503" in text["content-invalid-dropped"]
    assert "more than its limit of 4" in text["limit-enforced"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks_again_and_again(boot_lab):
    running = boot_lab(LAB)
    # Drawn ASNs leave out those the lab's ROAs authorize (a private origin drawn as 64512 made
    # regional's "invalid" 198.18.12.0/24 valid: seed 5, before)
    assert {64503, 64505, 64512} <= roa_probe.served_asns(running)
    operations.solve(running.instance.name, SilentProgress())
    for seed in (5, 11, 12):
        report = grade(running, SilentProgress(), seed=seed)
        assert report.passed, [c.message for c in report.checks if not c.passed]
        assert report.points == report.max_points == 8
        limit = next(c for c in report.checks if c.id == "limit-enforced")
        assert "content 4, regional 4" in limit.evidence  # action block: 4 get through


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), PER_MEMBER_FILTERS)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    limit = next(c for c in report.checks if c.id == "limit-enforced")
    assert "rs closed its session" in limit.evidence  # action restart


def test_filters_naming_the_old_probes_fail(boot_lab):
    report = graded(boot_lab(LAB), DENY_NAMED, converge=False)
    assert {"irr-filter", "rpki-invalid", "next-hop", "bogons"} <= failed_tasks(report)


def test_a_filter_that_lets_members_relay_each_others_prefixes_fails(boot_lab):
    report = graded(boot_lab(LAB), UNION_MINUS_OLD_PROBES)
    assert failed_tasks(report) == {"irr-filter"}
    assert {
        "content-foreign-64510-dropped",
        "content-foreign-64512-dropped",
        "access-foreign-64508-dropped",
        "access-foreign-64512-dropped",
        "regional-foreign-64503-dropped",
        "regional-foreign-64508-dropped",
        "regional-foreign-64510-dropped",
    } == failed_ids(report)
    text = {c.id: c.message for c in report.checks}
    assert (
        "not among the routes registered for access's as-set AS-ACCESS"
        in (text["access-foreign-64512-dropped"])
    )


def test_prefix_limits_alone_do_not_pass_for_filters(boot_lab):
    report = graded(boot_lab(LAB), LIMITS_ONLY, converge=False)
    assert failed_tasks(report) == {"irr-filter", "rpki-invalid", "first-as", "next-hop", "bogons"}
    assert report.points == 1  # the limits are right
    text = {c.id: c.message for c in report.checks}
    # Checked again alone, the limit lifted: the leak shows, not the limit
    assert "its next hop is 10.200.0.55" in text["content-next-hop-dropped"]
    assert "private (RFC 1918)" in text["content-bogons-dropped"]


def test_boundaries_more_specifics_and_limits_fail_their_task(boot_lab):
    running = boot_lab(LAB)

    report = graded(running, MORE_SPECIFICS)
    assert failed_tasks(report) == {"irr-filter"}
    assert "regional-more-specific-dropped" in failed_ids(report)

    report = graded(running, LIMIT_5)
    assert failed_tasks(report) == {"prefix-limit"}
    assert "more than its limit of 4" in {c.id: c.message for c in report.checks}["limit-enforced"]

    report = graded(running, LIMIT_3)
    assert failed_tasks(report) == {"prefix-limit"}
    assert "limit-reached" in failed_ids(report)


def test_plausible_wrong_solutions_fail(boot_lab):
    running = boot_lab(LAB)

    report = graded(running, IRR_ONLY)  # the IRR filter alone: half of the job
    assert failed_tasks(report) == {
        "rpki-invalid",
        "first-as",
        "next-hop",
        "bogons",
        "prefix-limit",
    }
    assert report.points == 2

    report = graded(running, RPKI_FIRST_AS, converge=False)  # validates the member's AS
    assert failed_tasks(report) == {"rpki-invalid"}
    message = {c.id: c.message for c in report.checks}["first-as-roa-invalid-dropped"]
    assert "bgp_path.last" in message

    report = graded(running, FIRST_AS_IS_ORIGIN, converge=False)  # drops relayed routes
    assert failed_tasks(report) == {"first-as"}
    text = {c.id: c.message for c in report.checks}
    assert "content has no 198.19.15.0/24 from access" in text["relayed-route-accepted"]
    assert "`bgp_path.first`" in text["relayed-route-accepted"]

    report = graded(running, DROPS_NOT_FOUND, converge=False)  # ROV that keeps valid routes only
    # Every relayed route the other tasks need is not found (a valid one would test the first
    # AS for RPKI instead): those tasks go too, their messages say why.
    assert "rpki-invalid" in failed_tasks(report)
    message = next(c.message for c in report.checks if c.id == "not-found-accepted")
    assert "access has no route for 198.18.7.0/24 from AS64507" in message
    assert "RPKI not found" in {c.id: c.message for c in report.checks}["relayed-route-accepted"]

    report = graded(running, BOGONS_WITH_BENCHMARK_SPACE, converge=False)
    assert "content-reaches-regional" in failed_ids(report)
    assert "bogons" in failed_tasks(report)
    assert report.points == 0
