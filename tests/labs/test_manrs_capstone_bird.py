"""manrs-capstone-bird (BIRD learner) on real daemons: unsolved fails, the reference passes,
wrong ones fail, and a solution written another way passes."""

from __future__ import annotations

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
LAB = "manrs-capstone-bird"

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

SCRIPT = (REPO / "labs" / LAB / "solution" / "edge.sh").read_text()
BIRD_REFERENCE = SCRIPT.split("/etc/bird/bird.conf}\" <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
NFT_REFERENCE = "nft -f - <<'EOF'\n" + SCRIPT.split("nft -f - <<'EOF'\n", 1)[1]

# Correct, written another way: one named filter per session and family, sets with ranges,
# `where` expressions for exports; anti-spoofing with strict uRPF (rp_filter for IPv4, an
# nftables fib lookup for IPv6).
NAMED_FILTERS = """
router id 198.18.0.1;
protocol device {}
protocol kernel k4 { ipv4 { import none; export where source = RTS_BGP; }; }
protocol kernel k6 { ipv6 { import none; export where source = RTS_BGP; }; }
protocol static { ipv4; route 198.18.0.0/24 blackhole; }
protocol static { ipv6; route 2001:db8::/48 blackhole; }

filter cust1_in4 { if net = 198.18.1.0/24 then accept; reject; }
filter cust1_in6 { if net = 2001:db8:1::/48 then accept; reject; }
filter cust2_in4 { if net = 198.18.2.0/24 then accept; reject; }
filter cust2_in6 { if net = 2001:db8:2::/48 then accept; reject; }

filter outside_in4 {
  if net ~ [ 0.0.0.0/0, 0.0.0.0/8+, 10.0.0.0/8+, 100.64.0.0/10+, 127.0.0.0/8+,
             169.254.0.0/16+, 172.16.0.0/12+, 192.168.0.0/16+, 224.0.0.0/3+,
             198.18.0.0/23+, 198.18.2.0/24+, 0.0.0.0/0{25,32} ] then reject;
  if bgp_path.len >= 51 then reject;
  accept;
}
filter outside_in6 {
  if net ~ [ ::/0, ::/8+, fc00::/7+, fe80::/10+, ff00::/8+, 2001:db8::/47+, 2001:db8:2::/48+,
             ::/0{49,128} ] then reject;
  if bgp_path.len >= 51 then reject;
  accept;
}

template bgp nb { local as 64500; hold time 9; keepalive time 3; connect retry time 5;
                  connect delay time 1; }
protocol bgp c1v4 from nb { neighbor 10.0.1.2 as 64501;
  ipv4 { import filter cust1_in4; export all; }; }
protocol bgp c1v6 from nb { neighbor fd00:0:1::2 as 64501;
  ipv6 { import filter cust1_in6; export all; }; }
protocol bgp c2v4 from nb { neighbor 10.0.2.2 as 64502;
  ipv4 { import filter cust2_in4; export all; }; }
protocol bgp c2v6 from nb { neighbor fd00:0:2::2 as 64502;
  ipv6 { import filter cust2_in6; export all; }; }
protocol bgp t4 from nb { neighbor 10.0.10.2 as 64510;
  ipv4 { import filter outside_in4; export where net ~ [ 198.18.0.0/23{24,24}, 198.18.2.0/24 ]; }; }
protocol bgp t6 from nb { neighbor fd00:0:10::2 as 64510;
  ipv6 { import filter outside_in6;
         export where net ~ [ 2001:db8::/47{48,48}, 2001:db8:2::/48 ]; }; }
protocol bgp p4 from nb { neighbor 10.0.11.2 as 64511;
  ipv4 { import filter outside_in4; export where net ~ [ 198.18.0.0/23{24,24}, 198.18.2.0/24 ]; }; }
protocol bgp p6 from nb { neighbor fd00:0:11::2 as 64511;
  ipv6 { import filter outside_in6;
         export where net ~ [ 2001:db8::/47{48,48}, 2001:db8:2::/48 ]; }; }
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

# Plausible mistakes.
# 1. A textbook IPv6 bogon list: it has 2001:db8::/32, which is the whole IPv6 Internet here.
DOCUMENTATION_IS_BOGON = BIRD_REFERENCE.replace(
    "define BOGONS6 = [ ::/8+,", "define BOGONS6 = [ 2001:db8::/32+, ::/8+,"
)
# 2. Filters on the IPv4 sessions only.
IPV4_ONLY = (
    BIRD_REFERENCE.replace(
        "ipv6 { import filter { from_customer([ 2001:db8:1::/48 ]); }", "ipv6 { import all"
    )
    .replace("ipv6 { import filter { from_customer([ 2001:db8:2::/48 ]); }", "ipv6 { import all")
    .replace(
        "ipv6 { import filter { from_outside(); }; export filter { to_outside(); }; };",
        "ipv6 { import all; export all; };",
    )
)


def graded(
    running: RunningLab, bird: str | None = None, shell: str | None = None, converge: bool = True
) -> GradeReport:
    if bird is not None:
        running.router("edge").apply_config(bird)
    if shell is not None:
        operations.run_shell_solution(running, "edge", shell)
    if converge and (bird is not None or shell is not None):
        running.wait_converged(SilentProgress())
    elif bird is not None:  # the config drops routes `converged:` waits for: sessions only
        deadline = time.monotonic() + 20
        while not all(s.established for s in running.router("edge").sessions()):
            assert time.monotonic() < deadline, "edge's sessions did not come back"
            time.sleep(0.2)
    return grade(running, SilentProgress(), seed=3)


def test_unsolved_lab_fails_every_task(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == LEAKS | SPOOFING | BAD_ROUTES
    assert report.points == 0
    text = {c.id: c.message for c in report.checks}
    assert "learned from transit (AS64510)" in text["peer-receives-ours-only"]
    assert "cust2 received ::/0 (AS path 64500 64511)" in text["default-from-peer-dropped"]
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 10


def test_differently_written_correct_solution_passes(boot_lab):
    report = graded(boot_lab(LAB), NAMED_FILTERS, STRICT_URPF)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_plausible_wrong_solutions_fail(boot_lab):
    running = boot_lab(LAB)

    report = graded(running, DOCUMENTATION_IS_BOGON, NFT_REFERENCE, converge=False)
    assert {"provider-filters", "exports"} <= failed_tasks(report)
    message = next(c.message for c in report.checks if c.id == "provider-routes-reach-customers")
    assert "cust1 does not receive 2001:db8:3::/48, 2001:db8:10::/48, 2001:db8:11::/48" in message

    report = graded(running, IPV4_ONLY, NFT_REFERENCE)
    assert failed_tasks(report) == {"customer-filters", "provider-filters", "exports"}
    message = next(c.message for c in report.checks if c.id == "transit-receives-ours-only")
    assert "2001:db8:11::/48 (AS path 64500 64511): learned from peer (AS64511)" in message
    assert "198.18.11.0/24" not in message
