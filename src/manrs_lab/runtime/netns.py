"""The embedded runtime: one network namespace per node, veth pairs, daemons as processes.

Interfaces are created straight inside the namespaces (`ip link add eth1 netns A type veth
peer name eth1 netns B`), so names repeat across instances and nothing appears in the host's
namespace. Daemons daemonize (or are detached) and outlive the CLI process; the instance record
and pidfiles under the state folder let any later process find and stop them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from ipaddress import ip_interface
from pathlib import Path

from manrs_lab.drivers import daemons, frr_parse
from manrs_lab.drivers.netns_thread import call_in_netns, call_in_new_netns
from manrs_lab.drivers.vty import vty_query
from manrs_lab.errors import ConfigSyntaxError, DeployError, ExecError, LabError
from manrs_lab.instance import Instance, pid_alive
from manrs_lab.progress import Progress
from manrs_lab.runtime.base import ExecResult
from manrs_lab.runtime.host_limits import ensure_neighbour_room
from manrs_lab.spec.loader import Lab
from manrs_lab.spec.topology import Node, Role, Topology

NETNS_DIR = Path("/run/netns")

ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.forwarding": "1",
}
COMMON_SYSCTLS = {
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.all.keep_addr_on_down": "1",
}
FIRST_IFINDEX = 100
STOP_TIMEOUT = 3.0
NODE_TCP_EHASH = 256  # buckets of a node's own TCP socket table (a node has a few dozen sockets)
READY_TIMEOUT = 10.0


def run(argv: list[str], *, input_text: str | None = None, timeout: float = 30.0) -> ExecResult:
    try:
        proc = subprocess.run(
            argv, input=input_text, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return ExecResult(tuple(argv), 124, "", f"timed out after {timeout:g} s: {exc}")
    except FileNotFoundError as exc:
        return ExecResult(tuple(argv), 127, "", str(exc))
    return ExecResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def existing_namespaces() -> set[str]:
    """Read /run/netns directly: `ip netns list` prints errors during parallel deletes."""
    try:
        return {p.name for p in NETNS_DIR.iterdir()}
    except FileNotFoundError:
        return set()


def namespace_pids(ns: str) -> list[int]:
    result = run(["ip", "netns", "pids", ns], timeout=5)
    return [int(p) for p in result.stdout.split() if p.isdigit()] if result.ok else []


SYSCTL_KEY_RE = re.compile(r"^net(\.[A-Za-z0-9_-]+)+$")
PROC_SYS = Path("/proc/sys")


def node_sysctls(node: Node, ifaces: list[str]) -> dict[str, str]:
    """The sysctls a node gets: the runtime's, then the topology's own."""
    sysctls = dict(COMMON_SYSCTLS)
    if node.role.is_router:
        sysctls.update(ROUTER_SYSCTLS)
    sysctls.update(dict(node.sysctls))
    for iface in ifaces:
        sysctls[f"net.ipv6.conf.{iface}.accept_dad"] = "0"
    return sysctls


def sysctl_path(key: str) -> Path:
    """`net.ipv4.ip_forward` -> /proc/sys/net/ipv4/ip_forward. Only `net.*` keys: those are
    the namespace's own; any other would change the host."""
    if not SYSCTL_KEY_RE.fullmatch(key):
        raise LabError(f"sysctl {key!r}: only net.* keys (letters, digits, _ and -) are allowed")
    return PROC_SYS.joinpath(*key.split("."))


def write_sysctls(netns: Path, sysctls: dict[str, str]) -> None:
    """Write sysctls as data into /proc/sys from a thread inside the namespace: no shell, no
    `sysctl` parsing; a value the kernel refuses is an error naming key and value."""

    def write() -> None:
        for key, value in sysctls.items():
            try:
                with sysctl_path(key).open("w") as fh:
                    fh.write(str(value))
            except OSError as exc:
                raise LabError(f"sysctl {key}={value!r}: {exc.strerror or exc}") from None

    call_in_netns(netns, write)


