"""A real workshop hub for the tests: deploy/jupyterhub/start.sh with its own ports, network,
container and volume names, state folder; and clients that use it the way people do (sign-up
and login forms, the hub's REST API, Jupyter terminals over a websocket).

Everything the hub creates is named `<prefix>-...` and removed afterwards, whatever the outcome.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
START = REPO / "deploy" / "jupyterhub" / "start.sh"
CHP = REPO / ".venv" / "hub-node" / "node_modules" / ".bin" / "configurable-http-proxy"
sys.path.insert(0, str(REPO / "tests" / "containers"))
from clab_support import LAB_IMAGE, run  # noqa: E402

XSRF_RE = re.compile(r'name="_xsrf" value="([^"]+)"')
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
DONE_RE = re.compile(r"__DONE_(\d+)__")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hub:
    prefix: str
    state: Path
    instructor: str = "teacher"
    port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    proxy_api_port: int = field(default_factory=free_port)
    class_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def network(self) -> str:
        return f"{self.prefix}-net"

    @property
    def log(self) -> Path:
        return self.state.parent / f"{self.prefix}-hub.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            MANRS_HUB_STATE=str(self.state),
            MANRS_HUB_IP="127.0.0.1",
            MANRS_HUB_PORT=str(self.port),
            MANRS_HUB_API_PORT=str(self.api_port),
            MANRS_HUB_PROXY_API_PORT=str(self.proxy_api_port),
            MANRS_CLASS_PORT=str(self.class_port),
            MANRS_HUB_NETWORK=self.network,
            MANRS_HUB_PREFIX=self.prefix,
            MANRS_HUB_IMAGE=LAB_IMAGE,
            MANRS_HUB_INSTRUCTORS=self.instructor,
            MANRS_HUB_MEM="1G",
            MANRS_CLASS_REFRESH="1",
            VENV=str(Path(sys.executable).parent.parent),
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            ["bash", str(START)],
            env=self.env(),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                r = requests.get(f"{self.url}/hub/api/", timeout=2)
                if r.status_code == 200:
                    # the class view's route too (added once the service answers)
                    r = requests.get(f"{self.url}/services/class-view/", timeout=2,
                                     allow_redirects=False)  # fmt: skip
                    if r.status_code in (302, 403):
                        return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the hub did not answer in {timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.5)

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> list[str]:
        """Stop the hub (it stops the learners' servers), then remove whatever is left."""
        problems: list[str] = []
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                problems.append("the hub did not stop on SIGTERM in 90 s")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
        left = [n for n in names if n.startswith(f"{self.prefix}-")]
        if left:
            problems.append(f"containers left after the hub stopped: {left}")
            run(["docker", "rm", "-f", "-v", *left], timeout=120)
        vols = run(["docker", "volume", "ls", "-q", "--filter", f"name={self.prefix}-"]).stdout
        for vol in vols.split():
            if vol.startswith(f"{self.prefix}-"):
                run(["docker", "volume", "rm", "-f", vol])
        run(["docker", "network", "rm", self.network])
        return problems


class Person:
    """Someone with a browser-like session on the hub (cookies, the forms' xsrf tokens)."""

    def __init__(self, hub: Hub, name: str, password: str | None = None) -> None:
        self.hub = hub
        self.name = name
        self.password = password or f"pw-{secrets.token_hex(8)}"
        self.s = requests.Session()
        self._token: str | None = None

    def _form(self, path: str) -> str:
        r = self.s.get(f"{self.hub.url}{path}", timeout=10)
        r.raise_for_status()
        match = XSRF_RE.search(r.text)
        assert match, f"no _xsrf in {path}"
        return match.group(1)

    def signup(self) -> str:
        xsrf = self._form("/hub/signup")
        r = self.s.post(
            f"{self.hub.url}/hub/signup",
            data={
                "username": self.name,
                "signup_password": self.password,
                "signup_password_confirmation": self.password,
                "_xsrf": xsrf,
            },
            timeout=20,
        )
        r.raise_for_status()
        return r.text

    def login(self) -> requests.Response:
        xsrf = self._form("/hub/login")
        return self.s.post(
            f"{self.hub.url}/hub/login",
            data={"username": self.name, "password": self.password, "_xsrf": xsrf},
            timeout=20,
            allow_redirects=False,
        )

    def xsrf(self) -> str:
        for cookie in self.s.cookies:
            if cookie.name == "_xsrf" and cookie.path.startswith("/hub"):
                return str(cookie.value)
        raise AssertionError("no hub _xsrf cookie: log in first")

    def hub_api(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"X-XSRFToken": self.xsrf(), **kw.pop("headers", {})}
        return self.s.request(
            method, f"{self.hub.url}/hub/api{path}", headers=headers, timeout=30, **kw
        )

    def token(self) -> str:
        if self._token is None:
            r = self.hub_api("POST", f"/users/{self.name}/tokens", json={"note": "tests"})
            assert r.status_code == 201, r.text
            self._token = str(r.json()["token"])
        return self._token

    def request_server(self) -> None:
        r = self.hub_api("POST", f"/users/{self.name}/server")
        assert r.status_code in (201, 202), f"{r.status_code} {r.text}\n{self.hub.tail()}"

    def start_server(self, timeout: float = 180) -> None:
        self.request_server()
        self.wait_server(timeout)

    def wait_server(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            model = self.hub_api("GET", f"/users/{self.name}").json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}'s server not ready:\n{self.hub.tail()}")
            time.sleep(1)

    def server(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        """A request to a single-user server's URL, with this person's (or another) token."""
        headers = {"Authorization": f"token {token or self.token()}", **kw.pop("headers", {})}
        return requests.request(
            method, f"{self.hub.url}{path}", headers=headers, timeout=kw.pop("timeout", 60), **kw
        )

    def terminal(self) -> Terminal:
        r = self.server("POST", f"/user/{self.name}/api/terminals")
        assert r.status_code == 200, r.text
        return Terminal(self, str(r.json()["name"]))


class Terminal:
    """A JupyterLab terminal in the learner's server (what a learner types into)."""

    def __init__(self, person: Person, name: str) -> None:
        import websocket  # noqa: PLC0415  (websocket-client: a Jupyter dependency)

        url = person.hub.url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{url}/user/{person.name}/terminals/websocket/{name}",
            header=[f"Authorization: token {person.token()}"],
            timeout=10,
        )
        self.person = person
        self.name = name

    def run(self, command: str, timeout: float = 300) -> tuple[int, str]:
        """Type `command`, wait for its exit code; (code, output without the terminal noise)."""
        import websocket  # noqa: PLC0415

        marker = secrets.token_hex(4)
        self.ws.send(json.dumps(["stdin", f"{command}; echo __DONE_$?__{marker}\r"]))
        out = ""
        deadline = time.monotonic() + timeout
        pattern = re.compile(r"__DONE_(\d+)__" + marker)
        while time.monotonic() < deadline:
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if msg[0] == "stdout":
                out += msg[1]
                clean = ANSI_RE.sub("", out)
                found = pattern.search(clean)
                if found:
                    body = clean[: found.start()]
                    # drop the echoed command line
                    body = body.split(marker, 1)[-1] if marker in body else body
                    return int(found.group(1)), body
        raise AssertionError(
            f"`{command}` did not finish in {timeout:.0f}s:\n{ANSI_RE.sub('', out)}"
        )

    def close(self) -> None:
        self.ws.close()
