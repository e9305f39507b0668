"""Where lab content (labs/, topologies/) and per-instance state live."""

from __future__ import annotations

import os
from pathlib import Path

CONTENT_ENV = "MANRS_LAB_HOME"
STATE_ENV = "MANRS_LAB_STATE_DIR"


def content_root() -> Path:
    """The folder holding `labs/` and `topologies/`.

    `$MANRS_LAB_HOME` wins; otherwise the checkout the package was installed from (editable
    install, `src/` layout), which is how the README installs it.
    """
    env = os.environ.get(CONTENT_ENV)
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "labs").is_dir() and (parent / "topologies").is_dir():
            return parent
    return Path.cwd()


def labs_dir() -> Path:
    return content_root() / "labs"


def topologies_dir() -> Path:
    return content_root() / "topologies"


def state_root() -> Path:
    """Per-instance state (configs, pids, sockets).

    Under /run by default: namespaces and daemons do not survive a reboot, and neither should
    their state. FRR runs as user `frr`, so the folder must be reachable by it (not under /root).
    """
    env = os.environ.get(STATE_ENV)
    return Path(env) if env else Path("/run/manrs-lab")
