"""Find, and remove, whatever labs left behind: namespaces, daemons, state folders, locks.

`doctor` removes only what it can prove the project made in *this* state root:
- a state folder is an instance when it holds an instance record written for this root;
- a namespace (`ml-<instance>--<node>`) is ours when such a record names it;
- a process is ours when its pid file lies in such a folder and its command line names the
  folder (a pid file alone could name a pid the system has since given to someone else);
- a lock file `<instance>.lock` is ours when it carries the project's mark and nothing holds it;
- a lab's registry (`_registry/<instance>/`, namespace `mlirr-<instance>`: manrs_lab.irr_registry)
  is left over when its folder holds a registry record marked as a lab instance's and no
  instance of this root has that name (a registry started by `manrs-lab registry up` is
  someone's on purpose: reported, left alone; a lab instance's goes with its instance).
Everything else (other folders and files in the root, namespaces whose record is in another
root or nowhere, processes of anyone else) is reported and left alone. A healthy instance, and
one whose lock is held (an `up`, check or `down` at work), is never touched.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from manrs_lab import irr_registry
from manrs_lab.drivers.daemons import require_binaries
from manrs_lab.errors import LabError
from manrs_lab.instance import (
    INSTANCE_RE,
    NETNS_PREFIX,
    RECORD,
    Instance,
    netns_name,
    pid_alive,
    read_pid,
    record_from,
)
from manrs_lab.locking import (
    LOCK_SUFFIX,
    InstanceBusy,
    holder,
    instance_lock,
    is_locked,
    is_our_lock_file,
    lock_path,
)
from manrs_lab.paths import known_state_roots, state_root
from manrs_lab.progress import SilentProgress
from manrs_lab.runtime.netns import existing_namespaces, namespace_pids, run, stop_processes
from manrs_lab.runtime.registry import make_runtime
from manrs_lab.spec.loader import load_lab


@dataclass
class DoctorReport:
    root: Path = field(default_factory=state_root)
    healthy: list[str] = field(default_factory=list)
    busy: list[tuple[str, str]] = field(default_factory=list)  # (instance, who holds it)
    stale_instances: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)  # ours, of no healthy instance
    processes: list[tuple[int, str]] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)  # lock files of instances that are gone
    registries: list[str] = field(default_factory=list)  # lab registries whose instance is gone
    problems: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # namespaces of other state roots' labs
    not_ours: list[tuple[str, str]] = field(default_factory=list)  # (what, why left alone)

    @property
    def clean(self) -> bool:
        return not (
            self.stale_instances
            or self.namespaces
            or self.processes
            or self.locks
            or self.registries
        )


def _record(root: Path, name: str) -> Instance | None:
    """The instance record of `root/name`, if it proves an instance of this root."""
    path = root / name / RECORD
    if not INSTANCE_RE.fullmatch(name) or not path.is_file():
        return None
    try:
        inst = record_from(json.loads(path.read_text()), path)
    except (OSError, ValueError, LabError):
        return None
    # Records before the `root` field existed name no root; those in this folder still count.
    if inst.root and Path(inst.root) != root:
        return None
    return inst


def _owned_namespaces(inst: Instance) -> set[str]:
    return set(inst.namespaces) | {netns_name(inst.name, n) for n in inst.nodes}


def _pid_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.pid") if p.is_file())


def _cmdline(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    return " ".join(a.decode(errors="replace") for a in argv if a)


def instance_processes(folder: Path) -> list[tuple[int, str]]:
    """Live processes whose pid file lies in `folder` and whose command line names it."""
    marker = f"{folder}/"
    found: dict[int, str] = {}
    for pidfile in _pid_files(folder):
        pid = read_pid(pidfile)
        if pid is None or pid in found or not pid_alive(pid):
            continue
        text = _cmdline(pid)
        if marker in text:
            found[pid] = text[:160]
    return sorted(found.items())


def _alive(inst: Instance) -> bool:
    """Deployed and running. A record that says "not ready" with no `up` holding its lock is a
    deploy that died half-way, whatever still runs (and a daemon just killed may still look
    alive for a moment)."""
    if not inst.ready:
        return False
    try:
        runtime = make_runtime(inst.runtime, load_lab(inst.lab_folder))
        if inst.registry and not irr_registry.alive(inst.registry):
            return False
        return bool(inst.nodes) and all(runtime.node_running(inst, n) for n in inst.nodes)
    except LabError:
        return False


def examine() -> DoctorReport:
    root = state_root()
    report = DoctorReport(root=root)
    try:
        require_binaries()
    except LabError as exc:
        report.problems.append(str(exc))
    ours: dict[str, Instance] = {}  # instance name -> record, for every instance of this root
    stale: dict[str, Instance] = {}
    # Lab registries' folders (`_registry/`) are judged last, once the instances are known.
    entries = sorted(set(root.iterdir()) - {irr_registry.registries_dir()}) if root.is_dir() else []
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            inst = _record(root, entry.name)
            if inst is None:
                report.not_ours.append((str(entry), "no instance record of this state root"))
                continue
            ours[inst.name] = inst
            lock = lock_path(inst.name, root)
            if is_locked(lock):
                report.busy.append((inst.name, holder(lock)))
            elif _alive(inst):
                report.healthy.append(inst.name)
            else:
                report.stale_instances.append(inst.name)
                stale[inst.name] = inst
        elif entry.name.endswith(LOCK_SUFFIX) and entry.is_file():
            name = entry.name[: -len(LOCK_SUFFIX)]
            if not INSTANCE_RE.fullmatch(name) or not is_our_lock_file(entry):
                report.not_ours.append((str(entry), "not a lock file of manrs-lab"))
            elif (root / name).exists():
                continue  # the instance's own lock, judged with its folder
            elif is_locked(entry):
                report.busy.append((name, holder(entry)))
            else:
                report.locks.append(entry.name)
        else:
            report.not_ours.append((str(entry), "not an instance folder"))
    others = [r for r in known_state_roots() if r != root]
    for ns in sorted(existing_namespaces()):
        if not ns.startswith(NETNS_PREFIX) or "--" not in ns:
            continue
        name = ns[len(NETNS_PREFIX) :].split("--", 1)[0]
        inst = ours.get(name)
        if inst is not None and ns in _owned_namespaces(inst):
            if name in stale:
                report.namespaces.append(ns)
            continue
        if any((r / name / RECORD).exists() for r in others):
            report.foreign.append(ns)  # another state root's lab (tests, bench, another user)
        else:
            report.not_ours.append((f"namespace {ns}", "no record in this state root names it"))
    for inst in stale.values():
        report.processes += instance_processes(root / inst.name)
    _examine_registries(report, ours, others)
    return report


def _examine_registries(
    report: DoctorReport, ours: dict[str, Instance], others: list[Path]
) -> None:
    """Lab registries (`_registry/<name>/`) whose instance is gone, and `mlirr-` namespaces."""
    folder = irr_registry.registries_dir()
    judged: set[str] = set()
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    for entry in entries:
        name = entry.name
        if not INSTANCE_RE.fullmatch(name) or not (entry / irr_registry.RECORD).is_file():
            report.not_ours.append((str(entry), "no registry record"))
            continue
        judged.add(name)
        if not irr_registry.is_lab_registry(name):
            report.not_ours.append(
                (str(entry), f"a registry started by hand (`manrs-lab registry down {name}`)")
            )
        elif name in ours:
            continue  # a lab instance's: it goes with its instance
        elif is_locked(lock_path(name, report.root)):
            report.busy.append((name, holder(lock_path(name, report.root))))
        else:
            report.registries.append(name)
    for ns in sorted(existing_namespaces()):
        if not ns.startswith(irr_registry.NETNS_PREFIX):
            continue
        name = ns[len(irr_registry.NETNS_PREFIX) :]
        if name in judged:
            continue
        if any((r / irr_registry.registries_dir().name / name).exists() for r in others):
            report.foreign.append(ns)
        else:
            report.not_ours.append((f"namespace {ns}", "no registry record in this state root"))


def fix(report: DoctorReport) -> None:
    """Remove what `examine` found ours and left over; re-checks each instance under its lock
    (one that got busy or healthy meanwhile is left alone)."""
    root = report.root
    for name in report.stale_instances:
        try:
            with instance_lock(name, "`doctor`", wait=False, root=root) as lock:
                inst = _record(root, name)
                if inst is None or _alive(inst):
                    continue
                _remove_instance(root, inst)
                lock.unlink(missing_ok=True)
        except InstanceBusy:
            continue
    ours = [ns for ns in report.namespaces if ns in existing_namespaces()]
    stop_processes([pid for ns in ours for pid in namespace_pids(ns)])
    if ours:
        run(["ip", "-force", "-batch", "-"], input_text="".join(f"netns del {n}\n" for n in ours))
    # Only processes that still match: pid file in an instance folder, command line naming it.
    survivors = [
        pid
        for pid, text in report.processes
        if pid_alive(pid) and any(f"{root / n}/" in text for n in report.stale_instances)
    ]
    stop_processes(survivors)
    for name in report.registries:
        with (
            contextlib.suppress(InstanceBusy),
            instance_lock(name, "`doctor`", wait=False, root=root) as lock,
        ):
            if not (root / name).exists() and irr_registry.is_lab_registry(name):
                irr_registry.stop(name)
            if not (root / name).exists():
                lock.unlink(missing_ok=True)
    for lock_name in report.locks:
        name = lock_name[: -len(LOCK_SUFFIX)]
        with (
            contextlib.suppress(InstanceBusy),
            instance_lock(name, "`doctor`", wait=False, root=root) as lock,
        ):
            if not (root / name).exists():
                lock.unlink(missing_ok=True)


def _remove_instance(root: Path, inst: Instance) -> None:
    """The runtime's own teardown; without the lab (its folder gone) the same steps by hand."""
    try:
        make_runtime(inst.runtime, load_lab(inst.lab_folder)).destroy(inst, SilentProgress())
        return
    except LabError:
        pass
    folder = root / inst.name
    stop_processes([pid for pid, _ in instance_processes(folder)])
    owned = sorted(_owned_namespaces(inst) & existing_namespaces())
    stop_processes([pid for ns in owned for pid in namespace_pids(ns)])
    if owned:
        run(["ip", "-force", "-batch", "-"], input_text="".join(f"netns del {n}\n" for n in owned))
    if inst.registry:
        irr_registry.stop(inst.registry)
    if not set(owned) & existing_namespaces():
        shutil.rmtree(folder, ignore_errors=True)
