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
    Always absolute (a relative `$MANRS_LAB_STATE_DIR` is resolved from the current folder), so
    records, pid files and `doctor` all name the folder the same way.
    """
    env = os.environ.get(STATE_ENV)
    return Path(env).resolve() if env else Path("/run/manrs-lab")


def config_check_cache() -> Path:
    """Markers of configs whose dry run passed (content-addressed, so safe to share)."""
    env = os.environ.get("MANRS_LAB_CACHE_DIR")
    return Path(env) if env else Path("/run/manrs-lab-cache/config-checks")


# Every state root in use on this machine, one per line. Namespace names are global, state roots
# are not: `doctor` run with one root must know which other roots own `ml-*` namespaces.
ROOTS_FILE = Path("/run/manrs-lab-roots")


def register_state_root(root: Path) -> None:
    """Add `root` to the machine's list (one `write` of one line in append mode: concurrent
    registrations do not interleave; a duplicate line is harmless)."""
    known = known_state_roots()
    if root.resolve() not in known:
        fd = os.open(ROOTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{root.resolve()}\n".encode())
        finally:
            os.close(fd)


def known_state_roots() -> list[Path]:
    try:
        lines = ROOTS_FILE.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [Path(line) for line in dict.fromkeys(lines) if line.strip()]
