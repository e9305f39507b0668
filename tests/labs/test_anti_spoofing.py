"""anti-spoofing on real daemons and real packets: unsolved fails, the reference passes, wrong
fixes fail. Fixes are shell scripts run in edge's namespace (sysctl, nft), as a learner would.

The spoofed sources are drawn from everywhere a customer does not hold, and its legitimate ones
from all over the prefix it holds, so the wrong fixes here include filters tuned to what the
grader used to send (a deny-list of the ranges the old guide named), filters that cover part of
a customer's space or more than it, one list shared by both customers, and a filter on one
customer's port only."""

from __future__ import annotations

import re
from ipaddress import ip_address, ip_network

import pytest

from lab_reports import failed_ids, failed_tasks
from lab_support import REPO
from manrs_lab import operations
from manrs_lab.errors import LabError
from manrs_lab.grader.checks.traffic import (
    DeliveredParams,
    SpoofedParams,
    draw_legitimate,
    draw_spoofed,
    lab_safe,
)
from manrs_lab.grader.engine import check_seed, grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.spec.loader import load_lab
from manrs_lab.special_purpose import bogon_of

pytestmark = pytest.mark.daemons
LAB = "anti-spoofing"
SPOOF_CHECKS = {
    "cust1-bogus-dropped",
    "cust1-stolen-dropped",
    "cust2-bogus-dropped",
    "cust2-stolen-dropped",
}
CHECKS = {c.id: c for c in load_lab(REPO / "labs" / LAB / "lab.yaml").spec.checks}

# Every script starts from a clean kernel, so one booted lab takes several in turn.
CLEAN = "nft flush ruleset\nfor f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done\n"


def nft(rules: str) -> str:
    return CLEAN + (
        "nft -f - <<'EOF'\ntable inet t {\n  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        f"{rules}\n  }}\n}}\nEOF\n"
    )


# Correct, written differently: one nftables allow-list keyed by interface and prefix, for
# both customers, instead of strict uRPF for cust1.
NFT_ALLOW_LIST = """
nft -f - <<'EOF'
table inet antispoof {
  set customer_sources {
    type ifname . ipv4_addr; flags interval;
    elements = { "eth1" . 198.18.1.0/24, "eth2" . 198.18.2.0/24 }
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname { "eth1", "eth2" } iifname . ip saddr != @customer_sources drop
  }
}
EOF
"""
# Correct, written another way again: strict uRPF for cust1 as an nftables fib lookup, and for
# cust2 an accept of its prefix followed by a drop of everything else from its port.
FIB_THEN_ACCEPT = (
    CLEAN
    + """
nft -f - <<'EOF'
table ip bcp38 {
  chain screen {
    type filter hook forward priority -10; policy accept;
    iifname "eth1" fib saddr . iif oif missing drop
    iifname "eth2" ip saddr 198.18.2.0/24 accept
    iifname "eth2" drop
  }
}
EOF
"""
)

# Plausible mistake: what works for cust1 applied to cust2 as well. Strict uRPF drops cust2's
# legitimate packets (the route back to 198.18.2.0/25 goes through transit).
STRICT_EVERYWHERE = "sysctl -qw net.ipv4.conf.eth1.rp_filter=1 net.ipv4.conf.eth2.rp_filter=1\n"

# Plausible mistake: uRPF on the interface towards the Internet, not towards the customers.
UPLINK_URPF = "sysctl -qw net.ipv4.conf.eth3.rp_filter=1\n"

# Plausible mistake: loose uRPF keeps cust2 working, but any routed source passes.
LOOSE_URPF = "sysctl -qw net.ipv4.conf.eth1.rp_filter=2 net.ipv4.conf.eth2.rp_filter=2\n"