def exec_argv(line: str) -> list[str]:
    """A topology `exec:` line as a command's arguments (as containerlab runs them: split like
    a shell would, but never given to one)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise LabError(f"exec line {line!r}: {exc}") from None
    if not argv:
        raise LabError("exec line is empty")
    return argv


# A token `ip -batch` reads as the same argument a command line gives (no quotes, no `#`).
BATCH_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+=,-]+$")
BATCH_OPTIONS = {"-4", "-6"}  # options a batch keeps for all its lines (none takes a value)


@dataclass(frozen=True)
class Step:
    """One command of a node's set-up: `line` is the topology's `exec:` line it runs (None: a
    link brought up), `argv` the command."""

    line: str | None
    argv: tuple[str, ...]

    @property
    def options(self) -> tuple[str, ...]:
        """`ip`'s leading options (`-6`)."""
        out = []
        for a in self.argv[1:]:
            if not a.startswith("-"):
                break
            out.append(a)
        return tuple(out)

    @property
    def command(self) -> tuple[str, ...]:
        """What follows `ip [options]`: a batch line."""
        return self.argv[1 + len(self.options) :]

    @property
    def batchable(self) -> bool:
        return (
            self.argv[0] == "ip"
            and set(self.options) <= BATCH_OPTIONS
            and len(self.command) > 0
            and all(BATCH_SAFE.match(a) for a in self.command)
        )


def ip_batches(steps: list[Step]) -> list[list[Step]]:
    """Consecutive `ip` commands with the same options as one `ip -batch`, in their order (one
    process for a host's links, addresses and routes of a family instead of one each: `up` ran
    some forty `ip` processes for the capstone); any other command alone, in its place."""
    groups: list[list[Step]] = []
    for step in steps:
        last = groups[-1][0] if groups else None
        if step.batchable and last is not None and last.batchable and last.options == step.options:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def _failed_batch_line(stderr: str, lines: int) -> int:
    """The index of the batch line `ip -batch` stopped at (`Command failed -:N`)."""
    found = re.search(r"Command failed -:(\d+)", stderr)
    if found is None:
        return lines - 1
    return min(max(int(found.group(1)) - 1, 0), lines - 1)


def node_argv(ns: str, node: str, argv: Sequence[str]) -> list[str]:
    """`argv` in the node's network namespace and in a UTS namespace of its own whose hostname
    is the node's name: the daemons and the node's consoles see `edge`, not the host's name.
    (The grader's short-lived commands skip this: they never ask for the hostname.)"""
    return [
        "ip",
        "netns",
        "exec",
        ns,
        "unshare",
        "--uts",
        "--",
        "sh",
        "-c",
        'hostname "$0" && exec "$@"',
        node,
        *argv,
    ]


def check_node_config(node: Node, node_dir: Path, config: Path | None) -> None:
    """Copy `config` into `node_dir` and run the daemon's dry run on it. A refusal names the
    file the author edits (`labs/<lab>/configs/...`), not the state folder's copy: the copy is
    the same text (BIRD's gets one `include` line appended at the end), so lines match."""
    try:
        daemons.prepare(node.role, node_dir, config)
        daemons.syntax_check(node.role, node.name, node_dir)
    except ConfigSyntaxError as exc:
        if config is None:
            raise
        output = exc.output.replace(str(exc.path), str(config))
        raise ConfigSyntaxError(exc.node, config, output) from None
    except (UnicodeDecodeError, OSError) as exc:
        raise ConfigSyntaxError(node.name, config or node_dir, str(exc)) from None


