"""manrs-capstone-bird (BIRD learner) on real daemons: unsolved fails, the reference passes,
wrong ones fail the right task, and solutions written other ways pass.

Wrong ones include the classes issue 12 found scoring full marks: `198.18.1.0/24+` on a
customer (more-specifics of its own /24 accepted), bogon sets of the well-known ranges only,
limits one past the numbers the task states, and one prefix set shared by both customers."""

from __future__ import annotations

import re
import time

import pytest

from lab_reports import failed_ids, failed_tasks
from lab_support import REPO
from manrs_lab import operations
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

pytestmark = pytest.mark.daemons
LAB = "manrs-capstone-bird"
SEED = 3

SPOOFING = {
    f"{who}-spoofed{v6}-dropped"
    for who in ("cust1", "cust2", "transit", "peer")
    for v6 in ("", "-ipv6")
}
CUSTOMER_PROBES = {
    f"{c}-{rule}"
    for c in ("cust1", "cust2")
    for rule in ("others-space-dropped", "exactly-its-prefixes")
}
PROVIDER_PROBES = {
    f"{n}-{rule}-dropped"
    for n in ("transit", "peer")
    for rule in ("bogons", "default", "own-space", "too-long", "long-path")
}
LEAKS = {"transit-receives-ours-only", "peer-receives-ours-only"}

