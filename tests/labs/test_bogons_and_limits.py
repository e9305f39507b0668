"""bogons-and-limits on real daemons: unsolved fails, the reference passes, wrong ones fail."""

from __future__ import annotations

import time
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


def before_binding(lines: str, config: str = SOLUTION) -> str:
    """`lines` inserted before the session statements: FRR re-filters a session's routes when
    a filter is bound to it, not when an already bound list gets a new line."""
    lists, sep, sessions = config.partition("router bgp 64500")
    return lists + lines + sep + sessions


NEIGHBOURS = ("cust1", "transit", "peer")
ASN_RULES = ("private16", "private32", "reserved16", "reserved32")
RULES = ("bogons", "lengths", "long-path", *(f"{a}-asn" for a in ASN_RULES))
DROP_CHECKS = {f"{n}-{rule}-dropped" for n in NEIGHBOURS for rule in RULES}
TASK_CHECKS = DROP_CHECKS | {"burst-trips-limit"}


def each(rule: str) -> set[str]:
    """The check of `rule` on every neighbour's sessions."""
    return {f"{n}-{rule}" for n in NEIGHBOURS}


V4_PEERS = ("10.0.1.2", "10.0.10.2", "10.0.11.2")
V6_PEERS = ("fd00:0:1::2", "fd00:0:10::2", "fd00:0:11::2")

# Correct, written differently: lists of what is bad (permit = match), deny clauses in one
# route-map per family, an anchored path-length rule, a 1-minute restart; Teredo, benchmarking
# and ORCHID as one /27, class D and E as one /3.
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
                "192.0.0.0/24 le 32",
                "192.0.2.0/24 le 32",
                "192.88.99.0/24 le 32",
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
                "64:ff9b:1::/48 le 128",
                "100::/64 le 128",
                "2001::/27 le 128",
                "2001:20::/28 le 128",
                "2002::/16 le 128",
                "3ffe::/16 le 128",
                "5f00::/16 le 128",
                "fc00::/7 le 128",
                "fec0::/10 le 128",
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
bgp as-path access-list ABSURD seq 31 permit _(6555[2-9]|655[6-9][0-9]|65[6-9][0-9][0-9])_
bgp as-path access-list ABSURD seq 32 permit _(6[6-9][0-9]{3}|[7-9][0-9]{4}|1[0-2][0-9]{4})_
bgp as-path access-list ABSURD seq 33 permit _(130[0-9]{3}|1310[0-6][0-9]|13107[01])_
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
    + "  neighbor 10.0.1.2 maximum-prefix 10 restart 1\n"
    + " exit-address-family\n address-family ipv6 unicast\n"
    + "".join(f"  neighbor {p} route-map IMPORT-V6 in\n" for p in V6_PEERS)
    + "  neighbor fd00:0:1::2 maximum-prefix 10 restart 1\n"
    + " exit-address-family\nexit\n"
)

