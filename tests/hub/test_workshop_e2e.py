"""The workshop, end to end: real JupyterHub, configurable-http-proxy, DockerSpawner and one
container of the lab image per learner (deploy/jupyterhub/start.sh, as an instructor runs it).

An instructor signs up and approves three learners (NativeAuthenticator). Each learner logs in
and gets their own server; alice works in headless Chromium (the notebook's panel starts the
lab, she presses Check), bob and carol in JupyterLab terminals (bob solves and checks, carol only
starts). The instructor's class view, read through the hub, shows the three with the right
verdicts, grades carol's live lab on demand (the open page updates by itself), exports a CSV.
Learners are refused the class view and each other's servers, and from inside a learner's
container the other learners' labs, processes, files and containers, the Docker socket and
the hub's database are out of reach. Takes about two minutes; skips only where Docker is unusable.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hub_support import CHP, REPO, Hub, Person, Terminal, run

from manrs_lab.spec.loader import load_lab

pytestmark = [pytest.mark.docker]
LAB = "customer-filtering"
NOTEBOOK = "02-customer-filtering.ipynb"
CAPS = {"NET_ADMIN", "NET_RAW", "SYS_ADMIN"}
CHROMIUM = Path("/usr/bin/chromium")
# As tests/notebooks/test_browser.py drives Debian's Chromium.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts"
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    from clab_support import ensure_images  # noqa: PLC0415  (skips where Docker is unusable)

    ensure_images("lab")
    if not CHP.exists():
        pytest.fail(f"configurable-http-proxy is missing ({CHP}): ./install.sh --no-run --workshop")
    h = Hub(prefix=f"mlhub{secrets.token_hex(3)}", state=tmp_path_factory.mktemp("hub") / "state")
    h.extra_env["MANRS_CLASS_STUCK_MINUTES"] = "0.05"  # "stuck" after 3 s of failing
    try:
        h.start()
        yield h
    finally:
        problems = h.stop()
        print(f"\nhub log tail:\n{h.tail(15)}")
        assert not problems, problems


def wait_for(what: str, probe: Any, timeout: float = 90, every: float = 1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def class_view(person: Person, hub: Hub) -> requests.Response:
    return person.s.get(f"{hub.url}/services/class-view/api/class", timeout=30)


def verdicts(snapshot: dict[str, Any], user: str) -> dict[str, dict[str, str | None]]:
    """instance -> task -> verdict, for one learner."""
    row = next((r for r in snapshot["learners"] if r["user"] == user), None)
    if row is None:
        return {}
    return {lab["instance"]: {t["id"]: t["verdict"] for t in lab["tasks"]} for lab in row["labs"]}


def browser_learner(hub: Hub, alice: Person, lab_tasks: int, total: int, tmp: Path) -> None:
    """alice: logs in in Chromium, runs the notebook's setup cell (the lab starts), Check."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the notebook extra")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp / "chromium-alice"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"{hub.url}/hub/login")
            page.fill("input[name=username]", alice.name)
            page.fill("input[name=password]", alice.password)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url(re.compile(r"/user/alice/"))
            page.goto(f"{hub.url}/user/alice/lab/tree/notebooks/{NOTEBOOK}")
            page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for()
            setup = page.locator(".jp-CodeCell", has_text="lab.panel()").first
            prompt = setup.locator(".jp-InputPrompt")
            for _ in range(10):
                setup.locator(".jp-InputArea-editor").click()
                page.keyboard.press("Shift+Enter")
                try:
                    prompt.filter(has_text=re.compile(r"\[(\*|\d+)\]")).wait_for(timeout=5_000)
                    break
                except sync_api.TimeoutError:
                    continue
            panel = page.locator(".manrs-lab-panel")
            panel.locator(".manrs-phase[data-phase='running']").wait_for()
            panel.locator("button", has_text="Check").click()
            score = panel.locator(".manrs-results .manrs-score")
            score.wait_for()
            assert score.inner_text() == f"0/{total}"
            assert panel.locator(".manrs-task").count() == lab_tasks
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "hub-alice-failure.png"), full_page=True)
            raise
        finally:
            context.close()


