"""Serve the lab notebooks with JupyterLab on 127.0.0.1 (`scripts/serve-notebooks.sh`).

    python -m manrs_lab.notebook.serve                 # foreground; Ctrl-C stops it
    python -m manrs_lab.notebook.serve --background    # detached; prints the URL when ready
    python -m manrs_lab.notebook.serve --stop          # stop the detached server

JupyterLab listens on 127.0.0.1 only, with a token in the URL. The labs need root (network
namespaces), so the server, and the kernels it starts, run as the user who starts it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from manrs_lab.instance import pid_alive
from manrs_lab.notebook import console
from manrs_lab.notebook.build import NAME_RE, plan
from manrs_lab.paths import content_root

HOST = "127.0.0.1"
DEFAULT_PORT = 8888
READY_TIMEOUT = 60.0


def state_dir() -> Path:
    """Where the detached server's pid, URL and log live."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "manrs-lab" / "jupyter"


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            bound: int = sock.getsockname()[1]
            return bound
    raise OSError("no free TCP port on 127.0.0.1")


def first_notebook(root: Path) -> str | None:
    names = sorted(p.name for p in root.glob("*.ipynb") if NAME_RE.match(p.name))
    return names[0] if names else None


# JupyterLab settings for the labs: the notebook's kernel starts without asking which one, and
# nothing is fetched from the Internet (no news feed, no update check).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


# nbgrader's instructor tools (Create Assignment, Formgrader, its menu, Validate, the course and
# assignment lists) are for a course's instructor on a course server, not for a learner working
# on a lab: grades come from `manrs_lab.notebook.autograde` on the grading machine.
NBGRADER_LAB_PLUGINS = (
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:menu",
    "@jupyter/nbgrader:validate-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
)
DEFAULT_HIDE_GLOBS = ("__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~")  # jupyter_server's
NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)


def install_config(prefix: Path) -> list[Path]:
    """Write `server_config()` and the lab page config under `prefix` (a Jupyter installation's
    sys.prefix, e.g. /opt/venv in the lab image), where every Jupyter server there reads them
    (the server settings after nbgrader's own config.d file); returns the files written."""
    server = prefix / "etc" / "jupyter" / "jupyter_server_config.d" / "zz-manrs-lab.json"
    page = prefix / "etc" / "jupyter" / "labconfig" / "page_config.json"
    for path, data in (
        (server, server_config()),
        (page, {"disabledExtensions": dict.fromkeys(NBGRADER_LAB_PLUGINS, True)}),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")
    return [server, page]


def server_config() -> dict[str, object]:
    """Jupyter server settings: a terminal runs `manrs_lab.notebook.console` (the learner's
    shell with `manrs-lab` on PATH, or a router's console opened from the panel); nbgrader's
    instructor extensions off."""
    shell = [sys.executable, "-m", "manrs_lab.notebook.console"]
    return {
        "ServerApp": {
            "terminado_settings": {"shell_command": shell},
            "jpserver_extensions": dict.fromkeys(NBGRADER_SERVER_EXTENSIONS, False),
        },
        # notebooks/build.py generates the notebooks: not something a learner opens.
        "ContentsManager": {"hide_globs": [*DEFAULT_HIDE_GLOBS, "build.py"]},
    }


@dataclass(frozen=True)
class Server:
    root: Path
    port: int
    token: str
    settings_dir: Path  # JupyterLab's app settings folder: holds overrides.json

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self) -> str:
        first = first_notebook(self.root)
        path = f"/lab/tree/{first}" if first else "/lab"
        return f"{self.base_url}{path}?token={self.token}"

    def argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--ip={HOST}",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.app_settings_dir={self.settings_dir}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--config={self.config_file}",
        ]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        return argv

    @property
    def config_file(self) -> Path:
        """The server's own settings: terminals run manrs-lab's console shell."""
        return self.settings_dir / "jupyter_server_config.json"

    def write_settings(self) -> None:
        self.settings_dir.mkdir(parents=True, exist_ok=True)
        (self.settings_dir / "overrides.json").write_text(json.dumps(LAB_SETTINGS, indent=2))
        self.config_file.write_text(json.dumps(server_config(), indent=2))
        page = {"disabledExtensions": list(NBGRADER_LAB_PLUGINS)}
        (self.settings_dir / "page_config.json").write_text(json.dumps(page, indent=2))

    def env(self) -> dict[str, str]:
        """The kernels find the virtualenv's tools (nbgrader needs `alembic` on PATH)."""
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env[console.ROOT_ENV] = str(self.root)  # where the panel's console terminals start
        return env

    def ready(self) -> bool:
        url = f"{self.base_url}/api/status?token={self.token}"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - our own URL
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer on {self.base_url} in {timeout} s")
            time.sleep(0.2)


