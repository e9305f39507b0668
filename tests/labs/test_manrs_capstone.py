"""manrs-capstone (FRR learner) on real daemons: unsolved fails, the reference passes, wrong ones
fail, and a solution written another way passes."""

from __future__ import annotations

import re
import time

import pytest

from conftest import REPO
from lab_reports import failed_ids, failed_tasks
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "manrs-capstone"

SPOOFING = {
    f"{who}-spoofed{v6}-dropped"
    for who in ("cust1", "cust2", "transit", "peer")
    for v6 in ("", "-ipv6")
}
BAD_ROUTES = {
    "customer-hijack-dropped",
    "customer-bogon-dropped",
    "own-space-dropped",
    "customer-space-from-peer-dropped",
    "default-from-peer-dropped",
    "bogon-from-transit-dropped",
    "too-long-dropped",
    "long-path-dropped",
}
LEAKS = {"transit-receives-ours-only", "peer-receives-ours-only"}

# Correct, written another way: route-maps that deny what is bad (instead of prefix-lists that
# permit what is good), aggregated ranges, one route-map for both families; anti-spoofing with
# strict uRPF (rp_filter for IPv4, an nftables fib lookup for IPv6).
ROUTE_MAPS = """
ip prefix-list C1 permit 198.18.1.0/24
ipv6 prefix-list C1 permit 2001:db8:1::/48
ip prefix-list C2 permit 198.18.2.0/24
ipv6 prefix-list C2 permit 2001:db8:2::/48
route-map FROM-C1 permit 10
 match ip address prefix-list C1
exit
route-map FROM-C1 permit 20
 match ipv6 address prefix-list C1
exit
route-map FROM-C2 permit 10
 match ip address prefix-list C2
exit
route-map FROM-C2 permit 20
 match ipv6 address prefix-list C2
exit
ip prefix-list BAD seq 5 permit 0.0.0.0/0
ip prefix-list BAD seq 10 permit 0.0.0.0/8 le 32
ip prefix-list BAD seq 11 permit 10.0.0.0/8 le 32
ip prefix-list BAD seq 12 permit 100.64.0.0/10 le 32
ip prefix-list BAD seq 13 permit 127.0.0.0/8 le 32
ip prefix-list BAD seq 14 permit 169.254.0.0/16 le 32
ip prefix-list BAD seq 15 permit 172.16.0.0/12 le 32
ip prefix-list BAD seq 16 permit 192.168.0.0/16 le 32
ip prefix-list BAD seq 17 permit 224.0.0.0/3 le 32
ip prefix-list BAD seq 20 permit 198.18.0.0/23 le 32
ip prefix-list BAD seq 21 permit 198.18.2.0/24 le 32
ip prefix-list BAD seq 30 permit 0.0.0.0/0 ge 25
ipv6 prefix-list BAD seq 5 permit ::/0
ipv6 prefix-list BAD seq 10 permit ::/8 le 128
ipv6 prefix-list BAD seq 11 permit fc00::/7 le 128
ipv6 prefix-list BAD seq 12 permit fe80::/10 le 128
ipv6 prefix-list BAD seq 13 permit ff00::/8 le 128
ipv6 prefix-list BAD seq 20 permit 2001:db8::/47 le 128
ipv6 prefix-list BAD seq 21 permit 2001:db8:2::/48 le 128
ipv6 prefix-list BAD seq 30 permit ::/0 ge 49
bgp as-path access-list ABSURD permit ([0-9]+ ){50}[0-9]+
route-map FROM-OUTSIDE deny 10
 match ip address prefix-list BAD
exit
route-map FROM-OUTSIDE deny 20
 match ipv6 address prefix-list BAD
exit
route-map FROM-OUTSIDE deny 30
 match as-path ABSURD
exit
route-map FROM-OUTSIDE permit 100
exit
ip prefix-list MINE permit 198.18.0.0/23 ge 24 le 24
ip prefix-list MINE permit 198.18.2.0/24
ipv6 prefix-list MINE permit 2001:db8::/47 ge 48 le 48
ipv6 prefix-list MINE permit 2001:db8:2::/48
route-map TO-OUTSIDE permit 10
 match ip address prefix-list MINE
exit
route-map TO-OUTSIDE permit 20
 match ipv6 address prefix-list MINE
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 route-map FROM-C1 in
  neighbor 10.0.2.2 route-map FROM-C2 in
  neighbor 10.0.10.2 route-map FROM-OUTSIDE in
  neighbor 10.0.10.2 route-map TO-OUTSIDE out
  neighbor 10.0.11.2 route-map FROM-OUTSIDE in
  neighbor 10.0.11.2 route-map TO-OUTSIDE out
 exit-address-family
 address-family ipv6 unicast
  neighbor fd00:0:1::2 route-map FROM-C1 in
  neighbor fd00:0:2::2 route-map FROM-C2 in
  neighbor fd00:0:10::2 route-map FROM-OUTSIDE in
  neighbor fd00:0:10::2 route-map TO-OUTSIDE out
  neighbor fd00:0:11::2 route-map FROM-OUTSIDE in
  neighbor fd00:0:11::2 route-map TO-OUTSIDE out
 exit-address-family
exit
"""
STRICT_URPF = """
sysctl -qw net.ipv4.conf.all.rp_filter=1
nft -f - <<'EOF'
table inet urpf6 {
  chain forward {
    type filter hook forward priority filter; policy accept;
    meta nfproto ipv6 fib saddr . iif oif missing drop
  }
}
EOF
"""


