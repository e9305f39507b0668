"""Labs with a registry (lab.yaml `registry:`), with the real IRRd, PostgreSQL, Redis, bgpq4
and whois: `up` starts the registry named like the instance and links it to the learner's
router; `down` removes everything; an `up` that fails leaves nothing; `doctor` finds a lab
registry whose instance is gone.

The lab is customer-filtering copied into a temporary content root with a `registry:` entry
(the lab world's RPSL), so the test does not depend on the registry lab's own content.
About 25 s (three registry starts).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab_support import leftovers as lab_leftovers
from lab_support import processes_under
from manrs_lab import doctor, irr_registry, operations
from manrs_lab.cli import main
from manrs_lab.errors import LabError
from manrs_lab.paths import state_root
from manrs_lab.progress import RecordingProgress, SilentProgress
from manrs_lab.runtime.netns import existing_namespaces

REPO = Path(__file__).resolve().parents[2]
MISSING = irr_registry.missing_programs()
pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
    pytest.mark.daemons,
]
NODES = ["edge", "cust1", "cust2", "transit"]


def content(tmp: Path, *, broken_config: bool = False, broken_registry: bool = False) -> Path:
    """customer-filtering with a registry, in a content root of its own; its lab folder."""
    lab = tmp / "labs" / "customer-filtering"
    shutil.copytree(REPO / "labs" / "customer-filtering", lab)
    (tmp / "topologies").mkdir()
    shutil.copy(REPO / "topologies" / "customer-filtering.clab.yml", tmp / "topologies")
    shutil.copy(irr_registry.WORLD, lab / "registry.rpsl")
    spec = lab / "lab.yaml"
    spec.write_text(spec.read_text() + "\nregistry: {data: registry.rpsl}\n")
    if broken_registry:  # no source: IRRd's loader refuses it
        (lab / "registry.rpsl").write_text("route: 198.18.0.0/24\norigin: AS64500\n")
    if broken_config:
        conf = lab / "configs" / "transit.conf"
        conf.write_text(conf.read_text() + "\nrouter bgp 64510\n neighbor nonsense here\n")
    return lab


def registry_leftovers(name: str) -> list[str]:
    found = []
    if irr_registry.netns(name) in existing_namespaces():
        found.append(f"namespace {irr_registry.netns(name)}")
    folder = irr_registry.registry_dir(name)
    if folder.exists():
        found.append(str(folder))
    return found + processes_under(folder)


@pytest.fixture
def name() -> Iterator[str]:
    instance = f"t-reglab-{uuid.uuid4().hex[:6]}"
    yield instance
    # Whatever a failing test left (each test asserts its own leftovers first).
    with contextlib.suppress(LabError):
        operations.down(instance, SilentProgress())
    irr_registry.stop(instance)


def test_up_starts_the_registry_reachable_from_the_learner_and_down_removes_it(
    tmp_path, name, capsys
):
    progress = RecordingProgress()
    running = operations.up(str(content(tmp_path)), progress, instance=name).running
    try:
        assert running.registry == name
        assert irr_registry.alive(name)
        steps = " | ".join(m for kind, m in progress.events if kind == "step")
        assert f"registry {name}: starting IRRd" in steps
        assert ("edge", "linked to the registry") in progress.events
        # From inside the learner's router: whois and bgpq4 at the registry's link address.
        edge = running.handle("edge")
        host = irr_registry.LAB_WHOIS_HOST
        answer = edge.exec(["whois", "-h", host, "AS64500"], timeout=20)
        assert answer.ok, answer.stderr
        assert "aut-num:        AS64500" in answer.stdout
        built = edge.exec(["bgpq4", "-h", host, "-S", "LABIRR", "-l", "C1", "AS-CUST1"], timeout=20)
        assert built.ok, built.stderr
        assert "198.18.1.0/24" in built.stdout
        # Only the learner's router has the link; the other nodes cannot reach the registry.
        other = running.handle("transit").exec(["whois", "-h", host, "AS64500"], timeout=10)
        assert not other.ok
        # From the learner's terminal: the registry is named like the instance.
        assert main(["registry", "whois", name, "AS64501"]) == 0
        assert "aut-num:        AS64501" in capsys.readouterr().out
        assert irr_registry.query(running.registry, "!gAS64501").count("198.18.1.0/24") == 1
        assert main(["status", name]) == 0
        assert f"registry {name}: running" in capsys.readouterr().out
    finally:
        operations.down(name, SilentProgress())
    assert registry_leftovers(name) == []
    assert lab_leftovers(name, NODES) == []


def test_a_failed_up_leaves_no_registry(tmp_path, name):
    lab = content(tmp_path, broken_config=True)
    with pytest.raises(LabError, match="transit"):
        operations.up(str(lab), SilentProgress(), instance=name)
    assert registry_leftovers(name) == []
    assert lab_leftovers(name, NODES) == []


def test_a_registry_that_fails_to_start_fails_the_up_and_leaves_nothing(tmp_path, name):
    lab = content(tmp_path, broken_registry=True)
    with pytest.raises(LabError, match=r"registry\.rpsl"):
        operations.up(str(lab), SilentProgress(), instance=name)
    assert registry_leftovers(name) == []
    assert lab_leftovers(name, NODES) == []


def test_reset_starts_the_registry_afresh(tmp_path, name):
    lab = str(content(tmp_path))
    running = operations.up(lab, SilentProgress(), instance=name).running
    try:
        assert running.registry is not None
        added = irr_registry.submit(
            running.registry,
            "route: 198.18.1.128/25\norigin: AS64501\nmnt-by: MAINT-CUST1\nsource: LABIRR\n",
            ["cust1-lab-pw"],
        )
        assert added.ok, added.report
        assert "198.18.1.128/25" in irr_registry.query(name, "!gAS64501")
        operations.reset(name, SilentProgress())
        assert irr_registry.alive(name)
        assert "198.18.1.128/25" not in irr_registry.query(name, "!gAS64501")
        answer = (
            operations.attach(name)
            .handle("edge")
            .exec(["whois", "-h", irr_registry.LAB_WHOIS_HOST, "AS64501"], timeout=20)
        )
        assert "aut-num:        AS64501" in answer.stdout  # linked again
    finally:
        operations.down(name, SilentProgress())
    assert registry_leftovers(name) == []


def test_a_taken_registry_name_is_refused_and_left_alone(tmp_path, name):
    irr_registry.start(name)  # someone's registry, started by hand
    try:
        with pytest.raises(LabError, match="a registry named"):
            operations.up(str(content(tmp_path)), SilentProgress(), instance=name)
        assert irr_registry.alive(name)
        assert lab_leftovers(name, NODES) == []
        report = doctor.examine()  # started by hand: not doctor's to remove
        assert name not in report.registries
    finally:
        irr_registry.stop(name)


def test_doctor_removes_a_lab_registry_whose_instance_is_gone(name):
    irr_registry.start(name, lab_link=True)  # as `up` leaves it if killed after its record went
    assert not (state_root() / name).exists()
    report = doctor.examine()
    assert name in report.registries
    assert not report.clean
    doctor.fix(report)
    assert registry_leftovers(name) == []
    assert name not in doctor.examine().registries


def test_containerlab_refuses_a_registry_lab(tmp_path, name):
    with pytest.raises(LabError, match="only the netns runtime"):
        operations.up(
            str(content(tmp_path)), SilentProgress(), instance=name, runtime="containerlab"
        )
    assert not (state_root() / name).exists()
    assert registry_leftovers(name) == []


def test_two_instances_have_their_own_registries(tmp_path, name):
    """Many learners, one machine: each instance's edge reaches its own registry at the same
    address, and one learner's update is not in the other's."""
    lab = str(content(tmp_path))
    other = f"{name}-b"
    first = operations.up(lab, SilentProgress(), instance=name).running
    try:
        second = operations.up(lab, SilentProgress(), instance=other).running
        try:
            assert first.registry == name
            assert second.registry == other
            route = "route: 198.18.1.128/25\norigin: AS64501\nmnt-by: MAINT-CUST1\nsource: LABIRR\n"
            assert irr_registry.submit(name, route, ["cust1-lab-pw"]).ok
            host = irr_registry.LAB_WHOIS_HOST
            seen = {
                r.instance.name: r.handle("edge").exec(["whois", "-h", host, "!gAS64501"]).stdout
                for r in (first, second)
            }
            assert "198.18.1.128/25" in seen[name], seen
            assert "198.18.1.0/24" in seen[other], seen
            assert "198.18.1.128/25" not in seen[other], seen
        finally:
            operations.down(other, SilentProgress())
    finally:
        operations.down(name, SilentProgress())
    assert registry_leftovers(name) == []
    assert registry_leftovers(other) == []
    assert lab_leftovers(name, NODES) == []
    assert lab_leftovers(other, NODES) == []