SCRIPT = (REPO / "labs" / LAB / "solution" / "edge.sh").read_text()
BIRD_REFERENCE = SCRIPT.split("/etc/bird/bird.conf}\" <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
NFT_REFERENCE = "nft -f - <<'EOF'\n" + SCRIPT.split("nft -f - <<'EOF'\n", 1)[1]
CLEAN = "nft flush ruleset\nfor f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done\n"

# Every special-purpose range (manrs_lab.special_purpose), as BIRD prefix-set items.
BOGON_SET4 = (
    "0.0.0.0/8+, 10.0.0.0/8+, 100.64.0.0/10+, 127.0.0.0/8+, 169.254.0.0/16+, 172.16.0.0/12+, "
    "192.0.0.0/24+, 192.0.2.0/24+, 192.88.99.0/24+, 192.168.0.0/16+, 198.51.100.0/24+, "
    "203.0.113.0/24+, 224.0.0.0/3+"
)
BOGON_SET6 = (
    "::/8+, 64:ff9b:1::/48+, 100::/64+, 2001::/32+, 2001:2::/48+, 2001:10::/28+, "
    "2001:20::/28+, 2002::/16+, 3ffe::/16+, 5f00::/16+, fc00::/7+, fe80::/10+, fec0::/10+, "
    "ff00::/8+"
)

# Correct, written another way: one named filter per session and family, sets with ranges,
# `where` expressions for exports; anti-spoofing with strict uRPF (rp_filter for IPv4, an
# nftables fib lookup for IPv6).
NAMED_FILTERS = (
    """
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
  if net ~ [ 0.0.0.0/0, """
    + BOGON_SET4
    + """,
             198.18.0.0/23+, 198.18.2.0/24+, 0.0.0.0/0{25,32} ] then reject;
  if bgp_path.len >= 51 then reject;
  accept;
}
filter outside_in6 {
  if net ~ [ ::/0, """
    + BOGON_SET6
    + """,
             2001:db8::/47+, 2001:db8:2::/48+, ::/0{49,128} ] then reject;
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
)
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

# Correct, written a third way: one function that says what is acceptable (a positive prefix
# set of lengths, minus the bad space), the path rule as `> 50` inside it, exports by origin
# (our static routes, or a route a customer originated); anti-spoofing as allow-lists keyed by
# interface and address, and one deny set per family at the borders.
ACCEPT_STYLE = (
    """
router id 198.18.0.1;
protocol device {}
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol kernel { ipv6 { import none; export where source = RTS_BGP; }; }
protocol static { ipv4; route 198.18.0.0/24 blackhole; }
protocol static { ipv6; route 2001:db8::/48 blackhole; }

function acceptable()
{
  if bgp_path.len > 50 then return false;
  if net.type = NET_IP4 then
    return net ~ [ 0.0.0.0/0{1,24} ] && !(net ~ [ """
    + BOGON_SET4
    + """, 198.18.0.0/24+, 198.18.1.0/24+, 198.18.2.0/24+ ]);
  return net ~ [ ::/0{1,48} ] && !(net ~ [ """
    + BOGON_SET6
    + """, 2001:db8::/48+, 2001:db8:1::/48+, 2001:db8:2::/48+ ]);
}
function ours() { return source = RTS_STATIC || bgp_path ~ [= 64501 =] || bgp_path ~ [= 64502 =]; }

template bgp nb { local as 64500; hold time 9; keepalive time 3; connect retry time 5;
                  connect delay time 1; }
protocol bgp from nb { neighbor 10.0.1.2 as 64501;
  ipv4 { import where net = 198.18.1.0/24; export all; }; }
protocol bgp from nb { neighbor fd00:0:1::2 as 64501;
  ipv6 { import where net = 2001:db8:1::/48; export all; }; }
protocol bgp from nb { neighbor 10.0.2.2 as 64502;
  ipv4 { import where net = 198.18.2.0/24; export all; }; }
protocol bgp from nb { neighbor fd00:0:2::2 as 64502;
  ipv6 { import where net = 2001:db8:2::/48; export all; }; }
protocol bgp from nb { neighbor 10.0.10.2 as 64510;
  ipv4 { import where acceptable(); export where ours(); }; }
protocol bgp from nb { neighbor fd00:0:10::2 as 64510;
  ipv6 { import where acceptable(); export where ours(); }; }
protocol bgp from nb { neighbor 10.0.11.2 as 64511;
  ipv4 { import where acceptable(); export where ours(); }; }
protocol bgp from nb { neighbor fd00:0:11::2 as 64511;
  ipv6 { import where acceptable(); export where ours(); }; }
"""
)
KEYED_ALLOW_LISTS = (
    CLEAN
    + """nft -f - <<'EOF'
table inet bcp38 {
  set allowed4 { type ifname . ipv4_addr; flags interval;
    elements = { "eth1" . 198.18.1.0/24, "eth2" . 198.18.2.0/24 } }
  set allowed6 { type ifname . ipv6_addr; flags interval;
    elements = { "eth1" . 2001:db8:1::/48, "eth2" . 2001:db8:2::/48 } }
  set denied4 { type ipv4_addr; flags interval; auto-merge;
    elements = { 198.18.0.0/23, 198.18.2.0/24, """
    + BOGON_SET4.replace("+", "")
    + """ } }
  set denied6 { type ipv6_addr; flags interval; auto-merge;
    elements = { 2001:db8::/47, 2001:db8:2::/48, """
    + BOGON_SET6.replace("+", "")
    + """ } }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname { "eth1", "eth2" } iifname . ip saddr != @allowed4 drop
    iifname { "eth1", "eth2" } iifname . ip6 saddr != @allowed6 drop
    iifname { "eth3", "eth4" } ip saddr @denied4 drop
    iifname { "eth3", "eth4" } ip6 saddr @denied6 drop
  }
}
EOF
"""
)

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
# 3. `+` on a customer's prefix: more-specifics of its /24 and /48 get in (the boundary).
PLUS_ON_CUSTOMER = BIRD_REFERENCE.replace(
    "from_customer([ 198.18.1.0/24 ])", "from_customer([ 198.18.1.0/24+ ])"
).replace("from_customer([ 2001:db8:1::/48 ])", "from_customer([ 2001:db8:1::/48+ ])")
# 4. Tuned to the old guide: the bogon sets it named (RFC 6890's best-known IPv4 ranges, and
# "at least ::/8, fc00::/7, fe80::/10, ff00::/8"), in BIRD and in nftables.
NAMED_BOGONS = re.sub(
    r"define BOGONS6 = \[[^\]]*\];",
    "define BOGONS6 = [ ::/8+, fc00::/7+, fe80::/10+, ff00::/8+ ];",
    BIRD_REFERENCE.replace(" 192.88.99.0/24+,", ""),
)
NAMED_BOGONS_NFT = re.sub(
    r"set bogons6 \{.*?\} \}",
    "set bogons6 { type ipv6_addr; flags interval; "
    "elements = { ::/8, fc00::/7, fe80::/10, ff00::/8 } }",
    NFT_REFERENCE.replace(" 192.88.99.0/24,", ""),
    flags=re.S,
)
# 5. The limits one past the numbers the task states.
ONE_PAST = BIRD_REFERENCE.replace("bgp_path.len > 50", "bgp_path.len > 51").replace(
    "net.len > 24", "net.len > 25"
)
# 6. One prefix set for both customers.
BOTH4 = "from_customer([ 198.18.1.0/24, 198.18.2.0/24 ])"
BOTH6 = "from_customer([ 2001:db8:1::/48, 2001:db8:2::/48 ])"
SHARED_SET = (
    BIRD_REFERENCE.replace("from_customer([ 198.18.1.0/24 ])", BOTH4)
    .replace("from_customer([ 198.18.2.0/24 ])", BOTH4)
    .replace("from_customer([ 2001:db8:1::/48 ])", BOTH6)
    .replace("from_customer([ 2001:db8:2::/48 ])", BOTH6)
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
    return grade(running, SilentProgress(), seed=SEED)


def message(report: GradeReport, check_id: str) -> str:
    return next(c.message for c in report.checks if c.id == check_id)


def test_unsolved_lab_fails_every_task(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == LEAKS | SPOOFING | CUSTOMER_PROBES | PROVIDER_PROBES
    assert report.points == 0
    text = {c.id: c.message for c in report.checks}
    assert "learned from transit (AS64510)" in text["peer-receives-ours-only"]
    assert (
        "edge accepted 0.0.0.0/0 (AS path 64511), ::/0 (AS path 64511)"
        in text["peer-default-dropped"]
    )
    assert "edge accepted 198.18.1.0/24 (AS path 64502)" in text["cust2-others-space-dropped"]
    assert not {c for c in failed_ids(report) if c.endswith("-accepted")}
    assert all(t.next_hint for t in report.tasks)


def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 10


def test_differently_written_correct_solutions_pass(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, NAMED_FILTERS, STRICT_URPF)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    report = graded(running, ACCEPT_STYLE, KEYED_ALLOW_LISTS)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_plausible_wrong_solutions_fail(boot_lab):
    running = boot_lab(LAB)

    report = graded(running, DOCUMENTATION_IS_BOGON, NFT_REFERENCE, converge=False)
    assert {"provider-filters", "exports"} <= failed_tasks(report)
    text = message(report, "provider-routes-reach-customers")
    assert "cust1 does not receive 2001:db8:3::/48, 2001:db8:10::/48, 2001:db8:11::/48" in text

    report = graded(running, IPV4_ONLY, NFT_REFERENCE)
    assert failed_tasks(report) == {"customer-filters", "provider-filters", "exports"}
    text = message(report, "transit-receives-ours-only")
    assert "2001:db8:11::/48 (AS path 64500 64511): learned from peer (AS64511)" in text
    assert "198.18.11.0/24" not in text


def test_filters_tuned_to_the_guide_or_off_by_one_fail(boot_lab):
    running = boot_lab(LAB)

    report = graded(running, PLUS_ON_CUSTOMER, NFT_REFERENCE)
    assert failed_ids(report) == {"cust1-exactly-its-prefixes"}
    text = message(report, "cust1-exactly-its-prefixes")
    assert re.search(r"edge accepted 198\.18\.1\.\d+/25 \(AS path 64501\)", text)

    report = graded(running, NAMED_BOGONS, CLEAN + NAMED_BOGONS_NFT)
    assert failed_tasks(report) == {"provider-filters", "spoofing-borders"}
    assert {"transit-bogons-dropped", "peer-bogons-dropped"} <= failed_ids(report)
    text = message(report, "transit-bogons-dropped")
    assert "edge accepted 192.88.99.0/24 (AS path 64510)" in text

    report = graded(running, ONE_PAST, CLEAN + NFT_REFERENCE)
    assert failed_ids(report) == {
        f"{n}-{rule}-dropped" for n in ("transit", "peer") for rule in ("too-long", "long-path")
    }

    report = graded(running, SHARED_SET, NFT_REFERENCE)
    assert failed_ids(report) == {"cust1-others-space-dropped", "cust2-others-space-dropped"}
