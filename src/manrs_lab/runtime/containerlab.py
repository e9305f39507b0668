"""The containerlab runtime: the instance rendered to a containerlab file, containers as nodes.

`deploy` writes `<state>/<instance>/<instance>.clab.yml` (see clab_render) and runs
`containerlab deploy -t FILE`; `destroy` runs `containerlab destroy -t FILE --cleanup` and then
removes by name any `clab-<instance>-<node>` container still there; `node_running` reads
`containerlab inspect --name NAME --format json`. An attached instance (`manrs-lab attach`: a
lab containerlab deployed from `topologies/<lab>.clab.yml`) has no rendered file: its record
names the containerlab lab and topology file, and deploy/destroy use those (a reset deploys
the topology file again). Commands inside nodes go through the Docker SDK
into `clab-<instance>-<node>`; nodes have no local folder (`local_dir` is None), so the drivers
talk to FRR with `vtysh -c`, to BIRD with `birdc`, and write files with `cat > FILE`.
"""

from __future__ import annotations

import re
import shlex
import shutil
import time
from pathlib import Path

from manrs_lab.drivers.daemons import RTR_PORT
from manrs_lab.errors import ConfigSyntaxError, DeployError, LabError
from manrs_lab.instance import Instance
from manrs_lab.progress import Progress
from manrs_lab.runtime import clab_render
from manrs_lab.runtime.base import ExecResult
from manrs_lab.runtime.clab_inspect import ClabContainer, parse_inspect
from manrs_lab.runtime.docker_exec import DockerExec, load_sdk
from manrs_lab.runtime.netns import run
from manrs_lab.spec.loader import Lab
from manrs_lab.spec.topology import Role

CONTAINERLAB = "containerlab"
CONTAINERLAB_HINT = (
    "containerlab is not installed. Install it with its own installer (see "
    "https://containerlab.dev/install/), or use the embedded runtime, which needs no Docker: "
    "`manrs-lab up LAB` (--runtime netns)"
)
PROJECT_IMAGES = "manrs-lab/"
DEPLOY_TIMEOUT = 600.0
DESTROY_TIMEOUT = 300.0
READY_TIMEOUT = 30.0
INSPECT_TTL = 1.0
# What says a node's daemons answer (and FRR has applied frr.conf): see docker/*/entrypoint.sh.
# stayrtr: a socket listening on its port in /proc/net/tcp6 or tcp (the image has no ss).
READY_PROBES: dict[Role, list[str]] = {
    Role.FRR: ["test", "-e", "/var/run/frr/.manrs-ready"],
    Role.BIRD: ["test", "-S", "/run/bird/bird.ctl"],
    Role.RTR: [
        "sh",
        "-c",
        f"grep -Eq ':{RTR_PORT:04X} [0-9A-F]+:0000 0A' /proc/net/tcp6 /proc/net/tcp",
    ],
}


def require_containerlab() -> str:
    found = shutil.which(CONTAINERLAB)
    if found is None:
        raise LabError(CONTAINERLAB_HINT)
    return found


def inspect_lab(name: str) -> list[ClabContainer]:
    """`containerlab inspect --name NAME --format json`: the lab's containers (none: [])."""
    binary = require_containerlab()
    result = run([binary, "inspect", "--name", name, "--format", "json"], timeout=60)
    if not result.ok:
        output = (result.stderr + result.stdout).strip()
        if "no containers found" in output.lower():
            return []
        raise LabError(f"`containerlab inspect --name {name}` failed: {output[-1000:]}")
    return parse_inspect(result.stdout)


# containerlab runs a node's `exec:` lines after the deploy and, when one fails, logs this
# (clab/exec ExecCollection.Log) and still exits 0: the lab would be missing addresses.
EXEC_FAILED = re.compile(r'Failed to execute command "?(.*?)"? on the node "?([^".\s]+)"?')


def exec_failures(output: str) -> str:
    """The `exec:` lines containerlab's deploy output says failed ('' when none)."""
    found = [f"{node}: {line!r}" for line, node in EXEC_FAILED.findall(output)]
    return "; ".join(found)


