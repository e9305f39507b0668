"""Deploy and teardown on real daemons: nothing left behind, instances side by side."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lab_support import REPO, leftovers, unique_instance
from manrs_lab import doctor, operations
from manrs_lab.drivers import daemons
from manrs_lab.errors import ConfigSyntaxError, DeployError
from manrs_lab.instance import netns_name, pid_alive
from manrs_lab.paths import STATE_ENV
from manrs_lab.progress import RecordingProgress, SilentProgress
from manrs_lab.runtime.netns import NODE_TCP_EHASH, existing_namespaces
from manrs_lab.spec.topology import Role

pytestmark = pytest.mark.daemons
LAB = "customer-filtering"
NODES = ["edge", "cust1", "cust2", "transit"]


def test_up_then_down_leaves_nothing():
    name = unique_instance("life")
    progress = RecordingProgress()
    result = operations.up(LAB, progress, instance=name)
    try:
        assert {n for n, _ in progress.events} >= {"step", *NODES}
        assert ("edge", "converged") in progress.events
        assert all(netns_name(name, n) in existing_namespaces() for n in NODES)
        _, nodes = operations.status(name)
        assert all(n.running for n in nodes)
        assert all(s.established for n in nodes for s in n.sessions)
        assert leftovers(name, NODES)  # the probe for leftovers does see a running lab
    finally:
        operations.down(name, SilentProgress())
    assert leftovers(name, NODES) == []
    assert result.converge_seconds > 0


def _uts_name(pid: int) -> str:
    argv = ["nsenter", "-t", str(pid), "-u", "hostname"]
    out = subprocess.run(argv, check=False, capture_output=True)
    return out.stdout.decode().strip()


def test_daemons_run_in_their_node_under_its_name(boot_lab):
    """Started from a thread in the node's namespace, not `ip netns exec`: each daemon is in its
    node's network namespace, answers to the node's hostname, and (no RTR cache in this lab,
    no `rpki` in its configs) bgpd runs without the RPKI module."""
    running = boot_lab(LAB)
    seen = set()
    for name, role in running.instance.nodes.items():
        pids = daemons.daemon_pids(Role(role), running.instance.node_dir(name))
        ns = Path("/run/netns") / netns_name(running.instance.name, name)
        for pid in pids:
            assert Path(f"/proc/{pid}/ns/net").stat().st_ino == ns.stat().st_ino
            assert _uts_name(pid) == name
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            seen.add(Path(argv[0].decode()).name)
            assert b"rpki" not in argv
    assert {"zebra", "bgpd", "staticd", "bird"} <= seen


def test_each_node_has_a_tcp_socket_table_of_its_own(boot_lab):
    """A socket dump in a node (BIRD's sessions, `tcp_diag`) walks the node's own table, not
    the host's; the host's setting for new namespaces is left as it was."""
    host_children = Path("/proc/sys/net/ipv4/tcp_child_ehash_entries")
    if not host_children.exists():
        pytest.skip("this kernel has no per-namespace TCP tables (Linux < 6.1)")
    before = host_children.read_text()
    running = boot_lab(LAB)
    for name in NODES:
        ns = netns_name(running.instance.name, name)
        out = subprocess.run(
            ["ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/tcp_ehash_entries"],
            check=True,
            capture_output=True,
            text=True,
        )
        assert int(out.stdout) == NODE_TCP_EHASH  # negative: the host's table, shared
    assert host_children.read_text() == before


def test_two_instances_side_by_side_are_independent(boot_lab):
    first = boot_lab(LAB)
    second = boot_lab(LAB)
    # Same addresses and interface names in both, kept apart by their namespaces.
    first.router("cust2").announce(["198.18.1.248/29"])
    try:
        seen_first = operations.check(first.instance.name, SilentProgress(), seed=3)
        seen_second = operations.check(second.instance.name, SilentProgress(), seed=3)
        assert not seen_first.passed
        assert not seen_second.passed
        transit_second = second.router("transit").routes("198.18.1.248/29")
        assert transit_second == []  # first's announcement never reached second
    finally:
        first.router("cust2").withdraw(["198.18.1.248/29"])
    operations.down(first.instance.name, SilentProgress())
    _, nodes = operations.status(second.instance.name)
    assert all(n.running for n in nodes)
    operations.up(LAB, SilentProgress(), instance=first.instance.name)  # boot_lab removes it


def test_same_instance_name_twice_is_refused(boot_lab):
    running = boot_lab(LAB)
    with pytest.raises(DeployError, match="exists already"):
        operations.up(LAB, SilentProgress(), instance=running.instance.name)


def test_bad_router_config_names_node_and_file_and_leaves_nothing(tmp_path: Path):
    content = tmp_path / "content"
    shutil.copytree(REPO / "labs" / LAB, content / "labs" / LAB)
    shutil.copytree(REPO / "topologies", content / "topologies")
    conf = content / "labs" / LAB / "configs" / "transit.conf"
    conf.write_text(
        conf.read_text().replace("neighbor 10.0.10.1 remote-as", "neighbour 10.0.10.1 remote-as")
    )
    name = unique_instance("badconf")
    with pytest.raises(ConfigSyntaxError) as info:
        operations.up(str(content / "labs" / LAB), SilentProgress(), instance=name)
    assert info.value.node == "transit"
    assert "neighbour 10.0.10.1" in info.value.output
    # The error names the lab's own file (and its line), not the state folder's copy.
    assert info.value.path == conf
    assert str(conf) in info.value.output or "line" in info.value.output
    assert os.environ[STATE_ENV] not in str(info.value)
    assert leftovers(name, NODES) == []
    assert not (Path(os.environ[STATE_ENV]) / f"{name}.lock").exists()


def test_failed_exec_line_removes_what_was_created(tmp_path: Path):
    content = tmp_path / "content"
    shutil.copytree(REPO / "labs" / LAB, content / "labs" / LAB)
    shutil.copytree(REPO / "topologies", content / "topologies")
    topo = content / "topologies" / f"{LAB}.clab.yml"
    topo.write_text(topo.read_text().replace("dev eth1\n", "dev eth9\n", 1))
    name = unique_instance("badexec")
    with pytest.raises(DeployError, match="cust1: setting up interfaces failed"):
        operations.up(str(content / "labs" / LAB), SilentProgress(), instance=name)
    assert leftovers(name, NODES) == []


def test_doctor_removes_what_a_crashed_run_left():
    name = unique_instance("crash")
    running = operations.up(LAB, SilentProgress(), instance=name).running
    # A crash: the record says "not ready", and one daemon is gone.
    record = running.instance.folder / "instance.json"
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "ready": False}))
    pid = int((running.instance.node_dir("transit") / "run" / "bgpd.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10  # SIGKILL lands when the kernel next runs the process
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    report = doctor.examine()
    assert name in report.stale_instances
    assert {netns_name(name, n) for n in NODES} <= set(report.namespaces)
    assert any(f"/{name}/" in text for _, text in report.processes)
    doctor.fix(report)
    assert leftovers(name, NODES) == []


def test_doctor_never_removes_what_no_record_proves():
    name = unique_instance("norecord")
    running = operations.up(LAB, SilentProgress(), instance=name).running
    record = running.instance.folder / "instance.json"
    saved = record.read_text()
    record.unlink()  # nothing says whose these namespaces and daemons are any more
    try:
        report = doctor.examine()
        assert report.clean, report
        not_ours = " ".join(what for what, _ in report.not_ours)
        assert str(running.instance.folder) in not_ours
        assert netns_name(name, "edge") in not_ours
        doctor.fix(report)
        assert all(netns_name(name, n) in existing_namespaces() for n in NODES)
    finally:
        record.write_text(saved)
        operations.down(name, SilentProgress())
    assert leftovers(name, NODES) == []


def test_doctor_leaves_a_healthy_instance_alone(boot_lab):
    running = boot_lab(LAB)
    report = doctor.examine()
    assert running.instance.name in report.healthy
    assert not any(running.instance.name in ns for ns in report.namespaces)


def test_doctor_never_touches_labs_of_another_state_root(tmp_path: Path, monkeypatch):
    ours = os.environ[STATE_ENV]
    other_root = f"{ours}-other"
    name = unique_instance("foreign")
    monkeypatch.setenv(STATE_ENV, other_root)
    operations.up(LAB, SilentProgress(), instance=name)
    try:
        monkeypatch.setenv(STATE_ENV, ours)
        report = doctor.examine()
        assert {netns_name(name, n) for n in NODES} <= set(report.foreign)
        assert not any(name in ns for ns in report.namespaces)
        doctor.fix(report)
        monkeypatch.setenv(STATE_ENV, other_root)
        _, nodes = operations.status(name)
        assert all(n.running for n in nodes)
    finally:
        monkeypatch.setenv(STATE_ENV, other_root)
        operations.down(name, SilentProgress())
    assert leftovers(name, NODES) == []