def _warn_stale(root: Path) -> None:
    try:
        built, _ = plan(root, None)
    except Exception as exc:  # a broken lab must not keep the others from being served
        print(f"note: could not check the notebooks against the labs: {exc}", file=sys.stderr)
        return
    missing = [b.path.name for b in built if not b.path.is_file()]
    if missing:
        print(
            f"note: no notebook yet for {', '.join(missing)}: run notebooks/build.py",
            file=sys.stderr,
        )


def trust_shipped(root: Path) -> list[str]:
    """Sign (as `jupyter trust` does) the notebooks in `root` that are byte for byte the ones
    this installation ships, so JupyterLab runs the panel's console buttons without asking;
    anything else (a learner's edited copy) stays as JupyterLab judges it. Returns the names."""
    shipped = content_root() / "notebooks"
    if not shipped.is_dir():
        return []
    import nbformat as _nbformat  # noqa: PLC0415 - the notebook extra
    from nbformat import sign  # noqa: PLC0415

    # nbformat's functions carry no annotations: go through Any.
    nbformat: Any = _nbformat
    notary: Any = cast(Any, sign).NotebookNotary()
    signed = []
    for path in sorted(root.glob("*.ipynb")):
        original = shipped / path.name
        try:
            if not original.is_file() or path.read_bytes() != original.read_bytes():
                continue
            nb = nbformat.read(path, as_version=4)
            if not notary.check_signature(nb):
                notary.sign(nb)
            signed.append(path.name)
        except (OSError, ValueError):
            continue
    return signed


def _banner(server: Server) -> str:
    lines = [
        "",
        f"JupyterLab serves {server.root} on {server.base_url} (this machine only).",
        f"Open: {server.url()}",
    ]
    if os.geteuid() != 0:
        lines.append("warning: the labs need root (network namespaces): run this as root.")
    return "\n".join(lines) + "\n"


def stop() -> int:
    pidfile = state_dir() / "jupyter.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        print("no JupyterLab started with --background is running")
        return 0
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    for name in ("jupyter.pid", "jupyter.url"):
        with contextlib.suppress(FileNotFoundError):
            (state_dir() / name).unlink()
    print(f"stopped JupyterLab (pid {pid})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="serve-notebooks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, default=content_root() / "notebooks")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="another is picked if busy")
    parser.add_argument("--token", default=os.environ.get("MANRS_LAB_NOTEBOOK_TOKEN"))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--background", action="store_true", help="detach; see --stop")
    mode.add_argument("--stop", action="store_true", help="stop the detached server")
    mode.add_argument(
        "--install-config",
        type=Path,
        metavar="PREFIX",
        help="write the Jupyter settings (terminals, nbgrader's instructor tools off) under "
        "PREFIX/etc/jupyter for every server of that installation (the lab image), and exit",
    )
    args = parser.parse_args(argv)
    if args.stop:
        return stop()
    if args.install_config is not None:
        for path in install_config(args.install_config):
            print(f"wrote {path}")
        return 0

    root = args.dir.resolve()
    if not root.is_dir():
        parser.error(f"{root} is not a folder")
    _warn_stale(root)
    trust_shipped(root)
    folder = state_dir()
    server = Server(
        root, free_port(args.port), args.token or secrets.token_hex(24), folder / "lab-settings"
    )
    server.write_settings()
    if not args.background:
        sys.stdout.write(_banner(server) + "Ctrl-C stops it.\n\n")
        sys.stdout.flush()
        os.execve(server.argv()[0], server.argv(), server.env())  # noqa: S606 - no shell wanted

    pidfile = folder / "jupyter.pid"
    with contextlib.suppress(OSError, ValueError):
        old = int(pidfile.read_text().strip())
        if pid_alive(old):
            url = (folder / "jupyter.url").read_text().strip()
            print(f"JupyterLab is already running (pid {old}): {url}")
            return 0
    with (folder / "jupyter.log").open("ab") as log:
        proc = subprocess.Popen(
            server.argv(),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=server.env(),
        )
    pidfile.write_text(f"{proc.pid}\n")
    (folder / "jupyter.url").write_text(server.url() + "\n")
    try:
        server.wait_ready(proc)
    except RuntimeError as exc:
        print(f"error: {exc}; see {folder / 'jupyter.log'}", file=sys.stderr)
        if proc.poll() is None:
            proc.terminate()
        return 1
    sys.stdout.write(_banner(server))
    print(f"Log: {folder / 'jupyter.log'}. Stop it with: scripts/serve-notebooks.sh --stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
