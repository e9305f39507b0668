"""Issue 14 on real daemons: one check at a time per instance, no probe survives a killed
check, doctor removes only its own, names are claimed atomically, ROA changes never lose one.

Every command runs as its own process here (the CLI), as a learner's second shell or a
notebook beside a shell would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab_support import leftovers, unique_instance
from manrs_lab import doctor, operations
from manrs_lab.instance import netns_name
from manrs_lab.paths import STATE_ENV
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.runtime.netns import existing_namespaces

pytestmark = pytest.mark.daemons
LAB = "customer-filtering"
NODES = ["edge", "cust1", "cust2", "transit"]
CLI = [sys.executable, "-m", "manrs_lab.cli"]


def cli(*args: str, root: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, STATE_ENV: root or os.environ[STATE_ENV]}
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


def start(*args: str, root: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, STATE_ENV: root or os.environ[STATE_ENV]}
    return subprocess.Popen(
        [*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def report_of(stdout: str) -> dict:
    return json.loads(stdout)


def failed(report: dict) -> set[str]:
    return {c["id"] for c in report["checks"] if not c["passed"]}


def originated(running: RunningLab) -> dict[str, set[str]]:
    """Per router, what it originates itself: its config's prefixes and any probe's."""
    return {
        n: {r.prefix for r in running.router(n).routes() if r.peer is None}
        for n in running.router_names()
    }


def test_two_concurrent_checks_of_one_instance_both_give_the_right_verdict(boot_lab):
    running = boot_lab(LAB)
    name = running.instance.name
    alone = operations.check(name, SilentProgress(), seed=1)
    expected_unsolved = {c.id for c in alone.checks if not c.passed}
    assert expected_unsolved  # the starting configs fail some checks
    for solved in (False, True):
        if solved:
            operations.solve(name, SilentProgress())
        first = start("check", name, "--json", "--seed", "7")
        second = start("check", name, "--json", "--seed", "8")
        out1, err1 = first.communicate(timeout=120)
        out2, err2 = second.communicate(timeout=120)
        reports = [report_of(out1), report_of(out2)]
        want = set() if solved else expected_unsolved
        assert [failed(r) for r in reports] == [want, want], (err1, err2)
        # One of them waited for the other and said so, naming what it waited for.
        assert "waiting for instance" in err1 + err2
        assert "a check (pid" in err1 + err2
    assert not (running.instance.folder / "probes.json").exists()


def test_a_check_killed_at_random_moments_leaves_no_probe_behind(boot_lab):
    running = boot_lab(LAB)
    name = running.instance.name
    operations.solve(name, SilentProgress())
    before = originated(running)
    # Kill moments spread over a whole check's run on this machine, however fast it is here.
    began = time.monotonic()
    assert report_of(cli("check", name, "--json").stdout)["points"] > 0
    duration = time.monotonic() - began
    rng = random.Random(14)
    kills = 0
    journal_seen = 0
    for _ in range(5):
        proc = start("check", name, "--json")
        delay = rng.uniform(0.15, 0.85) * duration
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate()
        journal_seen += (running.instance.folder / "probes.json").exists()
        after = cli("check", name, "--json")
        report = report_of(after.stdout)
        assert report["points"] == report["max_points"], after.stderr
        assert originated(running) == before
        assert not (running.instance.folder / "probes.json").exists()
    assert kills >= 3
    assert journal_seen >= 1  # at least one kill did leave probes for the next check to undo


def test_status_withdraws_what_a_killed_check_left(boot_lab):
    running = boot_lab(LAB)
    name = running.instance.name
    before = originated(running)
    for _ in range(20):  # until a kill lands while a probe is out
        proc = start("check", name, "--json")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            if (running.instance.folder / "probes.json").exists() and '"prefix"' in (
                running.instance.folder / "probes.json"
            ).read_text():
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if (running.instance.folder / "probes.json").exists():
            break
    journal = json.loads((running.instance.folder / "probes.json").read_text())
    assert journal["probes"]
    assert cli("status", name).returncode == 0
    assert not (running.instance.folder / "probes.json").exists()
    assert originated(running) == before


def test_doctor_deletes_nothing_of_foreign_files_or_another_roots_lab(tmp_path: Path, monkeypatch):
    ours = Path(os.environ[STATE_ENV]) / "doctor-root"
    ours.mkdir(parents=True, exist_ok=True)
    other_root = f"{os.environ[STATE_ENV]}-other"
    # What someone else keeps in the same folder:
    (ours / "notes").mkdir(exist_ok=True)
    (ours / "notes" / "todo.txt").write_text("mine\n")
    (ours / "readme.txt").write_text("not a lab\n")
    (ours / "lookalike.lock").write_text("someone else's lock\n")
    fake = ours / "t-fake"
    fake.mkdir(exist_ok=True)
    (fake / "instance.json").write_text(json.dumps({"name": "t-fake", "root": "/elsewhere"}))
    before = sorted(str(p) for p in ours.rglob("*"))
    name = unique_instance("foreign")
    monkeypatch.setenv(STATE_ENV, other_root)
    operations.up(LAB, SilentProgress(), instance=name)
    try:
        monkeypatch.chdir(ours.parent)
        for root in (str(ours), ours.name):  # absolute, and relative to the current folder
            monkeypatch.setenv(STATE_ENV, root)
            report = doctor.examine()
            assert report.clean, report
            assert not report.processes
            assert {netns_name(name, n) for n in NODES} <= set(report.foreign)
            done = cli("doctor", root=root)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "not touched" in done.stdout
        # A broad root (here: /run, where every state root lives) holds no instance of its
        # own: nothing in it, no process and no namespace is a leftover (looked at, not fixed).
        monkeypatch.setenv(STATE_ENV, "/run")
        broad = doctor.examine()
        assert broad.clean, broad
        assert not broad.processes
        assert not broad.namespaces
        assert not broad.stale_instances
        monkeypatch.setenv(STATE_ENV, str(ours))
        assert sorted(str(p) for p in ours.rglob("*")) == before
        monkeypatch.setenv(STATE_ENV, other_root)
        _, nodes = operations.status(name)
        assert all(n.running for n in nodes)
    finally:
        monkeypatch.setenv(STATE_ENV, other_root)
        operations.down(name, SilentProgress())
    assert leftovers(name, NODES) == []


def test_doctor_removes_an_interrupted_up_of_its_own_root():
    name = unique_instance("crash")
    proc = start("up", LAB, "--instance", name)
    folder = Path(os.environ[STATE_ENV]) / name
    deadline = time.monotonic() + 20
    while not any(ns.startswith(f"ml-{name}--") for ns in existing_namespaces()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)  # daemons starting
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert folder.exists()
    report = doctor.examine()
    assert name in report.stale_instances
    doctor.fix(report)
    assert leftovers(name, NODES) == []
    assert not (folder.parent / f"{name}.lock").exists()


def test_the_same_name_in_two_roots_at_once_one_up_wins_and_keeps_its_lab():
    name = unique_instance("race")
    roots = [f"{os.environ[STATE_ENV]}-race-a", f"{os.environ[STATE_ENV]}-race-b"]
    procs = [start("up", LAB, "--instance", name, root=r) for r in roots]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 2], outs
    winner = roots[codes.index(0)]
    loser_err = outs[codes.index(2)][1]
    assert "exists already" in loser_err
    assert "doctor --fix" not in loser_err
    status = cli("status", name, root=winner)
    assert status.returncode == 0, status.stdout + status.stderr
    assert cli("down", name, root=winner).returncode == 0
    assert leftovers(name, NODES) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["down", "../other/state/x"], "instance name '../other/state/x'"),
        (["up", LAB, "--instance", ""], "instance name ''"),
        (["up", LAB, "--instance", "a/b"], "instance name 'a/b'"),
        (["check", "UPPER"], "instance name 'UPPER'"),
        (["status", "x--y"], "instance name 'x--y'"),
    ],
)
def test_bad_instance_names_are_refused_by_every_command(args: list[str], message: str):
    done = cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_check_of_an_unknown_task_is_a_named_error(boot_lab):
    running = boot_lab(LAB)
    done = cli("check", running.instance.name, "--task", "nosuch", "--json")
    assert done.returncode == 2
    assert "no task 'nosuch'" in done.stderr
    assert done.stdout == ""


def test_six_concurrent_roa_adds_keep_all_six(boot_lab):
    running = boot_lab("roa-publishing")
    name = running.instance.name
    before = {(v.prefix, v.max_length, v.asn) for v in running.rtr("rpki").vrps()}
    adds = [
        ("198.18.0.0/24", 24),
        ("198.18.0.0/25", 25),
        ("198.18.0.128/25", 26),
        ("198.18.0.0/26", 28),
        ("2001:db8::/48", 48),
        ("2001:db8::/56", 64),
    ]
    procs = [start("roa", "-i", name, "add", p, "--max-length", str(m)) for p, m in adds]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outs
    assert not any("Traceback" in err for _, err in outs)
    assert any("waiting for instance" in err for _, err in outs)
    published = {(v.prefix, v.max_length, v.asn) for v in running.rtr("rpki").vrps()}
    assert published == before | {(p, m, 64500) for p, m in adds}
    leftover_tmp = list((running.instance.folder / "rpki").glob(".vrps*"))
    assert leftover_tmp == []
