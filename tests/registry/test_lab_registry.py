"""The lab registry with the real programs: IRRd 4, PostgreSQL, Redis and bgpq4 (no mocks).

Two registries are started once for the module (about 5 s each, after the database template is
made once per machine); every test queries or updates them; the last checks that stopping
leaves nothing behind. Needs root and `./install.sh` (skipped otherwise).
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from manrs_lab import irr, irr_registry
from manrs_lab.cli import main
from manrs_lab.runtime.netns import existing_namespaces

REPO = Path(__file__).resolve().parents[2]
IXP_DB = REPO / "labs" / "ixp-route-server" / "irr" / "ixp.db"
MISSING = irr_registry.missing_programs()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

NEW_ROUTE = """\
route:          198.18.3.0/24
descr:          cust1's new prefix
origin:         AS64501
mnt-by:         MAINT-CUST1
source:         LABIRR
"""


def prefixes(output: str) -> set[str]:
    return set(re.findall(r"[0-9a-f.:]+/\d+", output))


def leftovers(reg: irr_registry.Registry) -> list[str]:
    found = []
    if reg.netns in existing_namespaces():
        found.append(f"namespace {reg.netns}")
    if reg.folder.exists():
        found.append(str(reg.folder))
    for pid in reg.pids.values():
        if Path(f"/proc/{pid}").exists():
            stat = Path(f"/proc/{pid}/stat").read_text()
            if ") Z " not in stat:
                found.append(f"process {pid}")
    marker = str(reg.folder) + "/"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                found.append(f"process {proc.name}: {cmdline[:80]}")
    return found


@pytest.fixture(scope="module")
def registries() -> Iterator[tuple[irr_registry.Registry, irr_registry.Registry]]:
    tag = uuid.uuid4().hex[:6]
    started: list[irr_registry.Registry] = []
    try:
        for side in ("a", "b"):
            started.append(irr_registry.start(f"t{tag}{side}"))
        yield started[0], started[1]
    finally:
        for reg in started:
            irr_registry.stop(reg.name)
        assert [x for reg in started for x in leftovers(reg)] == []


def test_set_queries_answer_as_soon_as_the_registry_is_up(registries):
    """IRRd's whois worker answers as-set queries from a preload store it loads only when told
    the store is complete; a worker that missed the first announcement hung bgpq4 for good
    after `up`, now and then. `start` returns once such a query is answered (first test of the
    module: nothing has changed the registry yet, which would announce it again)."""
    for reg in registries:
        started = time.monotonic()
        members = irr_registry.query(reg.name, "!iAS-EDGE,1", timeout=5)
        assert set(re.findall(r"AS\d+", members)) == {"AS64500", "AS64501", "AS64502"}
        assert time.monotonic() - started < 5


def test_whois_answers_with_the_lab_world(registries):
    reg, _ = registries
    autnum = irr_registry.query(reg.name, "AS64500")
    assert "aut-num:        AS64500" in autnum
    assert re.search(r"admin-c:\s+EDGE-NOC", autnum)
    assert re.search(r"abuse-c:\s+EDGE-ABUSE", autnum)
    role = irr_registry.query(reg.name, "EDGE-ABUSE")
    assert "abuse@edge.lab.invalid" in role
    # IRRd's own query language, as bgpq4 uses it: the as-set's ASes, recursively.
    members = irr_registry.query(reg.name, "!iAS-EDGE,1")
    assert set(re.findall(r"AS\d+", members)) == {"AS64500", "AS64501", "AS64502"}
    # The mntner is there, its password hash is not shown.
    mntner = irr_registry.query(reg.name, "MAINT-CUST1")
    assert "mntner:         MAINT-CUST1" in mntner
    assert "$2b$" not in mntner


def test_bgpq4_builds_bird_and_frr_filters_from_an_as_set(registries):
    reg, _ = registries
    bird = irr.from_registry(reg.name, "AS-EDGE", fmt="bird")
    assert bird.startswith("define AS_EDGE = [")
    assert prefixes(bird) == {"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24"}
    frr = irr.from_registry(reg.name, "AS-EDGE-CUSTOMERS", fmt="frr", name="CUSTOMERS-IN")
    assert "ip prefix-list CUSTOMERS-IN permit 198.18.1.0/24" in frr
    assert prefixes(frr) == {"198.18.1.0/24", "198.18.2.0/24"}
    v6 = irr.from_registry(reg.name, "AS-EDGE", fmt="frr", version=6, max_length=56)
    assert "ipv6 prefix-list AS_EDGE permit 2001:db8:500::/48 le 56" in v6
    assert prefixes(v6) == {"2001:db8:500::/48", "2001:db8:502::/48"}
    with pytest.raises(irr.IrrError, match="no route objects"):
        irr.from_registry(reg.name, "AS-NOT-REGISTERED")


def test_an_update_with_the_wrong_password_is_refused(registries):
    reg, _ = registries
    result = irr_registry.submit(reg.name, NEW_ROUTE, ["edge-lab-pw"])  # another mntner's
    assert not result.ok
    assert "Authorisation for route 198.18.3.0/24AS64501 failed" in result.report
    result = irr_registry.submit(reg.name, NEW_ROUTE, [])
    assert not result.ok
    assert "198.18.3.0/24" not in irr_registry.query(reg.name, "-x 198.18.3.0/24")
    assert "198.18.3.0/24" not in prefixes(irr.from_registry(reg.name, "AS-CUST1"))


def test_an_authenticated_update_shows_in_whois_and_bgpq4_of_its_instance_only(registries):
    reg, other = registries
    result = irr_registry.submit(reg.name, NEW_ROUTE, ["cust1-lab-pw"])  # BCRYPT-PW
    assert result.ok, result.report
    assert "descr:          cust1's new prefix" in irr_registry.query(reg.name, "198.18.3.0/24")
    assert prefixes(irr.from_registry(reg.name, "AS-EDGE")) == {
        "198.18.0.0/24",
        "198.18.1.0/24",
        "198.18.2.0/24",
        "198.18.3.0/24",
    }
    # The other learner's registry has not seen it.
    assert "198.18.3.0/24" not in irr_registry.query(other.name, "-x 198.18.3.0/24")
    assert "198.18.3.0/24" not in prefixes(irr.from_registry(other.name, "AS-EDGE"))
    # A delete, authenticated, takes it out of the filter again.
    deleted = irr_registry.submit(reg.name, NEW_ROUTE, ["cust1-lab-pw"], delete_reason="lab")
    assert deleted.ok, deleted.report
    assert "198.18.3.0/24" not in prefixes(irr.from_registry(reg.name, "AS-EDGE"))


def test_md5_pw_maintainers_and_contacts_are_updated_the_same_way(registries):
    reg, _ = registries
    role = """\
