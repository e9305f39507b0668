"""Grade a lab that containerlab deployed itself: `manrs-lab attach NAME`.

`containerlab deploy -t topologies/<lab>.clab.yml` brings a lab up as the repository ships it
(see spec/topology: every node binds the lab's starting config). `attach` finds it with
`containerlab inspect --name NAME` (NAME: the topology's `name:`, or the `--name` it was
deployed with), takes the topology file from what containerlab reports (`absLabPath`, the
`clab-topo-file` label), finds the lab whose `lab.yaml` names that topology, checks that every
node's container runs, and writes an instance record (runtime containerlab, `clab_name`,
`clab_topology`): from then on check, solve, reset, status and down work on it as on an
instance of the project's own (reset: `containerlab destroy` and `deploy -t` of the same file;
down: `containerlab destroy --cleanup`). The record is the only thing the project writes, in its
own state folder; when containerlab destroys the lab itself, the next command that looks for the
instance finds the containers gone and drops the record.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

from manrs_lab.errors import DeployError, LabError, NotRunningError
from manrs_lab.instance import Instance, validate_instance_name
from manrs_lab.locking import InstanceBusy, instance_lock, names_claim, remove_held_lock
from manrs_lab.paths import register_state_root, state_root
from manrs_lab.progress import Progress
from manrs_lab.runtime.clab_inspect import ClabContainer
from manrs_lab.runtime.containerlab import CONTAINERLAB, ContainerlabRuntime, inspect_lab
from manrs_lab.spec.loader import Lab, load_lab
from manrs_lab.spec.yaml_files import load_yaml_file


def topology_of(name: str, containers: list[ClabContainer]) -> Path:
    """The topology file containerlab deployed lab `name` from (one file for all its nodes)."""
    paths = {c.lab_path for c in containers if c.lab_path}
    if len(paths) != 1:
        found = ", ".join(sorted(paths)) or "none"
        raise LabError(
            f"containerlab lab {name!r}: cannot tell which topology file it was deployed from "
            f"(containerlab inspect reports: {found})"
        )
    path = Path(paths.pop())
    if not path.is_file():
        raise LabError(f"containerlab lab {name!r} was deployed from {path}, which is not there")
    return path


def lab_for_topology(topology: Path) -> Lab:
    """The lab whose lab.yaml names this topology (`labs/` beside `topologies/`)."""
    labs = topology.resolve().parent.parent / "labs"
    stem = topology.name.removesuffix(".clab.yml").removesuffix(".clab.yaml")
    for lab_file in sorted(labs.glob("*/lab.yaml")):
        raw = load_yaml_file(lab_file)
        if isinstance(raw, dict) and raw.get("topology") == stem:
            lab = load_lab(str(lab_file))
            if lab.topology.path.resolve() == topology.resolve():
                return lab
    raise LabError(f"no lab in {labs} uses topology {topology.name}: nothing to grade it with")


def _check_nodes(name: str, lab: Lab, containers: list[ClabContainer]) -> None:
    by_node = {c.node: c for c in containers}
    missing = [n for n in lab.topology.nodes if n not in by_node]
    stopped = [
        f"{n} ({by_node[n].state})"
        for n in lab.topology.nodes
        if n in by_node and not by_node[n].running
    ]
    if missing or stopped:
        parts = []
        if missing:
            parts.append(f"no container for {', '.join(missing)}")
        if stopped:
            parts.append(f"not running: {', '.join(stopped)}")
        raise LabError(
            f"containerlab lab {name!r} is not the whole lab {lab.id}: {'; '.join(parts)} "
            f"(`containerlab destroy -t {lab.topology.path} --cleanup` and deploy it again)"
        )


def attach(name: str, progress: Progress, *, instance: str | None = None) -> Instance:
    """Record containerlab's lab `name` as an instance (named `instance`, default `name`),
    once every node is ready and BGP converged; return the record."""
    from manrs_lab import operations  # noqa: PLC0415 - operations imports the runtimes
    from manrs_lab.running import RunningLab  # noqa: PLC0415

    inst_name = validate_instance_name(instance if instance is not None else name)
    progress.step(f"containerlab inspect --name {name}")
    containers = [c for c in inspect_lab(name) if c.lab_name in ("", name)]
    if not containers:
        raise NotRunningError(
            f"containerlab has no lab {name!r}: deploy one first "
            f"(`containerlab deploy -t topologies/LAB.clab.yml`)"
        )
    topology = topology_of(name, containers)
    lab = lab_for_topology(topology)
    _check_nodes(name, lab, containers)
    with ExitStack() as held:
        with names_claim():
            operations._refuse_taken(inst_name)
            try:
                lock = held.enter_context(
                    instance_lock(inst_name, "`attach`", progress, wait=False)
                )
            except InstanceBusy as exc:
                raise DeployError(f"{exc}: give `--instance OTHER-NAME`") from None
            inst = Instance(
                name=inst_name,
                lab=lab.id,
                runtime="containerlab",
                lab_folder=str(lab.folder),
                nodes={n: node.role.value for n, node in lab.topology.nodes.items()},
                clab_name=name,
                clab_topology=str(topology.resolve()),
            )
            register_state_root(state_root())
            inst.save()
        runtime = ContainerlabRuntime(lab)
        try:
            runtime.wait_ready(inst, progress)
            RunningLab(inst, lab, runtime).wait_converged(progress)
        except BaseException:
            inst.remove_folder()  # the record only: the lab is containerlab's
            remove_held_lock(lock)
            raise
        inst.ready = True
        inst.save()
        return inst


def destroyed_by_containerlab(inst: Instance, runtime: ContainerlabRuntime) -> bool:
    """containerlab is here and has no container of the instance's lab any more (`containerlab
    destroy`); where containerlab is absent, nothing can be told: False."""
    if shutil.which(CONTAINERLAB) is None:
        return False
    return not runtime.lab_containers(inst)
