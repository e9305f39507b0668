"""Replayable grading: the routers' configurations saved beside the notebook, graded anew.

A learner's check or submission writes `<notebook-dir>/.manrs-lab/<lab>/<node>.conf` for the
nodes a learner may change (the lab's `learner` and the nodes its reference solution touches),
and, where the node filters packets (anti-spoofing), `<node>.nft` (its nftables ruleset) and
`<node>.sysctl` (rp_filter settings): data, never a script.
On the grading machine (`manrs_lab.notebook.autograde`, run by nbgrader's autograde) `replay`
reads those files through `manrs_lab.submission` (regular files only, size-limited, statements
that touch the file system or leave configuration mode refused), deploys the lab from a private
copy of what it accepted, applies the filters as data (`nft -c` first), grades it live, and
tears it down again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from manrs_lab import operations, registry_replay, submission
from manrs_lab.drivers.daemons import BIRD_PROBES
from manrs_lab.errors import LabError, NotRunningError
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.instance import validate_instance_name
from manrs_lab.progress import Progress, SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.spec.loader import Lab as LoadedLab
from manrs_lab.spec.topology import Role
from manrs_lab.submission import (
    NFT_SUFFIX,
    SYSCTL_SUFFIX,
    PacketFilter,
    Refusal,
    Submission,
    editable_nodes,
    read_submission,
)

__all__ = ["Refusal", "editable_nodes"]

SAVE_DIR = submission.SAVE_DIR
EXECUTION_ENV = "NBGRADER_EXECUTION"
INSTANCE_PREFIX_ENV = "MANRS_LAB_INSTANCE_PREFIX"
AUTOGRADE = "autograde"
REGISTRY_KEY = "registry"  # save_configs' key for the saved registry objects
_FRR_HEADER = re.compile(r"\A(Building configuration\.\.\.|Current configuration:|\s*)$")


def autograding() -> bool:
    return os.environ.get(EXECUTION_ENV) == AUTOGRADE


def saved_dir(notebook_dir: Path, lab_id: str, task: str | None = None) -> Path:
    """Where configurations are saved; a staged lab also keeps one snapshot per task."""
    base = notebook_dir / SAVE_DIR / lab_id
    return base / "tasks" / task if task else base


def bootable_frr(text: str) -> str:
    """`show running-config` minus vtysh's banner, which `vtysh -C` rejects as a command."""
    lines = text.splitlines()
    while lines and _FRR_HEADER.match(lines[0]):
        lines.pop(0)
    return "\n".join(lines).rstrip() + "\n"


def bootable_bird(text: str) -> str:
    """bird.conf minus the probe include the runtime appends again at deploy time."""
    drop = {"# added by manrs-lab: grader probes", f'include "{BIRD_PROBES}";'}
    return "\n".join(ln for ln in text.splitlines() if ln.strip() not in drop).rstrip() + "\n"


def current_config(running: RunningLab, node: str) -> str:
    """The node's live configuration, in a form `operations.up(configs=...)` boots from."""
    role = running.lab.topology.nodes[node].role
    if role is Role.FRR:
        return bootable_frr(running.router(node).running_config())
    if role is Role.BIRD:
        return bootable_bird(running.router(node).running_config())
    if role is Role.RTR:
        roas = [
            {"prefix": v.prefix, "maxLength": v.max_length, "asn": f"AS{v.asn}"}
            for v in running.rtr(node).vrps()
        ]
        return json.dumps({"roas": roas}, indent=2) + "\n"
    raise LabError(f"{node} is a {role} node: it has no configuration to save")


_CAPTURE_RP_FILTER = 'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo "$f $(cat "$f")"; done'


def packet_filters(running: RunningLab, node: str) -> PacketFilter:
    """The node's packet filtering (anti-spoofing lives outside the routing daemons): its
    nftables ruleset and the rp_filter values the runtime did not set (it starts with 0)."""
    handle = running.handle(node)
    ruleset = handle.exec_ok(["nft", "list", "ruleset"])
    settings = []
    for line in handle.exec_ok(["sh", "-c", _CAPTURE_RP_FILTER]).splitlines():
        path, _, value = line.rpartition(" ")
        if value.strip() not in ("", "0"):
            settings.append((Path(path).parent.name, "rp_filter", int(value)))
    return PacketFilter(ruleset if ruleset.strip() else None, tuple(settings))


def _write(path: Path, text: str | None) -> None:
    """Replace `path` with `text` (through a temporary file), or remove it when None."""
    if text is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def save_configs(
    running: RunningLab, notebook_dir: Path, task: str | None = None
) -> dict[str, Path]:
    """Write the editable nodes' live configurations beside the notebook; returns the files.

    `task`: the snapshot of that task's state (staged labs)."""
    folder = saved_dir(notebook_dir, running.lab.id, task)
    folder.mkdir(parents=True, exist_ok=True)
    saved = {}
    for node in editable_nodes(running.lab):
        path = folder / f"{node}{submission.CONFIG_SUFFIX}"
        _write(path, current_config(running, node))
        saved[node] = path
        (folder / f"{node}{submission.LEGACY_FILTER_SUFFIX}").unlink(missing_ok=True)
        found = PacketFilter()
        if running.lab.topology.nodes[node].role.is_router:
            found = packet_filters(running, node)
        _write(folder / f"{node}{NFT_SUFFIX}", found.ruleset)
        settings = submission.sysctl_text(list(found.sysctls)) if found.sysctls else None
        _write(folder / f"{node}{SYSCTL_SUFFIX}", settings)
    if task is None:
        # The registry objects of the learner's maintainer (labs that name it), beside them.
        registry_file = registry_replay.save(running, folder)
        if registry_file is not None:
            saved[REGISTRY_KEY] = registry_file
    return saved


