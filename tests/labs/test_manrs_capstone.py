"""manrs-capstone (FRR learner) on real daemons: unsolved fails, the reference passes, wrong ones
fail the right task, and solutions written other ways pass.

The wrong ones are the classes issue 12 found scoring full marks: filters tuned to what the
guide named (bogon lists of the well-known ranges only), boundaries off by one (a customer's
`le 32`, a length or path limit one too far or one too short), own-space filters that miss the
exact prefix, one prefix list shared by both customers, a rule missing on one session, and
anti-spoofing that covers half a customer's space or no bogon space at the borders."""

from __future__ import annotations

import re
import time

import pytest

from lab_reports import failed_ids, failed_tasks
from lab_support import REPO
from manrs_lab import operations
from manrs_lab.grader.checks.traffic import SpoofedParams, draw_spoofed
from manrs_lab.grader.engine import check_seed, grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.spec.loader import load_lab

pytestmark = pytest.mark.daemons
LAB = "manrs-capstone"
SEED = 5
CHECKS = {c.id: c for c in load_lab(REPO / "labs" / LAB / "lab.yaml").spec.checks}

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

# Every special-purpose range, as the grader draws them (manrs_lab.special_purpose).
BOGONS4 = [
    *("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"),
    *("172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16"),
    *("198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3"),
]
BOGONS6 = [
    *("::/8", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:2::/48", "2001:10::/28"),
    *("2001:20::/28", "2002::/16", "3ffe::/16", "5f00::/16", "fc00::/7", "fe80::/10"),
    *("fec0::/10", "ff00::/8"),
]
CLEAN = "nft flush ruleset\nfor f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done\n"

# Correct, written another way: route-maps that deny what is bad (instead of prefix-lists that
# permit what is good), aggregated ranges, one route-map for both families; anti-spoofing with
# strict uRPF (rp_filter for IPv4, an nftables fib lookup for IPv6).
ROUTE_MAPS = (
    """
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
"""
    + "".join(f"ip prefix-list BAD seq {10 + i} permit {p} le 32\n" for i, p in enumerate(BOGONS4))
    + """ip prefix-list BAD seq 40 permit 198.18.0.0/23 le 32
ip prefix-list BAD seq 41 permit 198.18.2.0/24 le 32
ip prefix-list BAD seq 50 permit 0.0.0.0/0 ge 25
ipv6 prefix-list BAD seq 5 permit ::/0
"""
    + "".join(
        f"ipv6 prefix-list BAD seq {10 + i} permit {p} le 128\n" for i, p in enumerate(BOGONS6)
    )
    + """ipv6 prefix-list BAD seq 40 permit 2001:db8::/47 le 128
ipv6 prefix-list BAD seq 41 permit 2001:db8:2::/48 le 128
ipv6 prefix-list BAD seq 50 permit ::/0 ge 49
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
# Correct, written a third way: the AS-path rule as a positive regular expression (at most 50
# ASes) in a route-map with the length rule as `ge`/`le` ranges; anti-spoofing as one verdict
# map per interface and family, with accept lists for the customers.
PERMIT_STYLE = (
    """
ip prefix-list CUST1 seq 5 permit 198.18.1.0/24
ip prefix-list CUST2 seq 5 permit 198.18.2.0/24
ipv6 prefix-list CUST1 seq 5 permit 2001:db8:1::/48
ipv6 prefix-list CUST2 seq 5 permit 2001:db8:2::/48
"""
    + "".join(f"ip prefix-list OUT4 seq {10 + i} deny {p} le 32\n" for i, p in enumerate(BOGONS4))
    + """ip prefix-list OUT4 seq 40 deny 198.18.0.0/23 ge 24 le 32
ip prefix-list OUT4 seq 41 deny 198.18.2.0/24 le 32
ip prefix-list OUT4 seq 50 permit 0.0.0.0/0 ge 1 le 24
"""
    + "".join(
        f"ipv6 prefix-list OUT6 seq {10 + i} deny {p} le 128\n" for i, p in enumerate(BOGONS6)
    )
    + """ipv6 prefix-list OUT6 seq 40 deny 2001:db8::/47 ge 48 le 128
ipv6 prefix-list OUT6 seq 41 deny 2001:db8:2::/48 le 128
ipv6 prefix-list OUT6 seq 50 permit ::/0 ge 1 le 48
bgp as-path access-list SANE permit ^([0-9]+( |$)){1,50}$
route-map OUTSIDE-IN4 permit 10
 match ip address prefix-list OUT4
 match as-path SANE
exit
route-map OUTSIDE-IN6 permit 10
 match ipv6 address prefix-list OUT6
 match as-path SANE
exit
bgp as-path access-list OURS permit ^$
bgp as-path access-list OURS permit ^6450[12]$
route-map OUTSIDE-OUT permit 10
 match as-path OURS
exit
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUST1 in
  neighbor 10.0.2.2 prefix-list CUST2 in
  neighbor 10.0.10.2 route-map OUTSIDE-IN4 in
  neighbor 10.0.10.2 route-map OUTSIDE-OUT out
  neighbor 10.0.11.2 route-map OUTSIDE-IN4 in
  neighbor 10.0.11.2 route-map OUTSIDE-OUT out
 exit-address-family
 address-family ipv6 unicast
  neighbor fd00:0:1::2 prefix-list CUST1 in
  neighbor fd00:0:2::2 prefix-list CUST2 in
  neighbor fd00:0:10::2 route-map OUTSIDE-IN6 in
  neighbor fd00:0:10::2 route-map OUTSIDE-OUT out
  neighbor fd00:0:11::2 route-map OUTSIDE-IN6 in
  neighbor fd00:0:11::2 route-map OUTSIDE-OUT out
 exit-address-family
exit
"""
)
VMAPS = (
    CLEAN
    + """nft -f - <<'EOF'
table inet bcp38 {
  set outside4 { type ipv4_addr; flags interval; auto-merge;
    elements = { 198.18.0.0/23, 198.18.2.0/24, """
    + ", ".join(BOGONS4)
    + """ } }
  set outside6 { type ipv6_addr; flags interval; auto-merge;
    elements = { 2001:db8::/47, 2001:db8:2::/48, """
    + ", ".join(BOGONS6)
    + """ } }
  chain from_cust1 {
    ip saddr 198.18.1.0/24 return
    ip6 saddr 2001:db8:1::/48 return
    drop
  }
  chain from_cust2 {
    ip saddr 198.18.2.0/24 return
    ip6 saddr 2001:db8:2::/48 return
    drop
  }
  chain from_outside {
    ip saddr @outside4 drop
    ip6 saddr @outside6 drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname vmap { "eth1" : jump from_cust1, "eth2" : jump from_cust2,
                   "eth3" : jump from_outside, "eth4" : jump from_outside }
  }
}
EOF
"""
)


def _reference_parts() -> tuple[str, str]:
    """The reference script's FRR commands and its nftables part."""
    script = (REPO / "labs" / LAB / "solution" / "edge.sh").read_text()
    frr = script.split("-f /dev/stdin <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    nft = "nft -f - <<'EOF'\n" + script.split("nft -f - <<'EOF'\n", 1)[1]
    return frr, nft


FRR_REFERENCE, NFT_REFERENCE = _reference_parts()

# Plausible mistakes.
# Everything done for IPv4 only: the IPv6 sessions and packets stay wide open.
IPV4_ONLY_FRR = re.sub(
    r" address-family ipv6 unicast\n.*? exit-address-family\n",
    "",
    "\n".join(line for line in FRR_REFERENCE.splitlines() if not line.startswith("ipv6 ")) + "\n",
    flags=re.S,
)
IPV4_ONLY_NFT = "\n".join(line for line in NFT_REFERENCE.splitlines() if "ip6" not in line)
# The export filter put on every session: customers lose the rest of the Internet.
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
# Tuned to the old guide: bogon lists of exactly the ranges it named (RFC 6890's best-known
# IPv4 ranges; ::/8, fc00::/7, fe80::/10, ff00::/8), in the route filters and in nftables.
NAMED_V4 = {p for p in BOGONS4 if p != "192.88.99.0/24"}
NAMED_V6 = {"::/8", "fc00::/7", "fe80::/10", "ff00::/8"}
NAMED_BOGONS_FRR = "\n".join(
    line
    for line in FRR_REFERENCE.splitlines()
    if not (
        m := re.match(
            r"ip(?:v6)? prefix-list FROM-OUTSIDE-V[46] seq (?:1\d|2[0-3]) deny (\S+) le", line
        )
    )
    or m.group(1) in NAMED_V4 | NAMED_V6
)
NAMED_BOGONS_NFT = re.sub(
    r"set bogons6 \{.*?\} \}",
    "set bogons6 { type ipv6_addr; flags interval; "
    "elements = { ::/8, fc00::/7, fe80::/10, ff00::/8 } }",
    NFT_REFERENCE.replace(" 192.88.99.0/24,", ""),
    flags=re.S,
)
# Boundaries, one past and one short.
CUSTOMER_LE = FRR_REFERENCE.replace("permit 198.18.1.0/24", "permit 198.18.1.0/24 le 32").replace(
    "permit 2001:db8:1::/48", "permit 2001:db8:1::/48 le 128"
)
LENGTH_ONE_PAST = (
    FRR_REFERENCE.replace("deny 0.0.0.0/0 ge 25", "deny 0.0.0.0/0 ge 26")
    .replace("permit 0.0.0.0/0 le 24", "permit 0.0.0.0/0 le 25")
    .replace("deny ::/0 ge 49", "deny ::/0 ge 50")
    .replace("permit ::/0 le 48", "permit ::/0 le 49")
)
PATH_ONE_PAST = FRR_REFERENCE.replace("deny ([0-9]+ ){50}[0-9]+", "deny ([0-9]+ ){51}[0-9]+")
PATH_ONE_SHORT = FRR_REFERENCE.replace("deny ([0-9]+ ){50}[0-9]+", "deny ([0-9]+ ){49}[0-9]+")
OWN_SPACE_MORE_SPECIFICS_ONLY = re.sub(
    r"deny (198\.18\.[012]\.0/24) le 32", r"deny \1 ge 25", FRR_REFERENCE
)
OWN_SPACE_MORE_SPECIFICS_ONLY = re.sub(
    r"deny (2001:db8:[12]?::/48) le 128", r"deny \1 ge 49", OWN_SPACE_MORE_SPECIFICS_ONLY
)
# One prefix list for both customers.
SHARED_CUSTOMER_LIST = (
    FRR_REFERENCE.replace(
        "ip prefix-list CUST1-V4 seq 10 permit 198.18.1.0/24",
        "ip prefix-list CUST1-V4 seq 10 permit 198.18.1.0/24\n"
        "ip prefix-list CUST1-V4 seq 11 permit 198.18.2.0/24",
    )
    .replace(
        "ipv6 prefix-list CUST1-V6 seq 10 permit 2001:db8:1::/48",
        "ipv6 prefix-list CUST1-V6 seq 10 permit 2001:db8:1::/48\n"
        "ipv6 prefix-list CUST1-V6 seq 11 permit 2001:db8:2::/48",
    )
    .replace("prefix-list CUST2-V4 in", "prefix-list CUST1-V4 in")
    .replace("prefix-list CUST2-V6 in", "prefix-list CUST1-V6 in")
)
# Every rule right, but the peer's sessions left out.
PEER_UNFILTERED = "\n".join(
    line
    for line in FRR_REFERENCE.splitlines()
    if not re.match(r"\s+neighbor (10\.0\.11\.2|fd00:0:11::2) (prefix-list FROM|filter-list)", line)
)
# A customer filter that denies the other customer, edge and private space, and permits the rest.
CUSTOMER_DENY_LIST = FRR_REFERENCE.replace(
    "ip prefix-list CUST1-V4 seq 10 permit 198.18.1.0/24",
    "ip prefix-list CUST1-V4 seq 5 deny 198.18.2.0/24 le 32\n"
    "ip prefix-list CUST1-V4 seq 6 deny 198.18.0.0/24 le 32\n"
    "ip prefix-list CUST1-V4 seq 7 deny 192.168.0.0/16 le 32\n"
    "ip prefix-list CUST1-V4 seq 10 permit any",
).replace(
    "ipv6 prefix-list CUST1-V6 seq 10 permit 2001:db8:1::/48",
    "ipv6 prefix-list CUST1-V6 seq 5 deny 2001:db8:2::/48 le 128\n"
    "ipv6 prefix-list CUST1-V6 seq 6 deny 2001:db8::/48 le 128\n"
    "ipv6 prefix-list CUST1-V6 seq 7 deny fc00::/7 le 128\n"
    "ipv6 prefix-list CUST1-V6 seq 10 permit any",
)
# Anti-spoofing: half of cust1's IPv6 space, and borders without bogon space.
HALF_CUST1_V6 = NFT_REFERENCE.replace(
    "ip6 saddr != 2001:db8:1::/48 drop", "ip6 saddr != 2001:db8:1::/49 drop"
)
BORDERS_WITHOUT_BOGONS = "\n".join(
    line for line in NFT_REFERENCE.splitlines() if "saddr @bogons" not in line
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
    return grade(running, SilentProgress(), seed=SEED)


def fresh(running: RunningLab) -> RunningLab:
    """The same instance back at its starting configs (FRR commands add up)."""
    return operations.reset(running.instance.name, SilentProgress()).running


def message(report: GradeReport, check_id: str) -> str:
    return next(c.message for c in report.checks if c.id == check_id)


def leaked_count(text: str) -> int:
    named = len(re.findall(r"\d+ of \d+ from ", text.split(". They entered", maxsplit=1)[0]))
    more = re.search(r"and (\d+) more;", text)
    return named + (int(more.group(1)) if more else 0)


def test_unsolved_lab_fails_every_task_naming_what_got_through(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == LEAKS | SPOOFING | CUSTOMER_PROBES | PROVIDER_PROBES
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
    assert (
        "edge accepted 0.0.0.0/0 (AS path 64511), ::/0 (AS path 64511)"
        in text["peer-default-dropped"]
    )
    assert "(52 ASes)" in text["transit-long-path-dropped"]
    assert "sent it with an AS path of 51 ASes" in text["transit-long-path-dropped"]
    assert "edge accepted 198.18.0.0/24 (AS path 64510)" in text["transit-own-space-dropped"]
    assert "is in your own or your customers' address space" in text["transit-own-space-dropped"]
    assert "edge accepted 198.18.2.0/24 (AS path 64501)" in text["cust1-others-space-dropped"]
    assert "'this network' (RFC 791), inside 0.0.0.0/8" in text["transit-bogons-dropped"]
    assert (
        "received IPv6 packets h-cust1 sent with spoofed sources"
        in (text["cust1-spoofed-ipv6-dropped"])
    )
    # Every spoofed source drawn is one the lab forwards when nothing filters.
    for check_id in SPOOFING:
        params = SpoofedParams.model_validate(CHECKS[check_id].params)
        drawn = draw_spoofed(check_seed(SEED, check_id), params)
        assert leaked_count(text[check_id]) == len(drawn), check_id
    # Legitimate routes at the boundaries get through an unfiltered router.
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
    report = graded(running, ROUTE_MAPS, STRICT_URPF)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    running = fresh(running)
    report = graded(running, PERMIT_STYLE, VMAPS)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_ipv4_only_solution_fails_every_task(boot_lab):
    report = graded(boot_lab(LAB), IPV4_ONLY_FRR, IPV4_ONLY_NFT)
    assert report.points == 0
    failed = failed_ids(report)
    assert {"cust1-spoofed-ipv6-dropped", "peer-spoofed-ipv6-dropped"} <= failed
    assert not {"cust1-spoofed-dropped", "peer-spoofed-dropped"} & failed  # IPv4 is fine
    leaks = message(report, "cust1-exactly-its-prefixes").split(". cust1 announced", maxsplit=1)[0]
    assert "2001:db8:1:" in leaks
    assert "198.18.1." not in leaks


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
    text = message(report, "cust1-gets-full-table")
    assert "cust1 does not receive 198.18.3.0/24, 198.18.10.0/24, 198.18.11.0/24" in text


def test_bogon_lists_of_the_ranges_the_old_guide_named_fail(boot_lab):
    report = graded(boot_lab(LAB), NAMED_BOGONS_FRR, NAMED_BOGONS_NFT)
    assert failed_tasks(report) == {"provider-filters", "spoofing-borders"}
    assert failed_ids(report) == {
        "transit-bogons-dropped",
        "peer-bogons-dropped",
        "transit-spoofed-dropped",
        "transit-spoofed-ipv6-dropped",
        "peer-spoofed-dropped",
        "peer-spoofed-ipv6-dropped",
    }
    assert "edge accepted 192.88.99.0/24 (AS path 64510)" in message(
        report, "transit-bogons-dropped"
    )
    assert "(TEREDO (RFC 4380), inside 2001::/32; " in message(
        report, "transit-spoofed-ipv6-dropped"
    )


def test_boundaries_off_by_one_lose_the_task_that_states_them(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, CUSTOMER_LE, NFT_REFERENCE)
    assert failed_ids(report) == {"cust1-exactly-its-prefixes"}
    text = message(report, "cust1-exactly-its-prefixes")
    assert re.search(r"edge accepted 198\.18\.1\.\d+/25 \(AS path 64501\)", text)
    assert re.search(r"2001:db8:1:[0-9a-f:]*/49 \(AS path 64501\)", text)

    running = fresh(running)
    report = graded(running, LENGTH_ONE_PAST, NFT_REFERENCE)
    assert failed_ids(report) == {"transit-too-long-dropped", "peer-too-long-dropped"}
    assert "/25 is longer than /24" in message(report, "transit-too-long-dropped")

    running = fresh(running)
    report = graded(running, PATH_ONE_PAST, NFT_REFERENCE)
    assert failed_ids(report) == {"transit-long-path-dropped", "peer-long-path-dropped"}

    running = fresh(running)
    report = graded(running, PATH_ONE_SHORT, NFT_REFERENCE)
    assert failed_ids(report) == {"transit-path-at-limit-accepted", "peer-path-at-limit-accepted"}
    text = message(report, "peer-path-at-limit-accepted")
    assert "which peer announced with an AS path of 50 ASes" in text

    running = fresh(running)
    report = graded(running, OWN_SPACE_MORE_SPECIFICS_ONLY, NFT_REFERENCE)
    assert failed_ids(report) == {"transit-own-space-dropped", "peer-own-space-dropped"}


def test_a_rule_missing_on_one_session_or_shared_by_both_customers_fails(boot_lab):
    running = boot_lab(LAB)
    report = graded(running, PEER_UNFILTERED, NFT_REFERENCE)
    assert failed_tasks(report) == {"provider-filters"}
    assert failed_ids(report) == {p for p in PROVIDER_PROBES if p.startswith("peer-")}

    running = fresh(running)
    report = graded(running, SHARED_CUSTOMER_LIST, NFT_REFERENCE)
    assert failed_ids(report) == {"cust1-others-space-dropped", "cust2-others-space-dropped"}
    assert "edge accepted 198.18.2.0/24 (AS path 64501)" in message(
        report, "cust1-others-space-dropped"
    )

    running = fresh(running)
    report = graded(running, CUSTOMER_DENY_LIST, NFT_REFERENCE)
    assert failed_ids(report) == {"cust1-others-space-dropped", "cust1-exactly-its-prefixes"}


def test_anti_spoofing_of_part_of_the_space_or_without_bogons_fails(boot_lab):
    running = boot_lab(LAB)
    running.router("edge").apply_config(FRR_REFERENCE)
    report = graded(running, shell=HALF_CUST1_V6)
    assert failed_ids(report) == {"cust1-ipv6-traffic-flows"}
    lost = re.findall(
        r"0 of 3 from 2001:db8:1:([0-9a-f]+):", message(report, "cust1-ipv6-traffic-flows")
    )
    assert lost
    assert all(int(group, 16) >= 0x8000 for group in lost)

    report = graded(running, shell=CLEAN + BORDERS_WITHOUT_BOGONS)
    assert failed_tasks(report) == {"spoofing-borders"}
    assert "inside 10.0.0.0/8; " in message(report, "transit-spoofed-dropped")
