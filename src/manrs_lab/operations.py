"""What the CLI and the notebooks do to labs: one code path for both."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from manrs_lab import tutor
from manrs_lab.classroom.record import record as record_verdicts
from manrs_lab.drivers.daemons import require_binaries
from manrs_lab.errors import (
    ConfigSyntaxError,
    DeployError,
    ExecError,
    LabError,
    NotRunningError,
    SpecError,
)
from manrs_lab.grader.engine import grade
from manrs_lab.grader.journal import ProbeJournal, withdraw_leftovers
from manrs_lab.grader.report import GradeReport
from manrs_lab.instance import (
    NETNS_PREFIX,
    RECORD,
    Instance,
    list_instances,
    load_instance,
    validate_instance_name,
)
from manrs_lab.locking import (
    InstanceBusy,
    held_here,
    instance_lock,
    is_locked,
    lock_path,
    names_claim,
    remove_held_lock,
)
from manrs_lab.paths import known_state_roots, register_state_root, state_root
from manrs_lab.progress import Progress, SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.runtime.base import Runtime
from manrs_lab.runtime.netns import check_node_config, existing_namespaces
from manrs_lab.runtime.registry import DEFAULT_RUNTIME, make_runtime
from manrs_lab.spec.loader import Lab, load_lab
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
    saved running configs, replayed on a grading machine).

    The name is claimed atomically across every state root on the machine: an `up` of a name
    that exists anywhere (a record, a lock, a namespace) is refused, and of two `up`s of one
    name at the same instant exactly one goes on."""
    if instance is not None:
        validate_instance_name(instance)  # before anything else: `--instance ''` is no default
    lab = load_lab(lab_id)
    name = validate_instance_name(lab.id if instance is None else instance)
    unknown = sorted(set(configs or {}) - set(lab.spec.nodes))
    if unknown:
        raise LabError(f"configs given for {', '.join(unknown)}: not nodes with a config")
    with ExitStack() as held:
        with names_claim():
            _refuse_taken(name)
            try:
                lock = held.enter_context(instance_lock(name, "`up`", progress, wait=False))
            except InstanceBusy as exc:
                raise DeployError(f"{exc}: give `--instance OTHER-NAME`") from None
            inst = Instance(
                name=name,
                lab=lab.id,
                runtime=runtime,
                lab_folder=str(lab.folder),
                nodes={n: node.role.value for n, node in lab.topology.nodes.items()},
                config_overrides={n: str(Path(p).resolve()) for n, p in (configs or {}).items()},
            )
            # The claim: once the record exists in a registered root, every other `up` sees it.
            register_state_root(state_root())
            inst.save()
        try:
            return _deploy(lab, inst, runtime, progress)
        except BaseException:
            if not inst.folder.exists():
                remove_held_lock(lock)  # nothing of the instance is left: neither its lock
            raise


def _refuse_taken(name: str) -> None:
    """DeployError if `name` is in use anywhere on this machine."""
    here = state_root()
    for root in dict.fromkeys([here, *known_state_roots()]):
        folder = root / name
        lock = lock_path(name, root)
        if folder.exists() or (is_locked(lock) and not held_here(lock)):
            where = "" if root == here else f" in state root {root}"
            env = "" if root == here else f"MANRS_LAB_STATE_DIR={root} "
            raise DeployError(
                f"instance {name!r} exists already{where}: `{env}manrs-lab down {name}` first, "
                "or give `--instance OTHER-NAME` to run a second copy"
            )
    prefix = f"{NETNS_PREFIX}{name}--"
    taken = sorted(ns for ns in existing_namespaces() if ns.startswith(prefix))
    if taken:
        raise DeployError(
            f"instance {name!r}: namespaces {', '.join(taken)} exist already (a lab of another "
            "user or state root, or left by a crash: `manrs-lab doctor` tells which); give "
            "`--instance OTHER-NAME`"
        )


def _deploy(lab: Lab, inst: Instance, runtime: str, progress: Progress) -> UpResult:
    name = inst.name
    rt = make_runtime(runtime, lab)
    start = time.monotonic()
    try:
        rt.deploy(inst, progress)
    except BaseException:
        # deploy removed what it created; a record it did not get to remove goes too.
        if (inst.folder / RECORD).exists() and not inst.namespaces:
            inst.remove_folder()
        raise
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