def grading_instance_name(lab_id: str) -> str:
    """A fresh instance name per replay, so graders running side by side never collide.

    `$MANRS_LAB_INSTANCE_PREFIX` goes first, as for the learner's instances.
    """
    prefix = os.environ.get(INSTANCE_PREFIX_ENV, "")
    stem = f"{prefix}g-{lab_id}"[:33].rstrip("-")
    return validate_instance_name(f"{stem}-{uuid.uuid4().hex[:6]}")


@dataclass(frozen=True)
class Replay:
    """The outcome of grading a submission's saved configurations on this machine."""

    report: GradeReport | None
    missing: list[str]  # editable nodes without a saved file: graded from the starting config
    error: str | None = None  # the replay itself failed (a config that does not boot, say)
    refused: list[Refusal] = field(default_factory=list)  # parts of the submission not used

    def notes(self) -> list[str]:
        """What a grade cell says besides the checks: files refused, configs missing."""
        lines = [f"not graded: {r}" for r in self.refused]
        if self.missing:
            lines.append(
                f"no saved configuration of {', '.join(self.missing)} in {SAVE_DIR}/: graded "
                "the starting configuration (check or run lab.save() before submitting)"
            )
        return lines


def _accepted(lab: LoadedLab, notebook_dir: Path, task: str | None) -> Submission:
    """The task's snapshot (staged labs) if it holds a config, else the lab's saved files."""
    if task:
        snapshot = read_submission(lab, notebook_dir, task)
        if snapshot.configs:
            return snapshot
        latest = read_submission(lab, notebook_dir)
        latest.refused[:0] = snapshot.refused
        return latest
    return read_submission(lab, notebook_dir)


def apply_filters(running: RunningLab, node: str, found: PacketFilter) -> list[str]:
    """Install a node's packet filters as data: the ruleset through `nft -c` then `nft -f`
    (after `flush ruleset`, in the node's own namespace), sysctls one validated value each.
    Returns what was not applied."""
    problems = []
    handle = running.handle(node)
    if found.ruleset is not None:
        ruleset = "flush ruleset\n" + found.ruleset
        dry = handle.exec(["nft", "-c", "-f", "-"], input_text=ruleset)
        if dry.ok:
            handle.exec_ok(["nft", "-f", "-"], input_text=ruleset)
        else:
            first = (dry.stderr or dry.stdout).strip().splitlines()[:1]
            problems.append(f"{node}{NFT_SUFFIX}: nft rejected it, not applied: {' '.join(first)}")
    for iface, key, value in found.sysctls:
        # Validated names and values, passed as arguments: the shell parses none of them.
        handle.exec_ok(
            [
                "sh",
                "-c",
                'echo "$1" > "/proc/sys/net/ipv4/conf/$2/$3"',
                "sh",
                str(value),
                iface,
                key,
            ]
        )
    return problems


def replay(
    lab: LoadedLab,
    notebook_dir: Path,
    progress: Progress | None = None,
    seed: int | None = None,
    task: str | None = None,
) -> Replay:
    """Deploy `lab` from the configurations saved in `notebook_dir`, grade it, tear it down.

    Only what `manrs_lab.submission` accepts is used, from a private copy (a folder only root
    can read, removed afterwards). `task` (staged labs): deploy that task's snapshot (the final
    configuration where the learner never ran its grade cell) and grade that task only."""
    progress = progress or SilentProgress()
    found = _accepted(lab, notebook_dir, task if lab.staged else None)
    refused = list(found.refused)
    registry_saved = None
    if submission.saves_registry(lab):
        # The learner maintainer's objects, as hostile data (registry_replay).
        registry_saved = registry_replay.read_saved(lab, notebook_dir)
        refused += registry_saved.refused
        if registry_saved.objects is None and not registry_saved.refused:
            refused.append(
                Refusal(
                    f"{SAVE_DIR}/{lab.id}/{submission.REGISTRY_FILE}",
                    "not saved: graded the registry as the lab starts it (check, or run "
                    "lab.save(), before submitting)",
                )
            )
    elif lab.spec.registry is not None:
        # Say so rather than grade in silence: this lab names no learner maintainer, so its
        # registry starts again from the lab's data here.
        refused.append(
            Refusal(
                "registry",
                "the lab's routing registry is not saved with a notebook: it starts again from "
                "the lab's data, without your objects (grade this lab live: Check, or its "
                "grade cells while the lab runs)",
            )
        )
    missing = [n for n in editable_nodes(lab) if n not in found.configs]
    name = grading_instance_name(lab.id)
    private = Path(tempfile.mkdtemp(prefix="manrs-lab-grade-"))
    try:
        configs = {}
        for node, text in found.configs.items():
            path = private / f"{node}{submission.CONFIG_SUFFIX}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            configs[node] = path
        try:
            running = operations.up(lab.id, progress, instance=name, configs=configs).running
        except LabError as exc:
            # A learner's filter may keep the lab from "converging" (a route `up` waits for
            # never arrives): grade what is there. A config that does not boot is an error.
            try:
                running = operations.attach(name)
            except NotRunningError:
                error = f"the saved configuration could not be deployed: {exc}"
                return Replay(None, missing, error, refused)
        for node, filters in found.filters.items():
            if not filters.empty:
                refused += [Refusal(node, p) for p in apply_filters(running, node, filters)]
        if registry_saved is not None:
            progress.step("replaying the saved registry objects")
            refused += registry_replay.apply(running, registry_saved)
        report = grade(running, progress, seed=seed, tasks=[task] if task else None)
        return Replay(report, missing, None, refused)
    finally:
        with contextlib.suppress(NotRunningError):
            operations.down(name, SilentProgress())
        shutil.rmtree(private, ignore_errors=True)
