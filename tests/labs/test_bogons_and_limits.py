"""bogons-and-limits on real daemons: unsolved fails, the reference passes, wrong ones fail."""

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
LAB = "bogons-and-limits"
SOLUTION = (
    Path(__file__).resolve().parents[2] / "labs" / LAB / "solution" / "edge.conf"
).read_text()
LISTS, _, _ = SOLUTION.partition("router bgp 64500")
TASK_CHECKS = {
    "v4-bogons-dropped",
    "v6-bogons-dropped",
    "lengths-dropped",
    "long-path-dropped",
    "private-asn-dropped",
    "private-asn32-dropped",
    "burst-trips-limit",
}
V4_PEERS = ("10.0.1.2", "10.0.10.2", "10.0.11.2")
V6_PEERS = ("fd00:0:1::2", "fd00:0:10::2", "fd00:0:11::2")

# Correct, written differently: lists of what is bad (permit = match), deny clauses in one
# route-map per family, an anchored path-length rule, a tighter limit with a 1-minute restart.
ROUTE_MAP_STYLE = (
    "\n".join(
        f"ip prefix-list MARTIANS-V4 seq {10 * i} permit {p}"
        for i, p in enumerate(
            [
                "0.0.0.0/0",
                "0.0.0.0/8 le 32",
                "10.0.0.0/8 le 32",
                "100.64.0.0/10 le 32",
                "127.0.0.0/8 le 32",
                "169.254.0.0/16 le 32",
                "172.16.0.0/12 le 32",
                "192.0.2.0/24 le 32",
                "192.168.0.0/16 le 32",
                "198.51.100.0/24 le 32",
                "203.0.113.0/24 le 32",
                "224.0.0.0/3 le 32",
                "0.0.0.0/0 ge 25",
                "0.0.0.0/0 le 7",
            ],
            start=1,
        )
    )
    + "\n"
    + "\n".join(
        f"ipv6 prefix-list MARTIANS-V6 seq {10 * i} permit {p}"
        for i, p in enumerate(
            [
                "::/0",
                "::/8 le 128",
                "2001:2::/48 le 128",
                "2001:10::/28 le 128",
                "2002::/16 le 128",
                "3ffe::/16 le 128",
                "fc00::/7 le 128",
                "fe80::/10 le 128",
                "ff00::/8 le 128",
                "::/0 ge 49",
                "::/0 le 15",
            ],
            start=1,
        )
    )
    + r"""
bgp as-path access-list ABSURD seq 10 permit _6451[2-9]_
bgp as-path access-list ABSURD seq 11 permit _645[2-9][0-9]_
bgp as-path access-list ABSURD seq 12 permit _64[6-9][0-9][0-9]_
bgp as-path access-list ABSURD seq 13 permit _65[0-4][0-9][0-9]_
bgp as-path access-list ABSURD seq 14 permit _655[0-2][0-9]_
bgp as-path access-list ABSURD seq 15 permit _6553[0-5]_
bgp as-path access-list ABSURD seq 20 permit _4[2-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_
bgp as-path access-list ABSURD seq 30 permit _23456_
bgp as-path access-list ABSURD seq 40 permit ^[0-9]+( [0-9]+){50}
route-map IMPORT-V4 deny 10
 match ip address prefix-list MARTIANS-V4
exit
route-map IMPORT-V4 deny 20
 match as-path ABSURD
exit
route-map IMPORT-V4 permit 100
exit
route-map IMPORT-V6 deny 10
 match ipv6 address prefix-list MARTIANS-V6
exit
route-map IMPORT-V6 deny 20
 match as-path ABSURD
exit
route-map IMPORT-V6 permit 100
exit
router bgp 64500
 address-family ipv4 unicast
"""
    + "".join(f"  neighbor {p} route-map IMPORT-V4 in\n" for p in V4_PEERS)
    + "  neighbor 10.0.1.2 maximum-prefix 5 restart 1\n"
    + " exit-address-family\n address-family ipv6 unicast\n"
    + "".join(f"  neighbor {p} route-map IMPORT-V6 in\n" for p in V6_PEERS)
    + "  neighbor fd00:0:1::2 maximum-prefix 5 restart 1\n"
    + " exit-address-family\nexit\n"
)

# Plausible mistake: a bogon list copied from the real Internet drops the lab's Internet.
REAL_WORLD_BOGONS = (
    SOLUTION
    + """
ip prefix-list BOGONS-V4 seq 140 deny 198.18.0.0/15 le 32
ipv6 prefix-list BOGONS-V6 seq 120 deny 2001:db8::/32 le 128
"""
)