class NetnsRuntime:
    name = "netns"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    # -- deploy ---------------------------------------------------------------------------
    def deploy(self, instance: Instance, progress: Progress) -> None:
        daemons.require_binaries()
        topo = self.lab.topology
        taken = {instance.netns(n) for n in topo.nodes} & existing_namespaces()
        if taken:
            raise DeployError(
                f"namespaces {', '.join(sorted(taken))} already exist: instance "
                f"{instance.name!r} is running (`manrs-lab down {instance.name}`) or was left "
                "behind (`manrs-lab doctor --dry-run` shows whose they are, `manrs-lab doctor` "
                "removes a crashed run's)"
            )
        from manrs_lab import irr_registry  # noqa: PLC0415 - it imports this module

        data = self.lab.registry_data
        if data is not None:
            if (
                irr_registry.registry_dir(instance.name).exists()
                or irr_registry.netns(instance.name) in existing_namespaces()
            ):
                # Someone's registry of that name (`manrs-lab registry up`): never ours to stop.
                raise DeployError(
                    f"a registry named {instance.name!r} exists already (its namespace "
                    f"{irr_registry.netns(instance.name)} or folder "
                    f"{irr_registry.registry_dir(instance.name)}): stop it (`manrs-lab "
                    f"registry down {instance.name}`) or give `--instance OTHER-NAME`"
                )
            instance.registry = instance.name
        instance.save()
        ensure_neighbour_room(progress)
        try:
            # The lab's registry (seconds: PostgreSQL, IRRd) starts beside the lab's network and
            # daemons; the configs' dry runs and the namespaces and links overlap too.
            with ThreadPoolExecutor(max_workers=2) as side:
                registry = (
                    side.submit(self._start_registry, instance, data, progress)
                    if data is not None
                    else None
                )
                checked = side.submit(self._prepare, instance, progress)
                self._create_network(instance, progress)
                checked.result()
                self._start_daemons(instance, progress)
                if registry is not None:
                    registry.result()
                    irr_registry.connect(instance.registry, instance.netns(self.lab.spec.learner))
                    progress.node(self.lab.spec.learner, "linked to the registry")
        except BaseException as exc:
            progress.step("deploy failed: removing what was created")
            self.destroy(instance, progress)
            if isinstance(exc, LabError):
                raise
            if isinstance(exc, Exception):
                raise DeployError(f"deploying {instance.name!r} failed: {exc}") from exc
            raise

    @staticmethod
    def _start_registry(instance: Instance, data: Path, progress: Progress) -> None:
        from manrs_lab import irr_registry  # noqa: PLC0415 - it imports this module

        irr_registry.start(instance.registry, data, progress, lab_link=True)

    def _prepare(self, instance: Instance, progress: Progress) -> None:
        progress.step("checking router configurations")

        def prepare(name: str, node: Node) -> None:
            node_dir = instance.node_dir(name)
            override = instance.config_overrides.get(name)
            config = Path(override) if override else self.lab.config_path(name)
            check_node_config(node, node_dir, config)

        # The dry runs are ~40 ms of vtysh start-up each: run them side by side.
        nodes = self.lab.topology.nodes
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = {name: pool.submit(prepare, name, node) for name, node in nodes.items()}
        for name, future in futures.items():
            future.result()  # the first node in topology order whose config fails, raises
            progress.node(name, "config ok")

    def _create_network(self, instance: Instance, progress: Progress) -> None:
        topo = self.lab.topology
        progress.step(f"creating {len(topo.nodes)} namespaces and {len(topo.links)} links")
        batch = [f"netns add {instance.netns(n)}" for n in topo.nodes]
        instance.namespaces = [instance.netns(n) for n in topo.nodes]
        instance.save()
        # Both ends of a veth would get the same ifindex in their fresh namespaces (2, 3, ...);
        # the kernel then treats their carrier change as not urgent and applies it up to 1 s
        # later (linkwatch), and zebra waits for it before it uses the link. Distinct indexes.
        for k, link in enumerate(topo.links):
            batch.append(
                f"link add {link.a.iface} netns {instance.netns(link.a.node)} "
                f"index {FIRST_IFINDEX + 2 * k} type veth "
                f"peer name {link.b.iface} netns {instance.netns(link.b.node)} "
                f"index {FIRST_IFINDEX + 2 * k + 1}"
            )

        # `ip` runs in a fresh namespace that hands its children a TCP socket table of their
        # own: a socket dump (BIRD's sessions, `tcp_diag`) then walks a lab node's few sockets,
        # not the host's table of some 262,144 buckets (4.6 ms a dump here).
        def create() -> ExecResult:
            # only makes dumps cheaper: a kernel without it (< 6.1), or a read-only /proc/sys,
            # leaves the nodes on the host's table
            with contextlib.suppress(OSError):
                sysctl_path("net.ipv4.tcp_child_ehash_entries").write_text(str(NODE_TCP_EHASH))
            return run(["ip", "-batch", "-"], input_text="\n".join(batch) + "\n")

        result = call_in_new_netns(create)
        if not result.ok:
            raise DeployError(f"creating namespaces and links failed: {result.stderr.strip()}")

        def setup(name: str) -> None:
            try:
                self._setup_node(instance, name)
            except LabError as exc:
                raise DeployError(
                    f"{name}: setting up interfaces failed (sysctls, links or an `exec:` line "
                    f"in {topo.path}): {exc}"
                ) from None
            progress.node(name, "network up")

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(topo.nodes)))) as pool:
            futures = [pool.submit(setup, name) for name in topo.nodes]
        for future in futures:
            future.result()

    def _setup_node(self, instance: Instance, name: str) -> None:
        """Sysctls (as data), links up, then the topology's `exec:` lines (commands, never a
        shell; consecutive `ip` lines of one family in one `ip -batch`)."""
        topo = self.lab.topology
        node = topo.nodes[name]
        ns = instance.netns(name)
        ifaces = [local.iface for local, _ in topo.links_of(name)]
        write_sysctls(NETNS_DIR / ns, node_sysctls(node, ifaces))
        steps = [Step(None, ("ip", "link", "set", i, "up")) for i in ["lo", *ifaces]]
        steps += [Step(line, tuple(exec_argv(line))) for line in node.exec]
        for group in ip_batches(steps):
            first = group[0]
            if not first.batchable:  # alone: not `ip`, or words a batch line cannot carry
                argv = first.argv
                cmd = (
                    ["ip", "-n", ns, *argv[1:]]
                    if argv[0] == "ip"
                    else ["ip", "netns", "exec", ns, *argv]
                )
                result = run(cmd)
                if not result.ok:
                    raise LabError(f"{first.line!r}: {(result.stderr or result.stdout).strip()}")
                continue
            batch = "".join(" ".join(step.command) + "\n" for step in group)
            result = run(["ip", "-n", ns, *first.options, "-batch", "-"], input_text=batch)
            if not result.ok:
                failed = group[_failed_batch_line(result.stderr, len(group))]
                error = "\n".join(
                    x
                    for x in result.stderr.strip().splitlines()
                    if not x.startswith("Command failed")
                )
                if failed.line is None:
                    raise LabError(f"bringing links up: {error}")
                raise LabError(f"{failed.line!r}: {error or result.stdout.strip()}")

    def _start_daemons(self, instance: Instance, progress: Progress) -> None:
        topo = self.lab.topology
        progress.step("starting routing daemons")
        # First what needs no other daemon (zebra, BIRD, stayrtr), until zebra holds the
        # connected routes of its addresses: a BGP speaker that connects to a neighbour not yet
        # listening then gets a refusal at once, and waits for the neighbour's own connection.
        self._in_parallel(list(topo.nodes), lambda name: self._start_node(instance, name, 1))
        self._wait_connected_routes(instance)
        # Then bgpd and staticd, in an order that opens sessions fast (start_groups).
        for group in start_groups(topo):
            self._in_parallel(group, lambda name: self._start_node(instance, name, 2))
        self._wait_ready(instance)
        boots = []
        for name, node in topo.nodes.items():
            argv_boot = daemons.boot_argv(node.role, instance.node_dir(name))
            if argv_boot is not None:
                boots.append(
                    (
                        name,
                        subprocess.Popen(
                            argv_boot, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                        ),
                    )
                )
        for name, boot in boots:
            out, _ = boot.communicate(timeout=30)
            if boot.returncode != 0:
                raise DeployError(f"{name}: applying frr.conf failed: {out.strip()}")
        for name in topo.nodes:
            progress.node(name, "daemons started")

    @staticmethod
    def _in_parallel(names: list[str], start: Callable[[str], None]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            futures = [pool.submit(start, name) for name in names]
        for future in futures:
            future.result()

    def _wait_connected_routes(self, instance: Instance) -> None:
        """Until zebra holds a selected connected route for every address in its config part.

        Not the kernel's view: bgpd asks zebra (next-hop tracking) whether a neighbour is
        reachable, and one that zebra does not know yet waits in Active (measured: ~1 s)."""
        pending = {
            name: {str(ip_interface(a).network) for a in wanted}
            for name, node in self.lab.topology.nodes.items()
            if (wanted := daemons.config_addresses(node.role, instance.node_dir(name)))
        }
        deadline = time.monotonic() + READY_TIMEOUT
        while pending:
            for name in list(pending):
                sock = instance.node_dir(name) / "run" / "zebra.vty"
                known: set[str] = set()
                for family in ("ip", "ipv6"):
                    with contextlib.suppress(ExecError, ValueError):
                        table = json.loads(vty_query(sock, f"show {family} route connected json"))
                        known |= frr_parse.selected_prefixes(table)
                if pending[name] <= known:
                    del pending[name]
            if not pending:
                return
            if time.monotonic() > deadline:
                missing = "; ".join(f"{n}: {', '.join(sorted(a))}" for n, a in pending.items())
                raise DeployError(f"zebra has no connected route yet for {missing}")
            time.sleep(0.005)

    def _start_node(self, instance: Instance, name: str, phase: int) -> None:
        """Start one node's daemons of `phase` (1: need no other's socket; 2: the rest) in
        order; daemonizing ones are waited for. They are started from a thread inside the
        node's network namespace with a UTS namespace named after the node (no `ip netns exec`,
        `unshare`, `sh` and `hostname` processes before each daemon: ~3 ms of CPU each)."""
        node = self.lab.topology.nodes[name]
        node_dir = instance.node_dir(name)
        todo = [
            launch
            for launch in daemons.launches(node.role, node_dir, rpki=self._rpki(node_dir))
            if (launch.after is None) == (phase == 1)
        ]
        if todo:
            call_in_netns(
                NETNS_DIR / instance.netns(name),
                lambda: self._launch(name, node_dir, todo),
                hostname=name,
            )

    def _rpki(self, node_dir: Path) -> bool:
        """Whether bgpd loads its RPKI module (~20 ms of CPU a start): in a lab with an RTR
        cache, or where the node's own config has RPKI lines (a saved config replayed)."""
        if any(n.role is Role.RTR for n in self.lab.topology.nodes.values()):
            return True
        return daemons.mentions_rpki(node_dir)

    def _launch(self, name: str, node_dir: Path, todo: list[daemons.Launch]) -> None:
        """In the node's namespaces (call_in_netns): start `todo` in order."""
        for launch in todo:
            if launch.after is not None:
                self._wait_files({launch.after})
            if launch.foreground:
                assert launch.log is not None
                assert launch.pidfile is not None
                with launch.log.open("ab") as log:
                    detached = subprocess.Popen(
                        launch.argv,
                        stdout=log,
                        stderr=log,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                        cwd=node_dir,
                    )
                launch.pidfile.write_text(f"{detached.pid}\n")
                continue
            proc = subprocess.run(
                launch.argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                stdin=subprocess.DEVNULL,
                cwd=node_dir,
                timeout=30,
                check=False,
            )
            if proc.returncode != 0:
                raise DeployError(
                    f"{name}: {Path(launch.argv[0]).name} did not start: {proc.stdout}"
                )
            try:
                daemons.push_config(launch)
            except ExecError as exc:
                raise DeployError(f"{name}: {Path(launch.argv[0]).name} refused: {exc}") from exc

    def _wait_ready(self, instance: Instance) -> None:
        self._wait_files(
            {
                path
                for name, node in self.lab.topology.nodes.items()
                for path in daemons.ready_files(node.role, instance.node_dir(name))
            }
        )

    @staticmethod
    def _wait_files(pending: set[Path]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while pending:
            pending = {p for p in pending if not p.exists()}
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(sorted(str(p) for p in pending))
                raise DeployError(f"daemons did not open their control sockets: {names}")
            time.sleep(0.01)

    # -- destroy --------------------------------------------------------------------------
    def destroy(self, instance: Instance, progress: Progress) -> None:
        from manrs_lab import irr_registry  # noqa: PLC0415 - it imports this module

        progress.step(f"stopping daemons of {instance.name}")
        present = existing_namespaces()
        namespaces = [ns for ns in instance.namespaces if ns in present]
        first: list[int] = []
        last: list[int] = []
        for name, role_text in instance.nodes.items():
            role = Role(role_text)
            pids = daemons.daemon_pids(role, instance.node_dir(name))
            if role is Role.FRR and pids:
                first.extend(pids[:-1])
                last.append(pids[-1])
            else:
                first.extend(pids)
        for ns in namespaces:
            first.extend(p for p in namespace_pids(ns) if p not in first and p not in last)
        stop_processes(first)
        stop_processes(last)
        # Anything still inside (a shell a learner left, a stuck daemon): by namespace, not name.
        stop_processes([p for ns in namespaces for p in namespace_pids(ns)])
        progress.step(f"removing {len(namespaces)} namespaces")
        if namespaces:
            batch = "".join(f"netns del {ns}\n" for ns in namespaces)
            run(["ip", "-force", "-batch", "-"], input_text=batch)
        if instance.registry:
            progress.step(f"stopping registry {instance.registry}")
            irr_registry.stop(instance.registry)
        left = set(namespaces) & existing_namespaces()
        if instance.registry and irr_registry.netns(instance.registry) in existing_namespaces():
            left.add(irr_registry.netns(instance.registry))
        if left:
            raise LabError(f"could not remove namespaces {', '.join(sorted(left))}")
        instance.remove_folder()

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
        ns = instance.netns(node)
        return run(["ip", "netns", "exec", ns, *argv], input_text=input_text, timeout=timeout)

    def node_running(self, instance: Instance, node: str) -> bool:
        if instance.netns(node) not in existing_namespaces():
            return False
        role = Role(instance.nodes[node])
        pids = daemons.daemon_pids(role, instance.node_dir(node))
        expected = len(daemons.pidfiles(role, instance.node_dir(node)))
        return len(pids) == expected and all(pid_alive(p) for p in pids)

    def local_dir(self, instance: Instance, node: str) -> Path | None:
        return instance.node_dir(node)

    def netns_path(self, instance: Instance, node: str) -> Path | None:
        return NETNS_DIR / instance.netns(node)


def start_groups(topo: Topology) -> list[list[str]]:
    """Nodes in start order, so that on every session one end is listening when the other
    connects, without both connecting at once (a BGP collision can stall a session):

    1. RTR caches and BIRD routers: they start in milliseconds and, with BIRD's default connect
       delay (5 s), wait for their FRR neighbours to connect;
    2. FRR routers covering every pair of FRR routers that can peer (over a link, or through
       one non-router node such as an IXP's switch; greedy vertex cover);
    3. the rest.

    Lab configs make bgpd connect as soon as it has read its config; the later end of each
    session connects to the earlier, listening one. A config that does not (no explicit
    `activate`, or booted through `vtysh -b`) waits FRR's 1 s start timer, and FRR accepts a
    connection before it fires: then the early, uncrowded start of one end of every pair is
    what brings the session up 1 s after the first end started.
    """
    frr = {n.name for n in topo.nodes.values() if n.role is Role.FRR}
    neighbors: dict[str, set[str]] = {n: set() for n in topo.nodes}
    for link in topo.links:
        neighbors[link.a.node].add(link.b.node)
        neighbors[link.b.node].add(link.a.node)
    pairs: set[frozenset[str]] = set()
    for name, near in neighbors.items():
        if name in frr:
            pairs |= {frozenset((name, other)) for other in near & frr}
        elif not topo.nodes[name].role.is_router:
            attached = sorted(near & frr)
            pairs |= {frozenset((a, b)) for a in attached for b in attached if a < b}
    listeners = [n.name for n in topo.nodes.values() if n.role in (Role.RTR, Role.BIRD)]
    cover: list[str] = []
    while pairs:
        degree = {n: sum(n in p for p in pairs) for n in topo.nodes}
        pick = max(topo.nodes, key=lambda n: degree[n])  # ties: topology order
        cover.append(pick)
        pairs = {p for p in pairs if pick not in p}
    rest = [n for n in topo.nodes if n not in listeners and n not in cover]
    return [group for group in (listeners, cover, rest) if group]


def stop_processes(pids: list[int], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait (zombies count as gone), then SIGKILL what is left."""
    live = [p for p in dict.fromkeys(pids) if pid_alive(p)]
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        live = [p for p in live if pid_alive(p)]
        if live:
            time.sleep(0.01)
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        live = [p for p in live if pid_alive(p)]
        if live:
            time.sleep(0.01)