# Plausible mistake: a bogon list copied from the real Internet drops the lab's Internet.
REAL_WORLD_BOGONS = before_binding(
    """
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

# Deny exactly what the guide used to name: the bogon ranges its text listed (no 192.0.0.0/24,
# 192.88.99.0/24, 64:ff9b:1::/48, Teredo, ORCHIDv2, SRv6 SIDs).
NAMED_BOGONS_ONLY = "".join(
    line + "\n"
    for line in SOLUTION.splitlines()
    if not any(
        f" deny {r} " in line
        for r in (
            "192.0.0.0/24",
            "192.88.99.0/24",
            "64:ff9b:1::/48",
            "2001::/32",
            "2001:20::/28",
            "5f00::/16",
        )
    )
)

# Deny exactly the two private ASNs the old probes used (and the path-length rule).
TWO_PRIVATE_ASNS = before_binding(
    "bgp as-path access-list SANE-PATHS seq 11 deny _65113_\n"
    "bgp as-path access-list SANE-PATHS seq 12 deny _4200000123_\n",
    "".join(
        line + "\n"
        for line in SOLUTION.splitlines()
        if not line.startswith(
            tuple(f"bgp as-path access-list SANE-PATHS seq {n} " for n in (10, 20, 30))
        )
    ),
)

# Boundaries: a path limit at 60 (the old probe had 61 hops) and one at 49.
PATH_LIMIT_60 = SOLUTION.replace("deny ([0-9]+ ){50}[0-9]+", "deny ([0-9]+ ){60}[0-9]+")
PATH_LIMIT_49 = SOLUTION.replace("deny ([0-9]+ ){50}[0-9]+", "deny ([0-9]+ ){49}[0-9]+")

# Boundaries: /25 and /49 let through; /24 and /48 dropped; /8 dropped.
LENGTHS_ONE_TOO_LONG = (
    SOLUTION.replace("deny 0.0.0.0/0 ge 25", "deny 0.0.0.0/0 ge 26")
    .replace("deny ::/0 ge 49", "deny ::/0 ge 50")
    .replace("permit 0.0.0.0/0 le 24", "permit 0.0.0.0/0 le 32")
    .replace("permit ::/0 le 48", "permit ::/0 le 128")
)
LENGTHS_ONE_TOO_SHORT = SOLUTION.replace("deny 0.0.0.0/0 le 7", "deny 0.0.0.0/0 le 8").replace(
    "deny ::/0 le 15", "deny ::/0 le 16"
)

# Boundaries of the limit: one that trips at 10 per family, one that lets 12 in.
LIMIT_TOO_LOW = SOLUTION.replace("maximum-prefix 10 restart 5", "maximum-prefix 8 restart 5")
LIMIT_TOO_HIGH = SOLUTION.replace("maximum-prefix 10 restart 5", "maximum-prefix 11 restart 5")

# The reserved rule without the IANA-reserved 32-bit block (AS_TRANS only).
RESERVED_WITHOUT_IANA_BLOCK = SOLUTION.replace(
    next(line for line in SOLUTION.splitlines() if " SANE-PATHS seq 30 " in line),
    "bgp as-path access-list SANE-PATHS seq 30 deny _23456_",
)

# Over-broad: 172.0.0.0/8 for 172.16.0.0/12 drops real networks next to it.
OVERBROAD_172 = SOLUTION.replace("deny 172.16.0.0/12 le 32", "deny 172.0.0.0/8 le 32")

# Private 16-bit ASNs only: the 32-bit range forgotten (the reserved 4294967295 kept).
PRIVATE_16_BIT_ONLY = SOLUTION.replace("seq 20 deny _42[0-9]{8}_\n", "seq 20 deny _4294967295_\n")


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
    assert (
        "from peer is a bogon: private (RFC 1918), inside 10.0.0.0/8" in said["peer-bogons-dropped"]
    )
    assert "0.0.0.0/0 from peer is a default route" in said["peer-bogons-dropped"]
    assert "edge accepted it with AS path 64511" in said["peer-bogons-dropped"]
    assert "::/0 from transit is a default route" in said["transit-bogons-dropped"]
    assert "unique local (RFC 4193)" in said["transit-bogons-dropped"]
    assert "TEREDO (RFC 4380)" in said["cust1-bogons-dropped"]
    assert "is too long: /25 is longer than /24" in said["cust1-lengths-dropped"]
    assert "is too long: /49 is longer than /48" in said["cust1-lengths-dropped"]
    assert "is too short: /7 is shorter than /8" in said["cust1-lengths-dropped"]
    assert "is too short: /15 is shorter than /16" in said["cust1-lengths-dropped"]
    assert "an AS path of 51 hops (more than 50)" in said["transit-long-path-dropped"]
    assert "private AS [42" in said["cust1-private32-asn-dropped"]
    assert "private AS [6" in said["peer-private16-asn-dropped"]
    assert "reserved AS [4294967295] in the path" in said["transit-reserved32-asn-dropped"]
    assert "reserved AS [23456] in the path" in said["cust1-reserved16-asn-dropped"]
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
    assert (
        "IPv4 session with cust1 (10.0.1.2): 10 prefixes, Established"
        in (evidence["limit-not-reached"])
    )
    # The grader cleared the tripped sessions: a second run starts from a working lab.
    again = graded(running)
    assert again.passed, [c.message for c in again.checks if not c.passed]


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), ROUTE_MAP_STYLE)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_real_world_bogon_list_drops_the_lab_internet_and_fails(boot_lab):
    running = boot_lab(LAB)
    running.router("edge").apply_config(REAL_WORLD_BOGONS)
    # Converged waits for what must be there; the withdrawals this config causes reach transit
    # a moment later.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        running.router("transit").routes(p) for p in ("198.18.1.0/24", "2001:db8:1::/48")
    ):
        time.sleep(0.1)
    report = graded(running)
    assert "legit-routes" in failed_ids(report)
    assert report.points == 0  # a gate: filters that break the Internet earn nothing
    message = messages(report)["legit-routes"]
    assert "transit has no route for 198.18.1.0/24 from AS64501" in message
    assert "transit has no route for 2001:db8:1::/48 from AS64501" in message
    assert "198.18.0.0/15 and 2001:db8::/32 are the Internet" in message


def test_filters_on_the_transit_session_only_fail(boot_lab):
    report = graded(boot_lab(LAB), TRANSIT_ONLY)
    failed = failed_ids(report)
    assert {c for c in DROP_CHECKS if not c.startswith("transit-")} <= failed
    assert not {c for c in DROP_CHECKS if c.startswith("transit-")} & failed
    assert "look at edge's import policy on its sessions with peer" in (
        messages(report)["peer-bogons-dropped"].lower()
    )
    assert report.points == 0


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
    assert each("path-at-limit-accepted") <= failed_ids(report)
    message = messages(report)["peer-path-at-limit-accepted"]
    assert "edge has no route for" in message
    assert "(AS path 64511 " in message
    assert "50 hops). Nothing is wrong with these routes" in message
    assert report.task("as-paths").points == 0


@pytest.mark.parametrize(
    ("config", "failing", "task"),
    [
        (NAMED_BOGONS_ONLY, each("bogons-dropped"), "bogon-prefixes"),
        (
            OVERBROAD_172,
            {"transit-next-to-bogons-accepted", "peer-next-to-bogons-accepted"},
            "bogon-prefixes",
        ),
        (LENGTHS_ONE_TOO_LONG, each("lengths-dropped"), "prefix-lengths"),
        (LENGTHS_ONE_TOO_SHORT, each("lengths-accepted"), "prefix-lengths"),
        (PATH_LIMIT_60, each("long-path-dropped"), "as-paths"),
        (PATH_LIMIT_49, each("path-at-limit-accepted"), "as-paths"),
        (
            TWO_PRIVATE_ASNS,
            {f"{n}-{r}-asn-dropped" for n in NEIGHBOURS for r in ASN_RULES},
            "as-paths",
        ),
        (PRIVATE_16_BIT_ONLY, each("private32-asn-dropped"), "as-paths"),
        (
            RESERVED_WITHOUT_IANA_BLOCK,
            {"cust1-reserved32-asn-dropped", "peer-reserved32-asn-dropped"},
            "as-paths",
        ),
        (LIMIT_TOO_LOW, {"limit-not-reached"}, "max-prefix"),
        (LIMIT_TOO_HIGH, {"burst-trips-limit"}, "max-prefix"),
    ],
    ids=[
        "named-bogons-only",
        "overbroad-172",
        "lengths-25-49-pass",
        "lengths-24-8-dropped",
        "path-limit-60",
        "path-limit-49",
        "two-private-asns",
        "private-16-bit-only",
        "reserved-without-65552-131071",
        "limit-8",
        "limit-11",
    ],
)
def test_a_rule_off_by_a_little_loses_its_task(boot_lab, config, failing, task):
    report = graded(boot_lab(LAB), config)
    assert failing <= failed_ids(report)
    assert report.task(task).points == 0
    if config is not OVERBROAD_172:  # a drawn public prefix may fall in 172/8 too
        assert failed_ids(report) == failing
        assert report.points == report.max_points - report.task(task).max_points
