"""What the CLI and the notebooks do to labs: one code path for both."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from manrs_lab.errors import DeployError, LabError, NotRunningError
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.instance import Instance, list_instances, load_instance, validate_instance_name
from manrs_lab.paths import state_root
from manrs_lab.progress import Progress
from manrs_lab.running import RunningLab
from manrs_lab.runtime.registry import DEFAULT_RUNTIME, make_runtime
from manrs_lab.spec.loader import load_lab
from manrs_lab.spec.topology import Role
from manrs_lab.state import BgpSession


@dataclass(frozen=True)
class UpResult:
    running: RunningLab
    deploy_seconds: float
    converge_seconds: float


def up(
    lab_id: str,
    progress: Progress,
    *,
    instance: str | None = None,
    runtime: str = DEFAULT_RUNTIME,
    configs: Mapping[str, Path] | None = None,
) -> UpResult:
    """Deploy and wait until converged. `configs` replaces starting configs per node (a learner's
    saved running configs, replayed on a grading machine)."""
    lab = load_lab(lab_id)
    unknown = sorted(set(configs or {}) - set(lab.spec.nodes))
    if unknown:
        raise LabError(f"configs given for {', '.join(unknown)}: not nodes with a config")
    name = validate_instance_name(instance or lab.id)
    if (state_root() / name).exists():
        raise DeployError(
            f"instance {name!r} exists already: `manrs-lab down {name}` first, or give "
            "`--instance OTHER-NAME` to run a second copy"
        )
    inst = Instance(
        name=name,
        lab=lab.id,
        runtime=runtime,
        lab_folder=str(lab.folder),
        nodes={n: node.role.value for n, node in lab.topology.nodes.items()},
        config_overrides={n: str(Path(p).resolve()) for n, p in (configs or {}).items()},
    )
    rt = make_runtime(runtime, lab)
    start = time.monotonic()
    rt.deploy(inst, progress)
    deployed = time.monotonic() - start
    running = RunningLab(inst, lab, rt)
    try:
        converge = running.wait_converged(progress)
    except LabError as exc:
        raise LabError(
            f"{exc}\nThe lab is still running, so you can look at it (`manrs-lab status {name}`); "
            f"`manrs-lab down {name}` removes it."
        ) from exc
    inst.ready = True
    inst.save()
    return UpResult(running, deployed, converge)


def attach(name: str | None = None) -> RunningLab:
    """The running instance `name`, or the only one running when no name is given."""
    if name is None:
        running = list_instances()
        if len(running) != 1:
            names = ", ".join(i.name for i in running) or "none"
            raise NotRunningError(f"name the lab instance (running: {names})")
        inst = running[0]
    else:
        inst = load_instance(name)
    lab = load_lab(inst.lab_folder)
    return RunningLab(inst, lab, make_runtime(inst.runtime, lab))


def down(name: str | None, progress: Progress) -> str:
    running = attach(name)
    running.runtime.destroy(running.instance, progress)
    return running.instance.name


def down_all(progress: Progress) -> list[str]:
    names = []
    for inst in list_instances():
        lab = load_lab(inst.lab_folder)
        make_runtime(inst.runtime, lab).destroy(inst, progress)
        names.append(inst.name)
    return names


@dataclass(frozen=True)
class NodeStatus:
    node: str
    role: str
    asn: int | None
    running: bool
    sessions: list[BgpSession]
    error: str | None = None


def status(name: str | None) -> tuple[Instance, list[NodeStatus]]:
    running = attach(name)
    out = []
    for node_name, node in running.lab.topology.nodes.items():
        alive = running.runtime.node_running(running.instance, node_name)
        sessions: list[BgpSession] = []
        error = None
        if alive and node.role.is_router:
            try:
                sessions = running.router(node_name).sessions()
            except LabError as exc:
                error = str(exc)
        out.append(NodeStatus(node_name, node.role.value, node.asn, alive, sessions, error))
    return running.instance, out


def check(
    name: str | None,
    progress: Progress,
    *,
    seed: int | None = None,
    tasks: list[str] | None = None,
) -> GradeReport:
    return grade(attach(name), progress, seed=seed, tasks=tasks)


SHELL_SOLUTION_SUFFIX = ".sh"


def run_shell_solution(running: RunningLab, node: str, script: str) -> None:
    """A solution file ending in `.sh` is a shell script run inside the node (sysctl, nft:
    what lives outside the routing daemon, e.g. anti-spoofing filters); it stops at the first
    failing command."""
    result = running.handle(node).exec(["sh", "-e", "-c", script])
    if not result.ok:
        raise LabError(
            f"{node}: the solution script failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()}"
        )


def solve(name: str | None, progress: Progress, *, task: str | None = None) -> list[str]:
    """Apply the lab's reference solution (instructors, tests).

    `task`: in a staged lab, only that task's model answer, on top of the current state.
    """
    running = attach(name)
    lab = running.lab
    if task is not None and not any(t.id == task for t in lab.spec.tasks):
        raise LabError(f"no task {task!r} in {lab.id}")
    if task is not None and lab.staged:
        files = lab.task_solution_paths(task)
    else:
        files = {node: lab.solution_path(node) for node in lab.spec.solution}
    for node, path in files.items():
        progress.step(f"applying the reference solution on {node}")
        _apply_solution(running, node, path, progress)
        progress.node(node, "solution applied")
    running.wait_converged(progress)
    # The solution has taken effect once its RTR sessions are up too: a check right after
    # `solve` then grades the solution, not FRR's 3 s wait for its first RPKI sync.
    for router in running.wait_rpki(progress):
        progress.node(router, "RTR session still not up")
    return list(files)


def _apply_solution(running: RunningLab, node: str, path: Path, progress: Progress) -> None:
    text = path.read_text()
    if path.suffix == SHELL_SOLUTION_SUFFIX:
        run_shell_solution(running, node, text)
    elif running.lab.topology.nodes[node].role is Role.RTR:
        # A solution for the RTR cache is the VRP file to publish (labs about ROAs).
        from manrs_lab import roa  # noqa: PLC0415 - the ROA portal needs the drivers

        roa.publish(running, roa.parse_vrp_file(text), progress)
    else:
        running.router(node).apply_config(text)


def reset(name: str | None, progress: Progress) -> UpResult:
    """Back to the starting configs: the same instance torn down and deployed again."""
    running = attach(name)
    inst = running.instance
    running.runtime.destroy(inst, progress)
    return up(inst.lab_folder, progress, instance=inst.name, runtime=inst.runtime)