# Plausible mistake: the filters only on the session with transit ("the Internet").
TRANSIT_ONLY = (
    LISTS
    + """
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.10.2 prefix-list BOGONS-V4 in
  neighbor 10.0.10.2 filter-list SANE-PATHS in
 exit-address-family
 address-family ipv6 unicast
  neighbor fd00:0:10::2 prefix-list BOGONS-V6 in
  neighbor fd00:0:10::2 filter-list SANE-PATHS in
 exit-address-family
exit
"""
)

# Plausible mistake: a limit that never comes back by itself.
NO_RESTART = SOLUTION.replace(" restart 5", "")

# Plausible mistake: the path-length rule written with `_`, which matches short paths too.
UNDERSCORE_LENGTH = SOLUTION.replace("deny ([0-9]+ ){50}[0-9]+", "deny ([0-9]+_){51}")


def graded(running: RunningLab, config: str | None = None) -> GradeReport:
    if config is not None:
        running.router("edge").apply_config(config)
        running.wait_converged(SilentProgress())
    return grade(running, SilentProgress(), seed=11)


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


def test_unsolved_lab_fails_every_task_and_says_what_got_through(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0
    said = messages(report)
    assert "from peer is a bogon: private (RFC 1918)" in said["v4-bogons-dropped"]
    assert "0.0.0.0/0 from peer is a default route" in said["v4-bogons-dropped"]
    assert "edge accepted it with AS path 64511" in said["v4-bogons-dropped"]
    assert "::/0 from transit is a default route" in said["v6-bogons-dropped"]
    assert "unique local (RFC 4193)" in said["v6-bogons-dropped"]
    assert "is too long: /" in said["lengths-dropped"]
    assert "is too short: /" in said["lengths-dropped"]
    assert "an AS path of 61 hops (more than 50)" in said["long-path-dropped"]
    assert "private AS [65113] in the AS path" in said["private-asn-dropped"]
    assert "private AS [4200000123] in the AS path" in said["private-asn32-dropped"]
    assert "IPv4 session with cust1 (10.0.1.2) stayed Established" in said["burst-trips-limit"]
    assert "no maximum-prefix limit tripped" in said["burst-trips-limit"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 9
    evidence = {c.id: c.evidence for c in report.checks}
    assert (
        "IPv6 session with cust1 (fd00:0:1::2): limit tripped, restarts in"
        in (evidence["burst-trips-limit"])
    )
    # The grader cleared the tripped sessions: a second run starts from a working lab.
    again = graded(running)
    assert again.passed, [c.message for c in again.checks if not c.passed]


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), ROUTE_MAP_STYLE)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_real_world_bogon_list_drops_the_lab_internet_and_fails(boot_lab):
    report = graded(boot_lab(LAB), REAL_WORLD_BOGONS)
    assert "legit-routes" in failed_ids(report)
    assert report.points == 0  # a gate: filters that break the Internet earn nothing
    message = messages(report)["legit-routes"]
    assert "transit has no route for 198.18.1.0/24 from AS64501" in message
    assert "transit has no route for 2001:db8:1::/48 from AS64501" in message
    assert "198.18.0.0/15 and 2001:db8::/32 are the Internet" in message


def test_filters_on_the_transit_session_only_fail(boot_lab):
    report = graded(boot_lab(LAB), TRANSIT_ONLY)
    failed = failed_ids(report)
    assert {"v4-bogons-dropped", "lengths-dropped", "private-asn-dropped"} <= failed
    assert {"v6-bogons-dropped", "long-path-dropped"}.isdisjoint(failed)  # sent by transit
    assert "look at edge's import policy on its sessions with peer" in (
        messages(report)["v4-bogons-dropped"].lower()
    )
    assert report.task("bogon-prefixes").points == 0


def test_limit_without_restart_fails_and_the_lab_recovers(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, NO_RESTART)
    assert failed_ids(report) == {"burst-trips-limit"}
    assert "no restart timer runs" in messages(report)["burst-trips-limit"]
    assert report.task("max-prefix").points == 0
    assert report.points == report.max_points - 2
    sessions = running.router("edge").sessions()
    assert all(s.established for s in sessions), sessions


def test_path_length_rule_with_underscores_drops_normal_paths(boot_lab):
    report = graded(boot_lab(LAB), UNDERSCORE_LENGTH)
    assert failed_ids(report) == {"normal-path-accepted"}
    assert "edge has no route for" in messages(report)["normal-path-accepted"]
    assert "filters are too strict" in messages(report)["normal-path-accepted"]
    assert report.task("as-paths").points == 0