def _reference_parts() -> tuple[str, str]:
    """The reference script's FRR commands and its nftables part."""
    script = (REPO / "labs" / LAB / "solution" / "edge.sh").read_text()
    frr = script.split("-f /dev/stdin <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    nft = "nft -f - <<'EOF'\n" + script.split("nft -f - <<'EOF'\n", 1)[1]
    return frr, nft


FRR_REFERENCE, NFT_REFERENCE = _reference_parts()
# Plausible mistakes.
# 1. Everything done for IPv4 only: the IPv6 sessions and packets stay wide open.
IPV4_ONLY_FRR = re.sub(
    r" address-family ipv6 unicast\n.*? exit-address-family\n",
    "",
    "\n".join(line for line in FRR_REFERENCE.splitlines() if not line.startswith("ipv6 ")) + "\n",
    flags=re.S,
)
IPV4_ONLY_NFT = "\n".join(line for line in NFT_REFERENCE.splitlines() if "ip6" not in line)
# 2. The export filter put on every session: customers lose the rest of the Internet.
ONLY_OURS_TO_CUSTOMERS = (
    FRR_REFERENCE.rstrip()
    + """
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list OURS-V4 out
  neighbor 10.0.2.2 prefix-list OURS-V4 out
 exit-address-family
 address-family ipv6 unicast
  neighbor fd00:0:1::2 prefix-list OURS-V6 out
  neighbor fd00:0:2::2 prefix-list OURS-V6 out
 exit-address-family
exit
"""
)


def graded(
    running: RunningLab, frr: str | None = None, shell: str | None = None, converge: bool = True
) -> GradeReport:
    if frr is not None:
        running.router("edge").apply_config(frr)
    if shell is not None:
        operations.run_shell_solution(running, "edge", shell)
    if converge and (frr is not None or shell is not None):
        running.wait_converged(SilentProgress())
    return grade(running, SilentProgress(), seed=5)


def test_unsolved_lab_fails_every_task_naming_what_got_through(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == LEAKS | SPOOFING | BAD_ROUTES
    assert report.points == 0
    text = {c.id: c.message for c in report.checks}
    assert (
        "198.18.11.0/24 (AS path 64500 64511): learned from peer (AS64511)"
        in (text["transit-receives-ours-only"])
    )
    assert (
        "2001:db8:10::/48 (AS path 64500 64510): learned from transit (AS64510)"
        in (text["peer-receives-ours-only"])
    )
    assert "cust1 received 0.0.0.0/0 (AS path 64500 64511)" in text["default-from-peer-dropped"]
    assert "cust1 received ::/0 (AS path 64500 64511)" in text["default-from-peer-dropped"]
    assert "(62 ASes)" in text["long-path-dropped"]
    assert "is in your own address space" in text["own-space-dropped"]
    assert "is shared CGN space (RFC 6598)" in text["bogon-from-transit-dropped"]
    assert (
        "received IPv6 packets h-cust1 sent with spoofed sources"
        in (text["cust1-spoofed-ipv6-dropped"])
    )
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 10


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), ROUTE_MAPS, STRICT_URPF)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_ipv4_only_solution_fails_every_task(boot_lab):
    report = graded(boot_lab(LAB), IPV4_ONLY_FRR, IPV4_ONLY_NFT)
    assert report.points == 0
    failed = failed_ids(report)
    assert {"cust1-spoofed-ipv6-dropped", "peer-spoofed-ipv6-dropped"} <= failed
    assert not {"cust1-spoofed-dropped", "peer-spoofed-dropped"} & failed  # IPv4 is fine
    message = next(c.message for c in report.checks if c.id == "customer-hijack-dropped")
    assert "2001:db8:1:" in message
    assert "198.18.1." not in message


def test_export_filter_on_customers_too_fails_the_export_task(boot_lab):
    running = boot_lab(LAB)
    # This config withdraws routes `converged:` waits for: grade once cust1 has lost them.
    running.router("edge").apply_config(ONLY_OURS_TO_CUSTOMERS)
    deadline = time.monotonic() + 10
    while running.router("cust1").routes("198.18.10.0/24"):
        assert time.monotonic() < deadline, "cust1 kept transit's 198.18.10.0/24"
        time.sleep(0.05)
    report = graded(running, shell=NFT_REFERENCE, converge=False)
    # The customers lose the rest of the Internet: their traffic to it, too.
    assert {"exports", "provider-filters"} <= failed_tasks(report)
    assert "customer-filters" not in failed_tasks(report)
    assert "cust1-traffic-flows" in failed_ids(report)
    message = next(c.message for c in report.checks if c.id == "cust1-gets-full-table")
    assert "cust1 does not receive 198.18.3.0/24, 198.18.10.0/24, 198.18.11.0/24" in message