role:           Cust2 NOC
address:        Customer Road 2, Lab City
phone:          +1 555 0121
e-mail:         noc-24x7@cust2.lab.invalid
nic-hdl:        CUST2-NOC
mnt-by:         MAINT-CUST2
source:         LABIRR
"""
    assert not irr_registry.submit(reg.name, role, ["cust1-lab-pw"]).ok
    result = irr_registry.submit(reg.name, role, ["cust2-lab-pw"])  # MD5-PW
    assert result.ok, result.report
    assert "noc-24x7@cust2.lab.invalid" in irr_registry.query(reg.name, "CUST2-NOC")
    route6 = "route6: 2001:db8:502:100::/56\norigin: AS64502\nmnt-by: MAINT-CUST2\nsource: LABIRR\n"
    assert irr_registry.submit(reg.name, route6, ["cust2-lab-pw"]).ok
    assert "2001:db8:502:100::/56" in prefixes(irr.from_registry(reg.name, "AS-CUST2", version=6))
    # IRRd mailed its notifications to the registry's own mail sink, not anywhere else.
    assert list((reg.folder / "mail").glob("*.eml"))


def test_the_registry_is_reachable_only_inside_its_namespace(registries):
    reg, _ = registries
    listening = subprocess.run(
        ["ip", "netns", "exec", reg.netns, "ss", "-Htln"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    addresses = {line.split()[3] for line in listening.splitlines()}
    assert addresses == {"127.0.0.1:43", "127.0.0.1:8080", "127.0.0.1:2525"}
    links = subprocess.run(
        ["ip", "-n", reg.netns, "-o", "link"], capture_output=True, text=True, check=True
    ).stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]


def test_irr_on_a_file_starts_and_stops_a_registry(capsys: pytest.CaptureFixture[str]):
    before = set(irr_registry.running())
    assert main(["irr", str(IXP_DB), "--as-set", "AS-CONTENT", "--format", "frr"]) == 0
    out = capsys.readouterr().out
    # What the file registers for content's ASes, stale and wrong entries included (the lab's
    # point): the same as the hand-written converter this replaces printed.
    assert prefixes(out) == {"10.5.0.0/16", "198.18.3.0/24", "198.18.5.0/24", "198.18.8.0/24"}
    assert "ip prefix-list AS_CONTENT permit 198.18.5.0/24" in out
    assert set(irr_registry.running()) == before
    assert not [ns for ns in existing_namespaces() if ns.startswith("mlirr-irr-file-")]


def test_a_second_start_of_a_running_registry_is_refused_and_harms_nothing(registries):
    reg, _ = registries
    with pytest.raises(irr_registry.RegistryError, match="already running"):
        irr_registry.start(reg.name)
    assert "aut-num:        AS64500" in irr_registry.query(reg.name, "AS64500")
    assert reg.netns in existing_namespaces()


def test_irr_on_a_bad_file_names_it_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bad = tmp_path / "bad.rpsl"
    bad.write_text("route: 198.18.0.0/24\norigin: AS64500\n")  # no source: IRRd refuses it
    bad.chmod(0o600)  # the loader reads a copy: the learner's file needs no other reader
    before = set(irr_registry.running())
    assert main(["irr", str(bad), "--as-set", "AS-X"]) == 2
    err = capsys.readouterr().err
    assert "bad.rpsl" in err
    assert "source" in err
    assert set(irr_registry.running()) == before
    assert not [ns for ns in existing_namespaces() if ns.startswith("mlirr-irr-file-")]
