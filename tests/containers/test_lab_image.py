"""The all-in-one image (manrs-lab/lab): a whole lab inside one container, and JupyterLab.

Run the way the README tells learners to, with only NET_ADMIN, NET_RAW and SYS_ADMIN (never
--privileged) and JupyterLab's port published on 127.0.0.1 only. Inside, the lab's routers are
network namespaces of the container; nothing leaves it. The container and its volume are
removed afterwards, whatever the outcome.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from clab_support import LAB_IMAGE, ensure_images, run

pytestmark = pytest.mark.docker
LAB = "customer-filtering"
REGISTRY_LAB = "coordination"
CAPS = ("NET_ADMIN", "NET_RAW", "SYS_ADMIN")
SCORE_RE = re.compile(r"score (\d+)/(\d+)")


class LabContainer:
    def __init__(self, name: str, token: str) -> None:
        self.name = name
        self.token = token

    def exec(self, *argv: str, timeout: float = 180) -> tuple[int, str]:
        proc = run(["docker", "exec", self.name, *argv], timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr

    def logs(self) -> str:
        proc = run(["docker", "logs", "--tail", "30", self.name])
        return proc.stdout + proc.stderr


@pytest.fixture
def lab_container() -> Iterator[LabContainer]:
    ensure_images("lab")
    name = f"manrs-lab-test-{secrets.token_hex(3)}"
    token = secrets.token_hex(16)
    argv = ["docker", "run", "-d", "--name", name, "-p", "127.0.0.1::8888"]
    for cap in CAPS:
        argv += ["--cap-add", cap]
    argv += ["-e", f"JUPYTER_TOKEN={token}", LAB_IMAGE]
    try:
        proc = run(argv)
        assert proc.returncode == 0, proc.stderr
        yield LabContainer(name, token)
    finally:
        run(["docker", "rm", "-f", "-v", name], timeout=120)
        assert run(["docker", "container", "inspect", name]).returncode != 0, f"{name} is left"


def score(output: str) -> tuple[int, int]:
    match = SCORE_RE.search(output)
    assert match, output
    return int(match.group(1)), int(match.group(2))


def test_all_in_one_image_runs_a_lab_and_serves_jupyterlab(lab_container: LabContainer):
    c = lab_container
    host = json.loads(run(["docker", "inspect", "-f", "{{json .HostConfig}}", c.name]).stdout)
    assert host["Privileged"] is False
    assert sorted(cap.removeprefix("CAP_") for cap in host["CapAdd"]) == sorted(CAPS)

    t0 = time.monotonic()
    rc, out = c.exec("manrs-lab", "up", LAB)
    assert rc == 0, f"{out}\n{c.logs()}"
    t_up = time.monotonic() - t0
    rc, out = c.exec("manrs-lab", "check")
    assert rc == 1, out  # unsolved: the hijack checks fail
    assert score(out)[0] == 0, out
    rc, out = c.exec("manrs-lab", "solve")
    assert rc == 0, out
    rc, out = c.exec("manrs-lab", "check")
    assert rc == 0, out
    got, most = score(out)
    assert got == most > 0, out
    rc, out = c.exec("manrs-lab", "down", LAB)
    assert rc == 0, out
    t_lab = time.monotonic() - t0

    # A lab with a registry (IRRd, PostgreSQL, Redis in a namespace of the container, linked to
    # the learner's router): whois answers there, the solution's authenticated registry update
    # is graded from the registry, and down removes it all.
    t0 = time.monotonic()
    rc, out = c.exec("manrs-lab", "up", REGISTRY_LAB)
    assert rc == 0, f"{out}\n{c.logs()}"
    t_registry = time.monotonic() - t0
    rc, out = c.exec("manrs-lab", "exec", "edge", "--", "whois", "-h", "169.254.43.2", "AS64500")
    assert rc == 0, out
    assert "aut-num:" in out, out
    rc, out = c.exec("manrs-lab", "check")
    assert rc == 1, out
    assert score(out)[0] == 0, out
    rc, out = c.exec("manrs-lab", "solve")
    assert rc == 0, out
    rc, out = c.exec("manrs-lab", "check")
    assert rc == 0, out
    got, most = score(out)
    assert got == most > 0, out
    rc, out = c.exec("manrs-lab", "down", REGISTRY_LAB)
    assert rc == 0, out
    rc, out = c.exec("ip", "netns", "list")
    assert "mlirr-" not in out, out

    # The lab notebooks are in the learner's folder (the volume), served by JupyterLab.
    rc, out = c.exec("ls", "/home/learner/work/notebooks")
    assert rc == 0, out
    assert any(n.endswith(".ipynb") for n in out.split()), out

    # JupyterLab answers on the published port, on loopback only, and wants the token.
    binding = run(["docker", "port", c.name, "8888/tcp"]).stdout.split()
    assert binding, "port 8888 is not published"
    assert all(b.startswith("127.0.0.1:") for b in binding), binding
    port = int(binding[0].rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api?token={c.token}", timeout=5
            ) as resp:
                api = json.loads(resp.read())
            break
        except (urllib.error.URLError, ConnectionError, json.JSONDecodeError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not answer: {exc}\n{c.logs()}") from exc
            time.sleep(0.5)
    assert "version" in api
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=wrong", timeout=5)
    assert denied.value.code == 403
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/api/contents/notebooks?token={c.token}", timeout=5
    ) as resp:
        listing = json.loads(resp.read())
    assert any(item["name"].endswith(".ipynb") for item in listing["content"])
    print(
        f"\nin the image: up {t_up:.1f}s, up+check+solve+check+down {t_lab:.1f}s, "
        f"{REGISTRY_LAB} up {t_registry:.1f}s"
    )
