"""A router's console in a JupyterLab terminal, and the terminal's shell.

JupyterLab's terminals run `python -m manrs_lab.notebook.console` (the server's
`terminado_settings`, set by `scripts/serve-notebooks.sh` and the lab image). Started in a
folder that holds a console request (`.manrs-console.json`, written by the panel's console
button: lab instance, node, state folder; names only, validated, never a command), it opens
that node's console (vtysh, birdc, or a shell in the node) and, when the learner leaves it, a
shell in the notebook's folder. Anywhere else it is the learner's shell, with the virtualenv
that runs the labs first on PATH (so `manrs-lab` is there, as hints and messages say).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from manrs_lab.errors import LabError
from manrs_lab.instance import validate_instance_name
from manrs_lab.paths import STATE_ENV

REQUEST = ".manrs-console.json"
ROOT_ENV = "MANRS_LAB_JUPYTER_ROOT"  # the Jupyter server's root folder (terminal cwd base)
CONSOLES_DIR = "consoles"
_NODE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
TOOLS = {"frr": ["vtysh"], "bird": ["birdc"]}
SHELL = ["bash", "-i"]  # hosts and RTR caches: an interactive shell (its prompt names the node)


@dataclass(frozen=True)
class ConsoleRequest:
    instance: str
    node: str
    role: str
    state_dir: str
    home: str  # the notebook's folder: where the shell after the console starts

    def argv(self) -> list[str]:
        tool = TOOLS.get(self.role, SHELL)
        cli = Path(sys.executable).parent / "manrs-lab"
        return [str(cli), "exec", "-i", self.instance, self.node, "--", *tool]


def terminal_name(instance: str, node: str) -> str:
    """Jupyter terminal names are `\\w+` (its URL patterns)."""
    return re.sub(r"\W", "_", f"{instance}__{node}")


def write_request(notebook_dir: Path, request: ConsoleRequest) -> Path:
    """The folder a console terminal starts in (it holds the request)."""
    name = terminal_name(request.instance, request.node)
    folder = notebook_dir / ".manrs-lab" / CONSOLES_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{REQUEST}.tmp"
    tmp.write_text(json.dumps(request.__dict__))
    tmp.replace(folder / REQUEST)
    return folder


def server_relative(folder: Path) -> str | None:
    """`folder` relative to the Jupyter server's root (what a terminal's `cwd` is), or None."""
    roots = [os.environ.get(ROOT_ENV), str(Path.home())]
    for root in roots:
        if not root:
            continue
        try:
            return folder.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            continue
    return None


def read_request(folder: Path) -> ConsoleRequest | None:
    path = folder / REQUEST
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_uid != os.geteuid():
            return None
        data = json.loads(path.read_text())
        request = ConsoleRequest(**{k: str(data[k]) for k in ConsoleRequest.__dataclass_fields__})
        validate_instance_name(request.instance)
    except (OSError, ValueError, KeyError, TypeError, LabError):
        return None
    if not _NODE.match(request.node) or not Path(request.state_dir).is_absolute():
        return None
    return request


def shell_argv() -> list[str]:
    shell = os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"
    # Interactive, not a login shell: /etc/profile would reset PATH.
    return [shell, "-i"] if Path(shell).name in ("bash", "zsh", "sh", "dash") else [shell]


def main() -> int:
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if venv_bin not in path.split(os.pathsep):
        os.environ["PATH"] = f"{venv_bin}{os.pathsep}{path}"
    request = read_request(Path.cwd())
    if request is not None:
        env = dict(os.environ, **{STATE_ENV: request.state_dir})
        tool = " ".join(TOOLS.get(request.role, SHELL))
        print(f"manrs-lab: {request.node}'s console ({tool}) in lab instance {request.instance}.")
        print(f"Leave it with `exit`; then `manrs-lab exec -i {request.instance} {request.node}`")
        print("opens it again.\n", flush=True)
        subprocess.call(request.argv(), env=env)
        os.environ[STATE_ENV] = request.state_dir
        home = Path(request.home)
        if home.is_dir():
            os.chdir(home)
    argv = shell_argv()
    os.execvp(argv[0], argv)  # noqa: S606 - the learner's own shell
    return 1


if __name__ == "__main__":
    sys.exit(main())
