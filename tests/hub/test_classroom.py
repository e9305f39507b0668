"""The class view's pieces without a hub: verdict records, the learner-side API in a real
Jupyter server (with a real lab and a real check), and what the class view computes from them.
The whole workshop, hub and containers included, is test_workshop_e2e.py.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from manrs_lab.classroom import record as rec
from manrs_lab.classroom.labs import lab_states
from manrs_lab.grader.report import CheckResult, GradeReport, TaskResult
from manrs_lab.spec.loader import load_lab

LAB = "customer-filtering"


def report(instance: str, verdicts: dict[str, bool], lab: str = LAB) -> GradeReport:
    spec = {t.id: t for t in load_lab(lab).spec.tasks}
    tasks = [
        TaskResult(t, spec[t].title, ok, spec[t].points if ok else 0, spec[t].points, None)
        for t, ok in verdicts.items()
    ]
    checks = [
        CheckResult(f"c-{t}", f"check of {t}", t, ok, False, "", "", 0.1)
        for t, ok in verdicts.items()
    ]
    return GradeReport(lab, instance, 1, 1.0, tasks, checks)


@pytest.fixture
def verdicts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "verdicts"
    monkeypatch.setenv(rec.VERDICTS_ENV, str(folder))
    return folder


def test_record_keeps_when_a_task_started_failing(verdicts_dir: Path):
    rec.record(report("cf", {"filter-cust1": False, "filter-cust2": False}), now=100)
    rec.record(report("cf", {"filter-cust1": False, "filter-cust2": True}), now=200)
    rec.record(report("cf", {"filter-cust1": False}), now=300)  # one task only
    doc = rec.read_all()["cf"]
    one, two = doc["tasks"]["filter-cust1"], doc["tasks"]["filter-cust2"]
    assert (one["passed"], one["at"], one["failing_since"], one["failed_in_a_row"]) == (
        False,
        300,
        100,
        3,
    )
    assert one["failed_checks"] == ["check of filter-cust1"]
    # cust2 passed at 200 and was not graded at 300: its verdict stays
    assert (two["passed"], two["at"], two["failing_since"], two["failed_in_a_row"]) == (
        True,
        200,
        None,
        0,
    )
    assert doc["checks"] == 3
    rec.record(report("cf", {"filter-cust2": False}), now=400)  # fails again: a new streak
    two = rec.read_all()["cf"]["tasks"]["filter-cust2"]
    assert (two["failing_since"], two["failed_in_a_row"]) == (400, 1)


def test_read_all_skips_what_is_not_a_record(verdicts_dir: Path):
    rec.record(report("good", {"filter-cust1": True}), now=1)
    (verdicts_dir / "torn.json").write_text("{not json")
    (verdicts_dir / "list.json").write_text("[1, 2]")
    (verdicts_dir / "Bad Name.json").write_text(json.dumps({"tasks": {}}))
    (verdicts_dir / "huge.json").write_text(json.dumps({"tasks": {}, "x": "y" * 300_000}))
    assert list(rec.read_all()) == ["good"]


def test_lab_states_lists_checked_labs_that_are_down(verdicts_dir: Path):
    rec.record(report("gone", {"filter-cust1": True, "filter-cust2": False}), now=50)
    states = lab_states(now=60)
    (row,) = [r for r in states["labs"] if r["instance"] == "gone"]
    assert row["state"] == "down"
    assert row["lab"] == LAB
    assert [(t["id"], t["verdict"]) for t in row["tasks"]] == [
        ("filter-cust1", "pass"),
        ("filter-cust2", "fail"),
    ]
    assert (row["points"], row["max_points"]) == (2, 5)


def test_class_snapshot_marks_stuck_learners_and_exports_csv():
    pytest.importorskip("jupyterhub", reason="needs the workshop extra")
    from manrs_lab.classroom.service import Learner, Roster, Settings, url_path_join  # noqa: PLC0415

    roster = Roster(
        Settings(
            api_url="http://hub.invalid/hub/api",
            api_token="x",
            proxy_url="http://proxy.invalid",
            stuck_minutes=10,
        )
    )
    now = time.time()

    def task(tid: str, verdict: str | None, since: float | None) -> dict[str, object]:
        return {
            "id": tid,
            "title": tid,
            "max_points": 1,
            "verdict": verdict,
            "points": 0,
            "at": now,
            "failing_since": since,
            "failed_in_a_row": 3,
        }

    lab = {"instance": "cf", "lab": LAB, "state": "running", "checks": 3}
    roster.learners = {
        "ann": Learner(
            "ann",
            "ready",
            "/user/ann/",
            labs=[{**lab, "tasks": [task("a", "fail", now - 11 * 60), task("b", "pass", None)]}],
        ),
        "ben": Learner(
            "ben",
            "ready",
            "/user/ben/",
            labs=[{**lab, "tasks": [task("a", "fail", now - 60), task("b", None, None)]}],
        ),
        "cat": Learner("cat"),
    }
    snap = roster.snapshot()
    rows = {r["user"]: r for r in snap["learners"]}
    assert rows["ann"]["stuck"] is True
    assert rows["ann"]["labs"][0]["stuck"] == ["a"]
    assert rows["ben"]["stuck"] is False  # failing for a minute only
    assert rows["cat"]["labs"] == []
    lines = roster.csv().splitlines()
    assert lines[0].startswith("learner,server,lab,instance,state,task,verdict")
    assert any(
        line.startswith("ann,ready,customer-filtering,cf,running,a,fail") and line.endswith(",yes")
        for line in lines
    )
    assert "cat,stopped,,,,,,,,,," in lines
    assert url_path_join("/user/a b/", "manrs-lab/api", "labs") == "/user/a b/manrs-lab/api/labs"


# -- the learner-side API in a real Jupyter server, on a real lab ------------------------------
@pytest.fixture
def jupyter_server(tmp_path: Path, verdicts_dir: Path) -> Iterator[tuple[str, str]]:
    pytest.importorskip("jupyter_server", reason="needs the notebook extra")
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    home = tmp_path / "jhome"
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "run"),
    )
    argv = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}",
        "--allow-root",
        '--ServerApp.jpserver_extensions={"manrs_lab.classroom": True}',
    ]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/api", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "jupyter server did not start"
            time.sleep(0.3)
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.mark.daemons
def test_server_extension_reads_and_grades_the_live_lab(jupyter_server, boot_lab):
    base, token = jupyter_server
    auth = {"Authorization": f"token {token}"}
    running = boot_lab(LAB)
    name = running.instance.name
    # refused without the server's token, for reading and for grading
    assert requests.get(f"{base}/manrs-lab/api/labs", timeout=10).status_code == 403
    denied = requests.post(f"{base}/manrs-lab/api/labs/{name}/check", timeout=10)
    assert denied.status_code == 403
    wrong = {"Authorization": "token nope"}
    assert requests.get(f"{base}/manrs-lab/api/labs", headers=wrong, timeout=10).status_code == 403

    labs = requests.get(f"{base}/manrs-lab/api/labs", headers=auth, timeout=10).json()["labs"]
    (row,) = [r for r in labs if r["instance"] == name]
    assert row["state"] == "running"
    assert all(t["verdict"] is None for t in row["tasks"])

    r = requests.post(f"{base}/manrs-lab/api/labs/{name}/check", headers=auth, timeout=300)
    assert r.status_code == 200, r.text
    assert (r.json()["points"], r.json()["max_points"]) == (0, 5)  # unsolved
    labs = requests.get(f"{base}/manrs-lab/api/labs", headers=auth, timeout=10).json()["labs"]
    (row,) = [r for r in labs if r["instance"] == name]
    assert [t["verdict"] for t in row["tasks"]] == ["fail", "fail"]
    assert row["checks"] == 1

    # only instances that exist; names are not paths
    for bad in ("no-such-lab", "..%2F..%2Fetc", "UPPER"):
        r = requests.post(f"{base}/manrs-lab/api/labs/{bad}/check", headers=auth, timeout=10)
        assert r.status_code == 404, (bad, r.status_code)


def test_nothing_is_recorded_outside_a_workshop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """One learner's machine, the CLI, the tests' state roots: no verdict files anywhere."""
    monkeypatch.delenv(rec.VERDICTS_ENV, raising=False)
    monkeypatch.setenv("MANRS_LAB_STATE_DIR", str(tmp_path / "state"))
    assert rec.record(report("cf", {"filter-cust1": False}), now=1) is None
    assert rec.read_all() == {}
    assert not (tmp_path / "state").exists()