def test_three_learners_and_the_class_view(hub: Hub, tmp_path: Path):
    if not CHROMIUM.exists():
        pytest.fail("needs Debian's chromium (apt-get install chromium; ./test.sh installs it)")
    lab = load_lab(LAB)
    tasks = [t.id for t in lab.spec.tasks]
    total = sum(t.points for t in lab.spec.tasks)
    t0 = time.monotonic()

    # -- sign-up with approval ---------------------------------------------------------------------
    teacher = Person(hub, hub.instructor)
    assert "successful" in teacher.signup()  # an instructor needs no approval
    assert teacher.login().status_code == 302
    learners = {n: Person(hub, n) for n in ("alice", "bob", "carol")}
    for p in learners.values():
        assert "sent to the admin" in p.signup()
        refused = p.login()
        assert refused.status_code != 302, f"{p.name} logged in before an instructor approved"
    bob = learners["bob"]
    # a learner cannot approve anyone (bob has no session yet; after approval he has one)
    approvals = teacher.s.get(f"{hub.url}/hub/authorize", timeout=20)
    assert approvals.status_code == 200
    assert all(n in approvals.text for n in learners)
    for name in learners:
        r = teacher.s.get(f"{hub.url}/hub/authorize/{name}", timeout=20)
        assert r.status_code == 200, r.text
    for p in learners.values():
        assert p.login().status_code == 302, f"{p.name} cannot log in after approval"
    r = bob.s.get(f"{hub.url}/hub/authorize/carol", timeout=20, allow_redirects=False)
    assert r.status_code == 403, "a learner reached the approval page"

    # -- three servers, one container each ---------------------------------------------------------
    for p in learners.values():
        p.request_server()
    for p in learners.values():
        p.wait_server()
    t_spawn = time.monotonic() - t0
    containers = {}
    for name in learners:
        out = run(["docker", "inspect", f"{hub.prefix}-{name}"])
        assert out.returncode == 0, out.stderr
        containers[name] = json.loads(out.stdout)[0]
    for name, info in containers.items():
        host = info["HostConfig"]
        assert host["Privileged"] is False
        assert {c.removeprefix("CAP_") for c in host["CapAdd"]} == CAPS
        assert host["Memory"] == 1024**3
        cpus = host["NanoCpus"] / 1e9 or host["CpuQuota"] / (host["CpuPeriod"] or 100_000)
        assert cpus == 1.0, host
        assert host["PidsLimit"]
        assert host["PidsLimit"] > 0
        assert "no-new-privileges:true" in host["SecurityOpt"]
        mounts = info["Mounts"]
        assert [(m["Type"], m.get("Name"), m["Destination"]) for m in mounts] == [
            ("volume", f"{hub.prefix}-{name}", "/home/learner/work")
        ], mounts
        assert list(info["NetworkSettings"]["Networks"]) == [hub.network]
    ips = {
        n: c["NetworkSettings"]["Networks"][hub.network]["IPAddress"] for n, c in containers.items()
    }

    # -- each learner starts a lab and checks it ---------------------------------------------------
    terms = {n: learners[n].terminal() for n in ("bob", "carol")}
    code, out = terms["bob"].run(
        f"manrs-lab up {LAB} --instance bob-lab && manrs-lab solve bob-lab"
        " && manrs-lab check bob-lab"
    )
    assert code == 0, out
    assert f"score {total}/{total}" in out, out
    code, out = terms["carol"].run(
        f"manrs-lab up {LAB} --instance carol-lab && echo carol-was-here > ~/work/carol-secret.txt"
        " || echo carol-was-here > /home/learner/work/carol-secret.txt"
    )
    assert code == 0, out
    browser_learner(hub, learners["alice"], len(tasks), total, tmp_path)
    t_labs = time.monotonic() - t0

    # -- the class view: instructors only ----------------------------------------------------------
    page = teacher.s.get(f"{hub.url}/services/class-view/", timeout=30)  # OAuth with the hub
    assert page.status_code == 200
    assert "Class view" in page.text
    for p in learners.values():
        r = p.s.get(f"{hub.url}/services/class-view/", timeout=30)
        assert r.status_code == 403, f"{p.name} reached the class view ({r.status_code})"
        r = requests.get(
            f"{hub.url}/services/class-view/api/class",
            headers={"Authorization": f"token {p.token()}"},
            timeout=30,
        )
        assert r.status_code == 403, f"{p.name}'s token reached the class API"

    def want(snapshot: dict[str, Any]) -> bool:
        return (
            verdicts(snapshot, "alice").get(LAB) == dict.fromkeys(tasks, "fail")
            and verdicts(snapshot, "bob").get("bob-lab") == dict.fromkeys(tasks, "pass")
            and verdicts(snapshot, "carol").get("carol-lab") == dict.fromkeys(tasks, None)
        )

    def shown() -> dict[str, Any] | None:
        snapshot: dict[str, Any] = class_view(teacher, hub).json()
        return snapshot if want(snapshot) else None

    snap = wait_for("the class view to show the three", shown)
    rows = {r["user"]: r for r in snap["learners"]}
    assert set(rows) == set(learners), "the instructor is listed as a learner, or one is missing"
    assert all(r["server"] == "ready" for r in rows.values())
    bob_lab = rows["bob"]["labs"][0]
    assert (bob_lab["state"], bob_lab["points"], bob_lab["max_points"]) == ("running", total, total)

    # -- live page, grade on demand, CSV -----------------------------------------------------------
    xsrf = json.loads(re.search(r"XSRF = (\"[^\"]*\")", page.text).group(1))  # type: ignore[union-attr]
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-teacher"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 520},
        )
        view = context.new_page()
        view.set_default_timeout(TIMEOUT_MS)
        view.goto(f"{hub.url}/hub/login?next=/services/class-view/")
        view.fill("input[name=username]", teacher.name)
        view.fill("input[name=password]", teacher.password)
        view.click("input[type=submit], button[type=submit]")
        try:
            view.wait_for_url(f"{hub.url}/services/class-view/")
            check_live_page(view, terms["carol"], tasks=tasks, total=total)
        except Exception:
            view.screenshot(path=str(ARTIFACTS / "class-view-failure.png"), full_page=True)
            raise
        finally:
            context.close()
    # without the page's xsrf token a cookie POST is refused
    r = teacher.s.post(
        f"{hub.url}/services/class-view/api/grade",
        json={"user": "carol", "instance": "carol-lab"},
        timeout=60,
    )
    assert r.status_code == 403
    r = teacher.s.post(
        f"{hub.url}/services/class-view/api/grade",
        json={"user": "alice", "instance": LAB},
        headers={"X-XSRFToken": xsrf},
        timeout=300,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["points"], r.json()["max_points"]) == (0, total)
    table = list(
        csv.DictReader(io.StringIO(teacher.s.get(f"{hub.url}/services/class-view/class.csv").text))
    )
    got = {(row["learner"], row["instance"], row["task"]): row["verdict"] for row in table}
    for task in tasks:
        assert got[("alice", LAB, task)] == "fail"
        assert got[("bob", "bob-lab", task)] == "pass"
        assert got[("carol", "carol-lab", task)] == "pass"

    # -- learners are refused each other's servers -------------------------------------------------
    for path in ("/user/alice/api/contents", "/user/alice/manrs-lab/api/labs"):
        r = bob.server("GET", path, allow_redirects=False)
        assert r.status_code in (403, 404), f"bob reached {path}: {r.status_code}"
    r = bob.server("POST", "/user/carol/manrs-lab/api/labs/carol-lab/check", allow_redirects=False)
    assert r.status_code in (403, 404)

    # -- isolation, from inside bob's container ----------------------------------------------------
    term = terms["bob"]
    code, out = term.run("ip netns list | sort; ls -a /run/manrs-lab; ps -eo args")
    assert code == 0, out
    assert "ml-bob-lab--" in out
    for other in ("carol-lab", f"ml-{LAB}--", "alice"):
        assert other not in out, f"bob sees {other}:\n{out}"
    code, out = term.run(
        "find / -xdev -name carol-secret.txt 2>/dev/null; ls /home;"
        " ls -la /var/run/docker.sock /run/docker.sock 2>&1;"
        f" ls {hub.state} 2>&1; ls / | tr '\\n' ' '"
    )
    assert "carol-secret.txt" not in out.replace("-name carol-secret.txt", "")
    assert out.count("No such file or directory") >= 3, out
    probe = (
        "import json, os, socket, sys, urllib.request, urllib.error\n"
        "def tcp(h, p):\n"
        "    try:\n"
        "        socket.create_connection((h, p), timeout=3).close(); return 'open'\n"
        "    except OSError as e: return type(e).__name__\n"
        "gw = os.environ['JUPYTERHUB_API_URL'].split('/')[2].split(':')[0]\n"
        "out = {name: tcp(ip, 8888) for name, ip in json.loads(sys.argv[1]).items()}\n"
        f"out['proxy-api'] = tcp(gw, {hub.proxy_api_port})\n"
        f"out['class-view'] = tcp(gw, {hub.class_port})\n"
        "req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/users',\n"
        "    headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})\n"
        "try:\n"
        "    urllib.request.urlopen(req, timeout=5); out['hub-users'] = 200\n"
        "except urllib.error.HTTPError as e: out['hub-users'] = e.code\n"
        "print('RESULT=' + json.dumps(out))\n"
    )
    others = {n: ip for n, ip in ips.items() if n != "bob"}
    code, out = term.run(
        f"python3 -c {shlex_quote(probe)} {shlex_quote(json.dumps(others))}", timeout=60
    )
    match = re.search(r"RESULT=(\{.*\})", out)
    assert match, out
    reach = json.loads(match.group(1))
    for target in ("alice", "carol", "proxy-api", "class-view"):
        assert reach[target] != "open", reach
    assert reach["hub-users"] == 403, reach
    for t in terms.values():
        t.close()
    print(
        f"\nworkshop e2e: 3 servers ready {t_spawn:.0f}s after sign-up began, "
        f"labs checked at {t_labs:.0f}s, done at {time.monotonic() - t0:.0f}s"
    )
    shutil.copy(ARTIFACTS / "class-view.png", tmp_path / "class-view.png")