def lint(lab_id: str, *, daemons: bool = True) -> Lab:
    """Load a lab as `up` does (every file, every cross-file rule) and, where the daemons are
    installed, run each node's starting config and solutions through the daemon's own dry run;
    SpecError naming the file and field (or the config file and line)."""
    lab = load_lab(lab_id)
    if not daemons:
        return lab
    try:
        require_binaries()
    except LabError:
        return lab  # nothing to dry-run with here; `up` will say what is missing
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="manrs-lab-lint-") as tmp:
        Path(tmp).chmod(0o755)  # FRR's dry run reads as user frr
        for name, node in lab.topology.nodes.items():
            config = lab.config_path(name)
            if config is None:
                continue
            try:
                check_node_config(node, Path(tmp) / name, config)
            except ConfigSyntaxError as exc:
                problems.append(f"nodes.{name}.config: {exc.path}: {exc.output}")
    if problems:
        raise SpecError(lab.folder / "lab.yaml", problems)
    return lab


def attach(name: str | None = None) -> RunningLab:
    """The running instance `name`, or the only one running when no name is given."""
    if name is None:
        running = list_instances()
        if len(running) != 1:
            names = ", ".join(i.name for i in running) or "none"
            raise NotRunningError(f"name the lab instance (running: {names})")
        inst = running[0]
    else:
        inst = load_instance(validate_instance_name(name))
    lab = load_lab(inst.lab_folder)
    runtime = make_runtime(inst.runtime, lab)
    if inst.runtime == "containerlab" and inst.ready:
        _forget_if_destroyed(inst, runtime)
    return RunningLab(inst, lab, runtime)


def _forget_if_destroyed(inst: Instance, runtime: Runtime) -> None:
    """A containerlab lab that `containerlab destroy` removed behind the project's back:
    drop its record (and the rendered file's folder) instead of reporting a broken lab."""
    from manrs_lab.runtime.clab_attach import destroyed_by_containerlab  # noqa: PLC0415
    from manrs_lab.runtime.containerlab import ContainerlabRuntime  # noqa: PLC0415

    if isinstance(runtime, ContainerlabRuntime) and destroyed_by_containerlab(inst, runtime):
        inst.remove_folder()
        lock = lock_path(inst.name)
        if not is_locked(lock):  # (a holder, `exclusive`, removes the one it holds)
            lock.unlink(missing_ok=True)
        raise NotRunningError(
            f"containerlab lab {runtime.clab_name(inst)!r} (instance {inst.name!r}) was destroyed"
        )


def _resolve_name(name: str | None) -> str:
    if name is not None:
        return validate_instance_name(name)
    return attach(None).instance.name


@contextmanager
def exclusive(
    name: str | None, what: str, progress: Progress, *, recover: bool = True
) -> Iterator[RunningLab]:
    """Hold instance `name`'s lock (waiting for, and saying so, whoever holds it), then attach
    to it afresh (a reset or down may have happened meanwhile) and withdraw whatever an
    interrupted check left (`recover`)."""
    resolved = _resolve_name(name)
    with instance_lock(resolved, what, progress) as path:
        try:
            running = attach(resolved)
        except NotRunningError:
            if not (state_root() / resolved).exists():
                remove_held_lock(path)  # made by our wait: the instance went away meanwhile
            raise
        if recover:
            withdraw_leftovers(running, progress)
        yield running


def withdraw_stale_probes(running: RunningLab, progress: Progress | None = None) -> list[str]:
    """For read-only callers (status, the notebook's live view): if a killed check left probes
    and nothing holds the instance now, withdraw them; never waits for a running check."""
    if ProbeJournal.of(running).empty():
        return []
    try:
        with instance_lock(running.instance.name, "withdrawing stale probes", wait=False):
            return withdraw_leftovers(running, progress or SilentProgress())
    except InstanceBusy:
        return []  # a live check owns those probes


def down(name: str | None, progress: Progress) -> str:
    resolved = _resolve_name(name)
    with exclusive(resolved, "`down`", progress, recover=False) as running:
        running.runtime.destroy(running.instance, progress)
        ProbeJournal.of(running).clear()
        remove_held_lock(lock_path(resolved).absolute())
    return resolved


def down_all(progress: Progress) -> list[str]:
    names = []
    for inst in list_instances():
        try:
            names.append(down(inst.name, progress))
        except NotRunningError:
            continue  # removed by someone else meanwhile
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
    withdraw_stale_probes(running)
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
    """Grade the instance: one check at a time per instance (a second waits its turn)."""
    with exclusive(name, "a check", progress) as running:
        return grade_exclusive(running, progress, seed=seed, tasks=tasks)