# Tuned to the test: a deny-list of exactly the ranges the old guide said spoofed sources come
# from (two bogon ranges, the other customer's, edge's and transit's prefixes).
OLD_PROBE_RANGES = nft(
    '    iifname "eth1" ip saddr { 100.64.0.0/10, 172.16.0.0/12, 198.18.2.0/24, '
    "198.18.0.0/24, 198.18.10.0/24 } drop\n"
    '    iifname "eth2" ip saddr { 100.64.0.0/10, 172.16.0.0/12, 198.18.1.0/24, '
    "198.18.0.0/24, 198.18.10.0/24 } drop"
)
# A thorough deny-list (every bogon range and all of the lab's space but the customer's): still
# a deny-list, and random addresses from anywhere else get through.
DENY_LIST = nft(
    '    iifname "eth1" ip saddr { 10.0.0.0/8, 100.64.0.0/10, 169.254.0.0/16, 172.16.0.0/12, '
    "192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24, 192.168.0.0/16, 198.51.100.0/24, "
    "203.0.113.0/24, 240.0.0.0/4, 198.18.0.0/24, 198.18.2.0-198.19.255.255 } drop\n"
    '    iifname "eth2" ip saddr { 10.0.0.0/8, 100.64.0.0/10, 169.254.0.0/16, 172.16.0.0/12, '
    "192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24, 192.168.0.0/16, 198.51.100.0/24, "
    "203.0.113.0/24, 240.0.0.0/4, 198.18.0.0-198.18.1.255, 198.18.3.0-198.19.255.255 } drop"
)
# Boundaries: allow-lists of half the customers' space (cust2's /25 is what it announces to
# transit), and of more than it (a /23 around each /24).
HALF_ALLOW_LIST = nft(
    '    iifname "eth1" ip saddr != 198.18.1.0/25 drop\n'
    '    iifname "eth2" ip saddr != 198.18.2.0/25 drop'
)
COVERING_ALLOW_LIST = nft(
    '    iifname "eth1" ip saddr != 198.18.0.0/23 drop\n'
    '    iifname "eth2" ip saddr != 198.18.2.0/23 drop'
)
# One allow-list of both customers' prefixes on both ports: each may spoof the other.
SHARED_ALLOW_LIST = nft(
    '    iifname { "eth1", "eth2" } ip saddr != { 198.18.1.0/24, 198.18.2.0/24 } drop'
)
# Reflection attacks are UDP: a filter of UDP alone (spoofed TCP and ICMP still get through).
UDP_ONLY = nft(
    '    iifname "eth1" ip saddr != 198.18.1.0/24 meta l4proto udp drop\n'
    '    iifname "eth2" ip saddr != 198.18.2.0/24 meta l4proto udp drop'
)
# Every rule right, on one customer's port only.
CUST1_ONLY = nft('    iifname "eth1" ip saddr != 198.18.1.0/24 drop')


def graded(running: RunningLab, script: str | None = None, seed: int = 7) -> GradeReport:
    if script is not None:
        operations.run_shell_solution(running, "edge", script)
    return grade(running, SilentProgress(), seed=seed)


def message(report: GradeReport, check_id: str) -> str:
    return next(c.message for c in report.checks if c.id == check_id)


def spoofed(check_id: str, seed: int = 7) -> list[str]:
    params = SpoofedParams.model_validate(CHECKS[check_id].params)
    return [s.address for s in draw_spoofed(check_seed(seed, check_id), params)]


def leaked_count(text: str) -> int:
    """Spoofed sources a failure message says arrived: those it names and the 'N more'."""
    named = len(re.findall(r"\d+ of \d+ from ", text))
    more = re.search(r"and (\d+) more", text)
    return named + (int(more.group(1)) if more else 0)


def test_spoofed_sources_cover_the_rule_and_replay_from_the_seed():
    stolen = SpoofedParams.model_validate(CHECKS["cust1-stolen-dropped"].params)
    bogus = SpoofedParams.model_validate(CHECKS["cust1-bogus-dropped"].params)
    first = draw_spoofed(check_seed(7, "cust1-stolen-dropped"), stolen)
    assert first == draw_spoofed(check_seed(7, "cust1-stolen-dropped"), stolen)
    assert first != draw_spoofed(check_seed(8, "cust1-stolen-dropped"), stolen)
    own = ip_network("198.18.1.0/24")
    ranges_hit: set[str] = set()
    for seed in range(200):
        sources = draw_spoofed(seed, stolen) + draw_spoofed(seed, bogus)
        addrs = [ip_address(s.address) for s in sources]
        assert len(set(addrs)) == len(addrs)
        for addr in addrs:
            assert addr not in own
            assert lab_safe(addr)
            assert addr.packed[-1] not in (0, 1, 2, 3, 10, 255)
        # The other networks, both sides of the customer's prefix, and random space each time.
        where = [s.where for s in sources]
        assert {"in 198.18.2.0/24", "in 198.18.0.0/24", "in 198.18.10.0/24"} <= set(where)
        assert "just below 198.18.1.0/24" in where
        assert "just above 198.18.1.0/24" in where
        assert sum(w.startswith("a random address") for w in where) == 4
        # UDP, TCP and ICMP, each from about a third of the sources.
        assert {s.proto for s in sources} == {"udp", "tcp", "icmp"}
        ranges_hit |= {b.prefix for a in addrs if (b := bogon_of(f"{a}/32")) is not None}
    # Every bogon range a packet can carry (the kernel drops loopback and 0/8 itself).
    assert ranges_hit >= {
        "10.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
    }