class ContainerlabRuntime:
    name = "containerlab"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.docker = DockerExec()
        self._inspected: dict[str, tuple[float, dict[str, ClabContainer]]] = {}

    # -- names ----------------------------------------------------------------------------
    def clab_file(self, instance: Instance) -> Path:
        if instance.clab_topology:
            return Path(instance.clab_topology)
        return clab_render.clab_file(instance)

    @staticmethod
    def clab_name(instance: Instance) -> str:
        """The lab's name as containerlab knows it."""
        return instance.clab_name or instance.name

    def container(self, instance: Instance, node: str) -> str:
        return clab_render.container_name(self.clab_name(instance), node)

    def render(self, instance: Instance) -> Path:
        """Write the containerlab file and the configs it mounts (no containers yet)."""
        return clab_render.render(self.lab, instance)

    # -- deploy ---------------------------------------------------------------------------
    def deploy(self, instance: Instance, progress: Progress) -> None:
        if self.lab.spec.registry is not None:
            # The registry (IRRd, PostgreSQL, Redis) runs in a network namespace beside the
            # lab's; wiring it to a container is not built (docs/architecture.md).
            raise DeployError(
                f"lab {self.lab.id} has a routing registry (lab.yaml `registry:`), which only "
                "the netns runtime starts: run it with `--runtime netns` (the default)"
            )
        binary = require_containerlab()
        self.docker.client()  # a LabError naming what to install when Docker is missing
        self._require_images()
        taken = [
            self.container(instance, n)
            for n in self.lab.topology.nodes
            if self.docker.state(self.container(instance, n)) is not None
        ]
        if taken:
            raise DeployError(
                f"containers {', '.join(taken)} already exist: instance {instance.name!r} is "
                f"running (`manrs-lab down {instance.name}`) or was left behind (`containerlab "
                f"destroy --name {instance.name} --cleanup`, or `docker rm -f` them)"
            )
        instance.save()
        try:
            if instance.clab_topology:
                path = self.clab_file(instance)  # the topology file as it stands
            else:
                progress.step("rendering the containerlab file and node configs")
                path = self.render(instance)
            argv = [binary, "deploy", "-t", str(path), "--name", self.clab_name(instance)]
            progress.step(shlex.join(argv[1:]))
            result = run(argv, timeout=DEPLOY_TIMEOUT)
            if not result.ok:
                self._stopped_node(instance)  # a node that died says why (config, image)
                output = (result.stderr + result.stdout).strip()
                raise DeployError(f"`containerlab deploy -t {path}` failed: {output[-2000:]}")
            failed_exec = exec_failures(result.stderr + result.stdout)
            if failed_exec:
                raise DeployError(f"{path}: an `exec:` line failed: {failed_exec}")
            self.wait_ready(instance, progress)
        except BaseException as exc:
            progress.step("deploy failed: removing what was created")
            self.destroy(instance, progress)
            if isinstance(exc, LabError):
                raise
            if isinstance(exc, Exception):
                raise DeployError(f"deploying {instance.name!r} failed: {exc}") from exc
            raise

    def _require_images(self) -> None:
        """The project's images are built locally (docker/build-images.sh), never pulled."""
        sdk = load_sdk()
        images = self.docker.client().images
        missing = []
        for image in sorted({n.image for n in self.lab.topology.nodes.values() if n.image}):
            if not image.startswith(PROJECT_IMAGES):
                continue  # containerlab pulls other images itself
            try:
                images.get(image)
            except sdk.errors.ImageNotFound:
                missing.append(image)
        if missing:
            raise LabError(
                f"missing container images: {', '.join(missing)}. Build them with "
                "docker/build-images.sh (no registry needed)."
            )

    def wait_ready(self, instance: Instance, progress: Progress) -> None:
        """Until every node's daemons answer; then FRR's own check of the config it applied."""
        pending = {name: node.role for name, node in self.lab.topology.nodes.items()}
        deadline = time.monotonic() + READY_TIMEOUT
        while pending:
            for name, role in list(pending.items()):
                cname = self.container(instance, name)
                state = self.docker.state(cname)
                if state != "running":
                    self._container_failed(instance, name, role, state)
                probe = READY_PROBES.get(role)
                if probe is None or self.docker.run(cname, probe, timeout=10).ok:
                    del pending[name]
                    progress.node(name, "daemons ready")
            if not pending:
                break
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {n} ---\n{self.docker.logs(self.container(instance, n), 10)}"
                    for n in pending
                )
                raise DeployError(f"daemons did not become ready: {', '.join(pending)}\n{logs}")
            time.sleep(0.1)
        for name, node in self.lab.topology.nodes.items():
            # The copy this instance mounts, or (attached) the lab's file the topology binds.
            conf = instance.node_dir(name) / "frr.conf"
            if not conf.exists() and instance.clab_topology:
                conf = self.lab.config_path(name) or conf
            if node.role is not Role.FRR or not conf.exists():
                continue
            check = self.exec(instance, name, ["vtysh", "-C", "-f", "/etc/frr/frr.conf"])
            if not check.ok:
                raise ConfigSyntaxError(name, conf, check.stdout + check.stderr)
            # containerlab starts the daemons before it wires the links, so FRR's first RTR
            # connection fails, and FRR tries again only after `rpki retry_interval` (600 s
            # by default): now that links, addresses and the cache are up, connect at once.
            if any(line.strip().startswith("rpki cache") for line in conf.read_text().splitlines()):
                self.exec(instance, name, ["vtysh", "-c", "rpki reset"])

    def _stopped_node(self, instance: Instance) -> None:
        """Raise the error of the first node whose container was created and is not running."""
        for name, node in self.lab.topology.nodes.items():
            state = self.docker.state(self.container(instance, name))
            if state not in (None, "running"):
                self._container_failed(instance, name, node.role, state)

    def _container_failed(
        self, instance: Instance, name: str, role: Role, state: str | None
    ) -> None:
        cname = self.container(instance, name)
        logs = self.docker.logs(cname, 30)
        if role is Role.BIRD and "configuration check" in logs:
            raise ConfigSyntaxError(name, instance.node_dir(name) / "bird.conf", logs)
        raise DeployError(f"{name}: container {cname} is {state or 'missing'}; its log:\n{logs}")

    # -- destroy --------------------------------------------------------------------------
    def destroy(self, instance: Instance, progress: Progress) -> None:
        path = self.clab_file(instance)
        problems: list[str] = []
        binary = shutil.which(CONTAINERLAB)
        if binary is not None and path.exists():
            argv = [binary, "destroy", "-t", str(path), "--name", self.clab_name(instance)]
            progress.step(shlex.join([*argv[1:], "--cleanup"]))
            result = run([*argv, "--cleanup"], timeout=DESTROY_TIMEOUT)
            if not result.ok:
                problems.append(f"containerlab destroy: {(result.stderr + result.stdout).strip()}")
        # Whatever containerlab left (or could not be asked about): by name.
        names = [self.container(instance, n) for n in instance.nodes]
        try:
            for cname in names:
                if self.docker.remove(cname):
                    progress.node(cname, "removed")
            left = [c for c in names if self.docker.state(c) is not None]
        except LabError as exc:
            if problems or binary is None:
                raise LabError(
                    f"could not remove the containers of {instance.name!r}: "
                    + "; ".join([*problems, str(exc)])
                ) from exc
            left = []
        if left:
            raise LabError(f"could not remove containers {', '.join(left)}: {'; '.join(problems)}")
        self._inspected.pop(instance.name, None)
        instance.remove_folder()

    # -- status ---------------------------------------------------------------------------
    def inspect(self, instance: Instance) -> list[ClabContainer]:
        """`containerlab inspect --name NAME --format json`, typed."""
        return inspect_lab(self.clab_name(instance))

    def _inspect_by_node(self, instance: Instance) -> dict[str, ClabContainer]:
        now = time.monotonic()
        cached = self._inspected.get(instance.name)
        if cached is not None and now - cached[0] < INSPECT_TTL:
            return cached[1]
        name = self.clab_name(instance)
        found = {c.node: c for c in self.inspect(instance) if c.lab_name in ("", name)}
        self._inspected[instance.name] = (now, found)
        return found

    def lab_containers(self, instance: Instance) -> dict[str, ClabContainer]:
        """The lab's containers by node, as containerlab reports them (cached for a second)."""
        return self._inspect_by_node(instance)

    def node_running(self, instance: Instance, node: str) -> bool:
        """As containerlab reports it; from Docker directly where containerlab is absent.

        A running container means running daemons: the FRR entrypoint exits when a daemon dies,
        and BIRD and stayrtr are the containers' main processes."""
        if shutil.which(CONTAINERLAB) is not None:
            found = self._inspect_by_node(instance).get(node)
            return found is not None and found.running
        return self.docker.state(self.container(instance, node)) == "running"

    # -- access ---------------------------------------------------------------------------
    def exec(
        self,
        instance: Instance,
        node: str,
        argv: list[str],
        *,
        input_text: str | None = None,
        timeout: float = 30.0,
    ) -> ExecResult:
        return self.docker.run(
            self.container(instance, node), argv, input_text=input_text, timeout=timeout
        )

    def local_dir(self, instance: Instance, node: str) -> Path | None:
        return None

    def netns_path(self, instance: Instance, node: str) -> Path | None:
        return None
