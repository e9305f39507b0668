"""A deployed lab instance: its state folder and the record that lets any process find it.

`/run/manrs-lab/<instance>/instance.json` is written before anything is created and updated as
deploy goes on, so `down` and `doctor` can remove exactly what a crashed run left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from manrs_lab.errors import LabError, NotRunningError
from manrs_lab.paths import register_state_root, state_root

INSTANCE_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
NETNS_PREFIX = "ml-"
RECORD = "instance.json"


@dataclass
class Instance:
    name: str
    lab: str
    runtime: str
    lab_folder: str
    created: float = field(default_factory=time.time)
    nodes: dict[str, str] = field(default_factory=dict)  # node -> role
    namespaces: list[str] = field(default_factory=list)  # created so far (netns runtime)
    ready: bool = False
    # node -> config file used instead of the lab's starting config (replayed submissions)
    config_overrides: dict[str, str] = field(default_factory=dict)
    # The state root the record was written in: `doctor` removes only what a record of its own
    # root names (a folder copied or moved elsewhere is not proof of anything).
    root: str = ""
    pid: int = 0  # the process that wrote the record first (`up`)
    # A lab containerlab deployed itself (`manrs-lab attach`): its containerlab name (containers
    # `clab-<clab_name>-<node>`) and the topology file it was deployed from.
    clab_name: str = ""
    clab_topology: str = ""
    # The lab's routing registry (manrs_lab.irr_registry), named like the instance; recorded
    # before it starts, so `down` and `doctor` stop a half-started one too. "": none.
    registry: str = ""

    @property
    def folder(self) -> Path:
        return state_root() / self.name

    def node_dir(self, node: str) -> Path:
        return self.folder / node

    def netns(self, node: str) -> str:
        return netns_name(self.name, node)

    def save(self) -> None:
        if not self.root:
            self.root = str(state_root())
        if not self.pid:
            self.pid = os.getpid()
        self.folder.mkdir(parents=True, exist_ok=True)
        register_state_root(self.folder.parent)
        tmp = self.folder / f".{RECORD}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.folder / RECORD)

    def remove_folder(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def netns_name(instance: str, node: str) -> str:
    return f"{NETNS_PREFIX}{instance}--{node}"


MAX_NAME = 40


def validate_instance_name(name: object) -> str:
    """A name is a single path component and part of namespace names: lower-case letters,
    digits and single dashes, starting with a letter, at most 40 characters. Anything else
    (empty, `../x`, `a/b`, spaces) is refused, on every command that takes a name."""
    if not isinstance(name, str) or not INSTANCE_RE.fullmatch(name) or len(name) > MAX_NAME:
        raise LabError(
            f"instance name {name!r}: use lower-case letters, digits and single dashes, "
            f"starting with a letter (at most {MAX_NAME} characters; no paths)"
        )
    return name


def load_instance(name: str) -> Instance:
    validate_instance_name(name)
    path = state_root() / name / RECORD
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise NotRunningError(f"no running lab instance {name!r} (see `manrs-lab status`)") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise LabError(
            f"{path}: unreadable instance record ({exc}); run `manrs-lab doctor`"
        ) from exc
    return record_from(data, path)


def record_from(data: object, path: Path) -> Instance:
    """An instance record read from `path`; LabError if it is not one."""
    if not isinstance(data, dict):
        raise LabError(f"{path}: not an instance record")
    try:
        inst = Instance(**data)
    except TypeError as exc:
        raise LabError(f"{path}: not an instance record ({exc})") from exc
    if inst.name != path.parent.name or not INSTANCE_RE.fullmatch(inst.name):
        raise LabError(f"{path}: the record names instance {inst.name!r}, not its folder")
    return inst


def list_instances() -> list[Instance]:
    root = state_root()
    found: list[Instance] = []
    if not root.is_dir():
        return found
    for entry in sorted(root.iterdir()):
        if INSTANCE_RE.fullmatch(entry.name) and (entry / RECORD).is_file():
            try:
                found.append(load_instance(entry.name))
            except LabError:
                continue
    return found


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as dead."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("State:"):
            return "Z" not in line.split()[1]
    return True


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def owner_is_us() -> bool:
    return os.geteuid() == 0