def test_legitimate_sources_cover_the_whole_registered_prefix():
    params = DeliveredParams.model_validate(CHECKS["cust2-legitimate-arrives"].params)
    for seed in range(50):
        addrs = [ip_address(s.address) for s in draw_legitimate(seed, params)]
        # One in each /27: both /25 halves, the lowest and the highest part.
        assert sorted(int(a) // 32 % 8 for a in addrs) == list(range(8))
        assert all(a in ip_network("198.18.2.0/24") and lab_safe(a) for a in addrs)


def test_unsolved_lab_forwards_spoofed_packets_and_says_where(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == SPOOF_CHECKS
    assert report.points == 0
    stolen1 = message(report, "cust1-stolen-dropped")
    seen = "h-transit received packets h-cust1 sent with spoofed sources: 3 of 3 from 198.18.2."
    assert seen in stolen1
    assert "entered at edge's eth1 (from cust1)" in stolen1
    assert "cust1 may only send from 198.18.1.0/24" in stolen1
    assert "entered at edge's eth2 (from cust2)" in message(report, "cust2-bogus-dropped")
    assert "inside 100.64.0.0/10; " in message(report, "cust2-bogus-dropped")
    # Every source drawn is one the lab forwards when nothing filters: none proves nothing.
    for check_id in SPOOF_CHECKS:
        assert leaked_count(message(report, check_id)) == len(spoofed(check_id)), check_id
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks_and_the_seed_replays(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 5
    evidence = {c.id: c.evidence for c in report.checks}
    assert "198.18.2." in evidence["cust1-stolen-dropped"]
    assert "9 sources (198.18.1.10, 198.18.1." in evidence["cust1-legitimate-arrives"]
    again = {c.id: c.evidence for c in graded(running).checks}
    assert again["cust1-stolen-dropped"] == evidence["cust1-stolen-dropped"]
    assert again["cust2-legitimate-arrives"] == evidence["cust2-legitimate-arrives"]


def test_differently_written_correct_solutions_pass(boot_lab):
    running = boot_lab(LAB)
    with pytest.raises(LabError, match="edge: the solution script failed"):
        operations.run_shell_solution(running, "edge", "nft add rule inet nosuch forward drop")
    report = graded(running, NFT_ALLOW_LIST)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    report = graded(running, FIB_THEN_ACCEPT, seed=11)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_strict_urpf_on_the_multihomed_customer_drops_its_legitimate_traffic(boot_lab):
    report = graded(boot_lab(LAB), STRICT_EVERYWHERE)
    assert failed_ids(report) == {"cust2-legitimate-arrives"}
    assert report.task("spoofing-cust1").passed
    assert report.task("spoofing-cust2").points == 0
    text = message(report, "cust2-legitimate-arrives")
    assert "h-transit received 0 of 3 from 198.18.2.10 (its own address; UDP)" in text
    assert "edge's route back to 198.18.2.10 leaves through eth3" in text
    # Its addresses in 198.18.2.0/25 (routed back through transit) are lost, the rest arrive.
    lost = {ip_address(a) for a in re.findall(r"0 of 3 from ([\d.]+)", text)}
    assert lost
    assert all(a in ip_network("198.18.2.0/25") for a in lost)


def test_urpf_on_the_uplink_or_loose_urpf_fails(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, UPLINK_URPF)
    assert failed_ids(report) == SPOOF_CHECKS
    assert report.points == 0
    report = graded(running, CLEAN + LOOSE_URPF)
    assert failed_ids(report) == {"cust1-stolen-dropped", "cust2-stolen-dropped"}
    assert report.points == 0
    assert "from 198.18.1." in message(report, "cust2-stolen-dropped")


def test_deny_lists_tuned_to_the_probes_fail(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, OLD_PROBE_RANGES)
    assert {"cust1-bogus-dropped", "cust2-bogus-dropped"} <= failed_ids(report)
    assert report.points == 0
    assert "inside 10.0.0.0/8; " in message(report, "cust1-bogus-dropped")
    # Complete for every bogon range and the lab's space, but still a deny-list.
    report = graded(running, DENY_LIST, seed=8)
    assert failed_ids(report) == {"cust1-stolen-dropped", "cust2-stolen-dropped"}
    assert report.points == 0
    assert "(a random address outside 198.18.1.0/24; " in message(report, "cust1-stolen-dropped")


def test_allow_lists_of_part_of_or_more_than_the_customers_space_fail(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, HALF_ALLOW_LIST)
    assert failed_ids(report) == {"cust1-legitimate-arrives", "cust2-legitimate-arrives"}
    assert report.points == 0
    lost = re.findall(r"0 of 3 from 198\.18\.1\.(\d+)", message(report, "cust1-legitimate-arrives"))
    assert lost
    assert all(int(octet) >= 128 for octet in lost)

    report = graded(running, COVERING_ALLOW_LIST, seed=9)
    assert failed_ids(report) == {"cust1-stolen-dropped", "cust2-stolen-dropped"}
    assert "(just above 198.18.2.0/24; " in message(report, "cust2-stolen-dropped")
    assert "(just below 198.18.1.0/24; " in message(report, "cust1-stolen-dropped")


def test_one_list_for_both_customers_or_one_customer_only_fails(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, SHARED_ALLOW_LIST)
    assert failed_ids(report) == {"cust1-stolen-dropped", "cust2-stolen-dropped"}
    assert "(in 198.18.2.0/24; " in message(report, "cust1-stolen-dropped")

    report = graded(running, CUST1_ONLY)
    assert failed_tasks(report) == {"spoofing-cust2"}
    assert report.points == 2


def test_a_filter_of_one_protocol_fails(boot_lab):
    report = graded(boot_lab(LAB), UDP_ONLY)
    assert failed_ids(report) == SPOOF_CHECKS
    text = message(report, "cust1-stolen-dropped")
    assert "; TCP)" in text
    assert "; ICMP)" in text
    assert "; UDP)" not in text
