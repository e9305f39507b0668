"""Find, and remove, whatever labs left behind: namespaces, daemons, state folders.

A healthy running instance is never touched. Leftovers are recognised by the project's own
names only: namespaces `ml-<instance>--<node>`, and processes whose command line points into the
state folder (every daemon the netns runtime starts does).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from manrs_lab.drivers.daemons import require_binaries
from manrs_lab.errors import LabError
from manrs_lab.instance import NETNS_PREFIX, RECORD, list_instances, pid_alive
from manrs_lab.paths import known_state_roots, state_root
from manrs_lab.progress import SilentProgress
from manrs_lab.runtime.netns import (
    existing_namespaces,
    namespace_pids,
    run,
    stop_processes,
)
from manrs_lab.runtime.registry import make_runtime
from manrs_lab.spec.loader import load_lab


@dataclass
class DoctorReport:
    healthy: list[str] = field(default_factory=list)
    stale_instances: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    processes: list[tuple[int, str]] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # namespaces of other state roots' labs

    @property
    def clean(self) -> bool:
        return not (self.stale_instances or self.namespaces or self.processes or self.folders)


def _our_processes(root: Path) -> list[tuple[int, str]]:
    marker = str(root) + "/"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in argv if a)
        if marker in text and pid_alive(int(proc.name)) and not text.startswith(("vtysh", "birdc")):
            found.append((int(proc.name), text[:160]))
    return found


def examine() -> DoctorReport:
    report = DoctorReport()
    try:
        require_binaries()
    except LabError as exc:
        report.problems.append(str(exc))
    root = state_root()
    healthy_ns: set[str] = set()
    for inst in list_instances():
        try:
            lab = load_lab(inst.lab_folder)
            runtime = make_runtime(inst.runtime, lab)
            alive = inst.nodes and all(runtime.node_running(inst, n) for n in inst.nodes)
        except LabError:
            alive = False
        if alive:
            report.healthy.append(inst.name)
            healthy_ns.update(inst.namespaces)
        else:
            report.stale_instances.append(inst.name)
    stale = set(report.stale_instances)
    healthy = set(report.healthy)
    others = [r for r in known_state_roots() if r != root.resolve()]
    for ns in sorted(existing_namespaces()):
        if not ns.startswith(NETNS_PREFIX) or ns in healthy_ns:
            continue
        instance = ns[len(NETNS_PREFIX) :].split("--", 1)[0]
        if instance not in stale and any((r / instance / RECORD).exists() for r in others):
            report.foreign.append(ns)  # another state root's lab (tests, bench, another user)
        else:
            report.namespaces.append(ns)
    for pid, text in _our_processes(root):
        owner = text.split(str(root) + "/", 1)[1].split("/", 1)[0]
        if owner not in healthy:
            report.processes.append((pid, text))
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            known = entry.name in healthy or entry.name in stale
            if entry.is_dir() and not known and not (entry / RECORD).exists():
                report.folders.append(entry.name)
    return report


def fix(report: DoctorReport) -> None:
    root = state_root()
    for name in report.stale_instances:
        inst = next(i for i in list_instances() if i.name == name)
        try:
            make_runtime(inst.runtime, load_lab(inst.lab_folder)).destroy(inst, SilentProgress())
        except LabError:
            shutil.rmtree(root / name, ignore_errors=True)
    stop_processes([pid for ns in report.namespaces for pid in namespace_pids(ns)])
    stop_processes([pid for pid, _ in report.processes])
    left = [ns for ns in report.namespaces if ns in existing_namespaces()]
    if left:
        run(["ip", "-force", "-batch", "-"], input_text="".join(f"netns del {n}\n" for n in left))
    for name in report.folders:
        shutil.rmtree(root / name, ignore_errors=True)