def grade_exclusive(
    running: RunningLab,
    progress: Progress,
    *,
    seed: int | None = None,
    tasks: list[str] | None = None,
) -> GradeReport:
    """Grade with the instance's lock held (`exclusive`): the journal marks the check as
    running, so a kill leaves a mark that the next caller cleans up after."""
    if tasks is not None:
        known = [t.id for t in running.lab.spec.tasks]
        unknown = [t for t in tasks if t not in known]
        if unknown or not tasks:
            raise LabError(
                f"no task {', '.join(map(repr, unknown)) or '(empty)'} in {running.lab.id} "
                f"(tasks: {', '.join(known)})"
            )
    journal = ProbeJournal.of(running)
    journal.begin_grading("a check")
    report = grade(running, progress, seed=seed, tasks=tasks)
    if journal.read()["probes"]:
        # A probe the grader could not withdraw (an error on the way out): do it now.
        withdraw_leftovers(running, progress)
    else:
        journal.end_grading()
    # Each failed check of a task reveals its next hint (remembered per instance).
    report = tutor.record(running.instance.folder, running.lab, report)
    _record_verdicts(report, progress)
    return report


def _record_verdicts(report: GradeReport, progress: Progress) -> None:
    """Keep the verdicts for the instructor's class view; never fails the check itself."""
    try:
        record_verdicts(report)
    except OSError as exc:
        progress.step(f"(verdicts not recorded for the class view: {exc})")


SHELL_SOLUTION_SUFFIX = ".sh"
REGISTRY_SOLUTION_SUFFIX = ".rpsl"  # an update of the lab's registry (irr_registry.updates)


NODE_DIR_ENV = "MANRS_LAB_NODE_DIR"


def run_shell_solution(running: RunningLab, node: str, script: str) -> None:
    """A solution file ending in `.sh` is a shell script run inside the node (sysctl, nft:
    what lives outside the routing daemon, e.g. anti-spoofing filters); it stops at the first
    failing command. $MANRS_LAB_NODE_DIR names the node's state folder where its daemons keep
    their files outside their default places (FRR's vty sockets in `run/`, BIRD's `bird.conf`
    and `bird.ctl`); empty in a container, where the defaults apply."""
    handle = running.handle(node)
    local = handle.local_dir
    folder = str(local) if local is not None else ""
    result = handle.exec(["env", f"{NODE_DIR_ENV}={folder}", "sh", "-e", "-c", script])
    if not result.ok:
        raise LabError(
            f"{node}: the solution script failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()}"
        )


def solve(name: str | None, progress: Progress, *, task: str | None = None) -> list[str]:
    """Apply the lab's reference solution (instructors, tests).

    `task`: in a staged lab, only that task's model answer, on top of the current state.
    """
    with exclusive(name, "`solve`", progress) as running:
        return _solve(running, progress, task)


def _solve(running: RunningLab, progress: Progress, task: str | None) -> list[str]:
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
    _revalidate(running, progress)
    return list(files)


def _revalidate(running: RunningLab, progress: Progress) -> None:
    """Validating routers re-check the routes they already hold, once they hold the VRPs: FRR
    filters a route again only when asked (a soft clear), so a model answer that adds ROV takes
    effect on routes learnt before its RTR session was up too, as a learner's `clear bgp ...
    soft in` makes it."""
    from manrs_lab import roa  # noqa: PLC0415 - the ROA portal needs the drivers

    for name in roa.validators(running):
        router = running.router(name)
        try:
            if router.rpki().connected:
                roa.revalidate(router)
        except ExecError:
            continue
    running.wait_converged(progress)


def _apply_solution(running: RunningLab, node: str, path: Path, progress: Progress) -> None:
    text = path.read_text()
    if path.suffix == SHELL_SOLUTION_SUFFIX:
        run_shell_solution(running, node, text)
    elif path.suffix == REGISTRY_SOLUTION_SUFFIX:
        # `node`'s operator updates the lab's registry (password: and delete: lines inside).
        from manrs_lab.irr_registry import updates  # noqa: PLC0415 - rarely needed

        if not running.registry:
            raise LabError(f"{path.name}: a registry update, but lab {running.lab.id} has none")
        updates.apply_update(running.registry, text)
    elif running.lab.topology.nodes[node].role is Role.RTR:
        # A solution for the RTR cache is the VRP file to publish (labs about ROAs).
        from manrs_lab import roa  # noqa: PLC0415 - the ROA portal needs the drivers

        roa.publish(running, roa.parse_vrp_file(text), progress)
    else:
        running.router(node).apply_config(text)


def reset(name: str | None, progress: Progress) -> UpResult:
    """Back to the starting configs: the same instance torn down and deployed again, with
    its lock held throughout (nothing else gets in between)."""
    with exclusive(name, "`reset`", progress, recover=False) as running:
        inst = running.instance
        running.runtime.destroy(inst, progress)
        if inst.clab_topology:  # attached: containerlab deploys its topology file again
            inst.ready = False
            return _deploy(running.lab, inst, inst.runtime, progress)
        return up(inst.lab_folder, progress, instance=inst.name, runtime=inst.runtime)