def check_live_page(view: Any, carol: Terminal, *, tasks: list[str], total: int) -> None:
    """The instructor's open page: the three learners' verdicts; "grade now" on carol's live
    lab; then carol solves and checks in her terminal and the page shows it without a reload."""
    carol_row = view.locator("tr[data-user='carol']")
    carol_row.locator("button", has_text="grade now").wait_for()
    assert view.locator("tr[data-user='bob'] .task.pass").count() == len(tasks)
    assert view.locator("tr[data-user='alice'] .task.fail").count() == len(tasks)
    assert carol_row.locator(".task.none").count() == len(tasks)
    carol_row.locator("button", has_text="grade now").click()
    carol_row.locator(".graded", has_text=f"graded 0/{total}").wait_for()  # the check's result
    carol_row.locator(".task.fail").nth(len(tasks) - 1).wait_for()
    code, out = carol.run("manrs-lab solve carol-lab && manrs-lab check carol-lab")
    assert code == 0, out
    carol_row.locator(".task.pass").nth(len(tasks) - 1).wait_for()  # no reload: live
    assert carol_row.locator(".task.fail").count() == 0
    # alice has failed every task for longer than the (test's) stuck time; bob and carol passed
    view.locator("tr[data-user='alice'] .badge.stuck").wait_for()
    assert view.locator("tr[data-user='alice'] .task.stuck").count() == len(tasks)
    assert (
        view.locator("tr[data-user='bob'] .badge.stuck, tr[data-user='carol'] .badge.stuck").count()
        == 0
    )
    view.screenshot(path=str(ARTIFACTS / "class-view.png"), full_page=True)


def shlex_quote(s: str) -> str:
    import shlex  # noqa: PLC0415

    return shlex.quote(s)
