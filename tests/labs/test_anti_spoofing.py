"""anti-spoofing on real daemons and real packets: unsolved fails, the reference passes, wrong
fixes fail. Fixes are shell scripts run in edge's namespace (sysctl, nft), as a learner would."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from lab_reports import failed_ids
from manrs_lab import operations
from manrs_lab.errors import LabError
from manrs_lab.grader.checks.traffic import draw_sources
from manrs_lab.grader.engine import check_seed, grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "anti-spoofing"
SPOOF_CHECKS = {
    "cust1-bogus-dropped",
    "cust1-stolen-dropped",
    "cust2-bogus-dropped",
    "cust2-stolen-dropped",
}

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

# Plausible mistake: what works for cust1 applied to cust2 as well. Strict uRPF drops cust2's
# legitimate packets (the route back to 198.18.2.0/25 goes through transit).
STRICT_EVERYWHERE = "sysctl -qw net.ipv4.conf.eth1.rp_filter=1 net.ipv4.conf.eth2.rp_filter=1\n"

# Plausible mistake: uRPF on the interface towards the Internet, not towards the customers.
UPLINK_URPF = "sysctl -qw net.ipv4.conf.eth3.rp_filter=1\n"

# Plausible mistake: loose uRPF keeps cust2 working, but any routed source passes.
LOOSE_URPF = "sysctl -qw net.ipv4.conf.eth1.rp_filter=2 net.ipv4.conf.eth2.rp_filter=2\n"


def graded(running: RunningLab, script: str | None = None, seed: int = 7) -> GradeReport:
    if script is not None:
        operations.run_shell_solution(running, "edge", script)
    return grade(running, SilentProgress(), seed=seed)


def message(report: GradeReport, check_id: str) -> str:
    return next(c.message for c in report.checks if c.id == check_id)


def test_spoofed_sources_are_drawn_from_the_seed_outside_the_lab_addresses():
    nets = [ip_network("198.18.2.0/24"), ip_network("100.64.0.0/10")]
    first = draw_sources(check_seed(7, "cust1-stolen-dropped"), nets, [])
    assert first == draw_sources(check_seed(7, "cust1-stolen-dropped"), nets, [])
    assert first != draw_sources(check_seed(8, "cust1-stolen-dropped"), nets, [])
    assert first != draw_sources(check_seed(7, "cust2-stolen-dropped"), nets, [])
    for seed in range(200):
        for addr in draw_sources(seed, nets, [ip_network("198.18.2.0/25")]):
            assert ip_address(addr).packed[-1] not in (0, 1, 10, 255)
            assert ip_address(addr) not in ip_network("198.18.2.0/25")


def test_unsolved_lab_forwards_spoofed_packets_and_says_where(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == SPOOF_CHECKS
    assert report.points == 0
    stolen1 = message(report, "cust1-stolen-dropped")
    seen = "h-transit received packets h-cust1 sent with spoofed sources: 5 of 5 from 198.18.2."
    assert seen in stolen1
    assert "entered at edge's eth1 (from cust1)" in stolen1
    assert "entered at edge's eth2 (from cust2)" in message(report, "cust2-bogus-dropped")
    assert "(in 100.64.0.0/10)" in message(report, "cust2-bogus-dropped")
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks_and_the_seed_replays(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 5
    evidence = {c.id: c.evidence for c in report.checks}
    assert "none of 5 packets each from 198.18.2." in evidence["cust1-stolen-dropped"]
    again = {c.id: c.evidence for c in graded(running).checks}
    assert again["cust1-stolen-dropped"] == evidence["cust1-stolen-dropped"]


def test_differently_written_correct_solution_passes(boot_lab):
    running = boot_lab(LAB)
    with pytest.raises(LabError, match="edge: the solution script failed"):
        operations.run_shell_solution(running, "edge", "nft add rule inet nosuch forward drop")
    report = graded(running, NFT_ALLOW_LIST)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_strict_urpf_on_the_multihomed_customer_drops_its_legitimate_traffic(boot_lab):
    report = graded(boot_lab(LAB), STRICT_EVERYWHERE)
    assert failed_ids(report) == {"cust2-legitimate-arrives"}
    assert report.task("spoofing-cust1").passed
    assert report.task("spoofing-cust2").points == 0
    text = message(report, "cust2-legitimate-arrives")
    assert "h-transit received 0 of 5 packets h-cust2 sent from its own address 198.18.2.10" in text
    assert "edge's route back to 198.18.2.10 leaves through eth3" in text


def test_urpf_on_the_uplink_instead_of_the_customers_fails(boot_lab):
    report = graded(boot_lab(LAB), UPLINK_URPF)
    assert failed_ids(report) == SPOOF_CHECKS
    assert report.points == 0


def test_loose_urpf_lets_other_networks_addresses_through(boot_lab):
    report = graded(boot_lab(LAB), LOOSE_URPF)
    assert failed_ids(report) == {"cust1-stolen-dropped", "cust2-stolen-dropped"}
    assert report.points == 0
    assert "from 198.18.1." in message(report, "cust2-stolen-dropped")
