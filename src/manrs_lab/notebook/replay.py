"""Replayable grading: the routers' configurations saved beside the notebook, graded anew.

A learner's check or submission writes `<notebook-dir>/.manrs-lab/<lab>/<node>.conf` for the
nodes a learner may change (the lab's `learner` and the nodes its reference solution touches),
and `<node>.filter.sh` where the node filters packets (nftables, rp_filter: anti-spoofing),
which replay runs in the node after deploying it.
Under nbgrader's autograde (`NBGRADER_EXECUTION=autograde`) the grade cells do not look at the
learner's machine or at the notebook's outputs: they deploy the lab on the grading machine from
those files, grade it live, and tear it down again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from manrs_lab import operations
from manrs_lab.drivers.daemons import BIRD_PROBES
from manrs_lab.errors import LabError, NotRunningError
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.instance import validate_instance_name
from manrs_lab.progress import Progress, SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.spec.loader import Lab as LoadedLab
from manrs_lab.spec.topology import Role

SAVE_DIR = ".manrs-lab"
EXECUTION_ENV = "NBGRADER_EXECUTION"
INSTANCE_PREFIX_ENV = "MANRS_LAB_INSTANCE_PREFIX"
AUTOGRADE = "autograde"
_FRR_HEADER = re.compile(r"\A(Building configuration\.\.\.|Current configuration:|\s*)$")


def autograding() -> bool:
    return os.environ.get(EXECUTION_ENV) == AUTOGRADE


def saved_dir(notebook_dir: Path, lab_id: str, task: str | None = None) -> Path:
    """Where configurations are saved; a staged lab also keeps one snapshot per task."""
    base = notebook_dir / SAVE_DIR / lab_id
    return base / "tasks" / task if task else base


def editable_nodes(lab: LoadedLab) -> list[str]:
    """Nodes whose configuration is the learner's work: saved, and replayed when grading.

    Only these: replaying a neighbour's configuration from a submission would let it change
    what the grader observes.
    """
    nodes = [lab.spec.learner, *lab.spec.solution]
    return [n for n in dict.fromkeys(nodes) if n in lab.spec.nodes]


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


FILTER_SUFFIX = ".filter.sh"
_CAPTURE_FILTERS = (
    "nft list ruleset; echo '#--rp_filter--'; "
    'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo "$f $(cat "$f")"; done'
)


def packet_filter_script(running: RunningLab, node: str) -> str | None:
    """The node's packet filtering (nftables ruleset, rp_filter settings: anti-spoofing lives
    outside the routing daemons) as a script that restores it; None in the starting state."""
    out = running.handle(node).exec_ok(["sh", "-c", _CAPTURE_FILTERS])
    ruleset, _, rp_filters = out.partition("#--rp_filter--\n")
    lines = []
    if ruleset.strip():
        lines += ["nft -f - <<'MANRS_LAB_NFT'", ruleset.rstrip(), "MANRS_LAB_NFT"]
    for line in rp_filters.splitlines():
        path, _, value = line.rpartition(" ")
        if value.strip() not in ("", "0"):  # the runtime starts every node with 0
            lines.append(f"echo {value.strip()} > {path}")
    return "\n".join(lines) + "\n" if lines else None


def save_configs(
    running: RunningLab, notebook_dir: Path, task: str | None = None
) -> dict[str, Path]:
    """Write the editable nodes' live configurations beside the notebook; returns the files.

    `task`: the snapshot of that task's state (staged labs)."""
    folder = saved_dir(notebook_dir, running.lab.id, task)
    folder.mkdir(parents=True, exist_ok=True)
    saved = {}
    for node in editable_nodes(running.lab):
        text = current_config(running, node)
        path = folder / f"{node}.conf"
        tmp = folder / f".{node}.conf.tmp"
        tmp.write_text(text)
        tmp.replace(path)
        saved[node] = path
        filters = folder / f"{node}{FILTER_SUFFIX}"
        script = (
            packet_filter_script(running, node)
            if running.lab.topology.nodes[node].role.is_router
            else None
        )
        if script is None:
            filters.unlink(missing_ok=True)
        else:
            filters.write_text(script)
    return saved


def saved_configs(lab: LoadedLab, notebook_dir: Path, task: str | None = None) -> dict[str, Path]:
    folder = saved_dir(notebook_dir, lab.id, task)
    found = {n: folder / f"{n}.conf" for n in editable_nodes(lab)}
    return {n: p for n, p in found.items() if p.is_file()}


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


def replay(
    lab: LoadedLab,
    notebook_dir: Path,
    progress: Progress | None = None,
    seed: int | None = None,
    task: str | None = None,
) -> Replay:
    """Deploy `lab` from the configurations saved in `notebook_dir`, grade it, tear it down.

    `task` (staged labs): deploy that task's snapshot (the final configuration where the
    learner never ran its grade cell) and grade that task only."""
    progress = progress or SilentProgress()
    folder = saved_dir(notebook_dir, lab.id, task)
    configs = saved_configs(lab, notebook_dir, task) if task else {}
    if not configs:
        folder = saved_dir(notebook_dir, lab.id)
        configs = saved_configs(lab, notebook_dir)
    missing = [n for n in editable_nodes(lab) if n not in configs]
    name = grading_instance_name(lab.id)
    try:
        try:
            running = operations.up(lab.id, progress, instance=name, configs=configs).running
        except LabError as exc:
            # A learner's filter may keep the lab from "converging" (a route `up` waits for
            # never arrives): grade what is there. A config that does not boot is an error.
            try:
                running = operations.attach(name)
            except NotRunningError:
                error = f"the saved configuration could not be deployed: {exc}"
                return Replay(None, missing, error)
        for node in configs:
            filters = folder / f"{node}{FILTER_SUFFIX}"
            if filters.is_file():
                operations.run_shell_solution(running, node, filters.read_text())
        return Replay(grade(running, progress, seed=seed, tasks=[task] if task else None), missing)
    finally:
        with contextlib.suppress(NotRunningError):
            operations.down(name, SilentProgress())
