"""The project's container images run real routers that talk BGP to each other.

Wires two ``manrs-lab/frr`` containers and one ``manrs-lab/bird`` container the way
containerlab does (``--network none``, a veth pair made on the host, its ends moved into the
containers' network namespaces by pid and renamed ``eth1``/``eth2``), then checks that the
BGP sessions reach Established and that prefixes cross both daemons::

    r1 (FRR, AS65001)        r2 (FRR, AS65002)              b3 (BIRD, AS65003)
    eth1 --- 10.0.12.0/24 --- eth1      eth2 --- 10.0.23.0/24 --- eth1
    announces 192.0.2.0/24                                     announces 198.51.100.0/24

All addresses live inside the containers' own namespaces; nothing is routed out.
Needs root and a running Docker engine (``docker/start-dockerd.sh``); builds the images with
``docker/build-images.sh`` when they are missing (or always, with MANRS_LAB_REBUILD_IMAGES=1).
Containers and veths are removed at the end, whatever the outcome.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "docker" / "build-images.sh"
FRR_IMAGE = "manrs-lab/frr:latest"
BIRD_IMAGE = "manrs-lab/bird:latest"
RTR_IMAGE = "manrs-lab/rtr:latest"
HOST_IMAGE = "manrs-lab/host:latest"
ALL_IMAGES = (FRR_IMAGE, BIRD_IMAGE, RTR_IMAGE, HOST_IMAGE)
CAPS = ["--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_ADMIN"]
SYSCTLS = [
    "--sysctl", "net.ipv4.ip_forward=1",
    "--sysctl", "net.ipv4.conf.all.rp_filter=0",
    "--sysctl", "net.ipv4.conf.default.rp_filter=0",
    "--sysctl", "net.ipv6.conf.all.forwarding=1",
]  # fmt: skip
CONVERGE_TIMEOUT = 60.0

FRR_R1 = """\
frr defaults traditional
hostname r1
!
ip route 192.0.2.0/24 blackhole
!
router bgp 65001
 bgp router-id 10.0.12.1
 no bgp ebgp-requires-policy
 bgp route-map delay-timer 0
 timers bgp 3 9
 neighbor 10.0.12.2 remote-as 65002
 neighbor 10.0.12.2 timers connect 5
 address-family ipv4 unicast
  network 192.0.2.0/24
 exit-address-family
exit
!
"""

FRR_R2 = """\
frr defaults traditional
hostname r2
!
router bgp 65002
 bgp router-id 10.0.23.2
 no bgp ebgp-requires-policy
 bgp route-map delay-timer 0
 timers bgp 3 9
 neighbor 10.0.12.1 remote-as 65001
 neighbor 10.0.12.1 timers connect 5
 neighbor 10.0.23.3 remote-as 65003
 neighbor 10.0.23.3 timers connect 5
exit
!
"""

BIRD_B3 = """\
router id 10.0.23.3;
log stderr all;

protocol device { }

protocol static announce {
  ipv4;
  route 198.51.100.0/24 blackhole;
}

protocol bgp r2 {
  local 10.0.23.3 as 65003;
  neighbor 10.0.23.2 as 65002;
  hold time 9;
  keepalive time 3;
  connect retry time 5;
  ipv4 {
    import all;
    export where proto = "announce";
  };
}
"""


FRR_RPKI = """\
frr defaults traditional
hostname r1
!
ip route 192.0.2.0/24 blackhole
!
router bgp 65001
 bgp router-id 10.0.1.1
 no bgp ebgp-requires-policy
 bgp route-map delay-timer 0
 timers bgp 3 9
 address-family ipv4 unicast
  network 192.0.2.0/24
 exit-address-family
exit
!
rpki
 rpki retry_interval 5
 rpki cache 10.0.99.1 8282 preference 1
exit
!
"""

VRPS = {"roas": [{"prefix": "192.0.2.0/24", "maxLength": 24, "asn": "AS65001"}]}
VRPS_MORE = {
    "roas": [
        *VRPS["roas"],
        {"prefix": "198.51.100.0/24", "maxLength": 24, "asn": 65003},
    ]
}


def run(
    argv: list[str], *, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n"
            f"stdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}"
        )
    return proc


def wait_until(what: str, probe: Callable[[], tuple[bool, Any]], timeout: float) -> Any:
    """Poll ``probe`` (returns (done, detail)) until done or timeout; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    detail: Any = None
    while True:
        try:
            done, detail = probe()
        except (AssertionError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
            done, detail = False, f"{type(exc).__name__}: {exc}"
        if done:
            return detail
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {detail}"
            )
        time.sleep(0.5)


# --- environment checks ----------------------------------------------------------------------


def _docker_unavailable_reason() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed (run docker/start-dockerd.sh)"
    try:
        info = run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out: is dockerd healthy? (docker/start-dockerd.sh)"
    if info.returncode != 0:
        return "the Docker engine is not running (start it with docker/start-dockerd.sh)"
    if os.geteuid() != 0:
        return "needs root to create veth pairs and enter the containers' network namespaces"
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed on the host"
    return None


def _image_exists(image: str) -> bool:
    return run(["docker", "image", "inspect", image], check=False).returncode == 0


@pytest.fixture(scope="module")
def images() -> None:
    reason = _docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    rebuild = os.environ.get("MANRS_LAB_REBUILD_IMAGES") == "1"
    if rebuild or not all(_image_exists(i) for i in ALL_IMAGES):
        proc = run(["bash", str(BUILD_SCRIPT)], check=False, timeout=1800)
        assert proc.returncode == 0, (
            f"docker/build-images.sh failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )


# --- a tiny containerlab -------------------------------------------------------------------------


@dataclass
class MiniLab:
    """Containers named ``clab-<lab>-<node>`` wired with veths; tracks all it made."""

    lab: str
    workdir: Path
    containers: list[str] = field(default_factory=list)
    host_veths: list[str] = field(default_factory=list)
    _n_links: int = 0

    def name(self, node: str) -> str:
        return f"clab-{self.lab}-{node}"

    def start(self, node: str, image: str, mounts: dict[str, str]) -> str:
        cname = self.name(node)
        argv = [
            "docker", "run", "-d", "--name", cname, "--hostname", node,
            "--network", "none", *CAPS, *SYSCTLS,
            "--label", f"manrs-lab.test={self.lab}",
        ]  # fmt: skip
        for text_name, target in mounts.items():
            argv += ["-v", f"{self.workdir / text_name}:{target}:ro"]
        self.containers.append(cname)  # before run: a half-created container is removed too
        run([*argv, image])
        return cname

    def pid(self, node: str) -> int:
        out = run(["docker", "inspect", "-f", "{{.State.Pid}}", self.name(node)]).stdout.strip()
        pid = int(out)
        assert pid > 0, f"{self.name(node)} is not running"
        return pid

    def nsexec(self, node: str, *argv: str) -> None:
        run(["nsenter", f"--net=/proc/{self.pid(node)}/ns/net", *argv])

    def link(self, a: str, a_if: str, b: str, b_if: str) -> None:
        """A veth pair made on the host, its ends moved into a's and b's netns, renamed."""
        self._n_links += 1
        host_a = f"mt{self.lab[-6:]}{self._n_links}a"
        host_b = f"mt{self.lab[-6:]}{self._n_links}b"
        self.host_veths += [host_a, host_b]
        run(["ip", "link", "add", host_a, "type", "veth", "peer", "name", host_b])
        for node, host_if, ifname in ((a, host_a, a_if), (b, host_b, b_if)):
            run(["ip", "link", "set", host_if, "netns", str(self.pid(node))])
            self.nsexec(node, "ip", "link", "set", host_if, "name", ifname)
            self.nsexec(node, "ip", "link", "set", ifname, "up")

    def exec(self, node: str, *argv: str, timeout: float = 30) -> str:
        return run(["docker", "exec", self.name(node), *argv], timeout=timeout).stdout

    def logs(self, node: str) -> str:
        proc = run(["docker", "logs", "--tail", "40", self.name(node)], check=False)
        return proc.stdout + proc.stderr

    def destroy(self) -> list[str]:
        problems: list[str] = []
        for cname in self.containers:
            proc = run(["docker", "rm", "-f", "-v", cname], check=False, timeout=60)
            if proc.returncode != 0 and "No such container" not in proc.stderr:
                problems.append(f"docker rm -f {cname}: {proc.stderr.strip()}")
        for veth in self.host_veths:  # only left on the host if wiring failed half-way
            if run(["ip", "link", "show", veth], check=False).returncode == 0:
                proc = run(["ip", "link", "del", veth], check=False)
                if proc.returncode != 0 and "Cannot find device" not in proc.stderr:
                    problems.append(f"ip link del {veth}: {proc.stderr.strip()}")
        return problems


@pytest.fixture
def lab(images: None, tmp_path: Path) -> Iterator[MiniLab]:
    lab = MiniLab(lab=f"test{secrets.token_hex(3)}", workdir=tmp_path)
    try:
        yield lab
    finally:
        problems = lab.destroy()
        left = run(
            ["docker", "ps", "-aq", "--filter", f"label=manrs-lab.test={lab.lab}"], check=False
        ).stdout.split()
        assert not problems, f"cleanup incomplete: {problems}"
        assert not left, f"containers left behind: {left}"


# --- reading state -----------------------------------------------------------------------------


def frr_json(lab: MiniLab, node: str, command: str) -> dict[str, Any]:
    out = lab.exec(node, "vtysh", "-c", command)
    data: dict[str, Any] = json.loads(out) if out.strip() else {}
    return data


def frr_peer_states(lab: MiniLab, node: str) -> dict[str, str]:
    summary = frr_json(lab, node, "show bgp summary json")
    peers = summary.get("ipv4Unicast", {}).get("peers", {})
    return {ip: p.get("state", "?") for ip, p in peers.items()}


def bird_protocol_line(lab: MiniLab, node: str, proto: str) -> str:
    out = lab.exec(node, "birdc", "show", "protocols")
    for line in out.splitlines():
        if line.split()[:1] == [proto]:
            return line
    raise AssertionError(f"no protocol {proto!r} in birdc show protocols:\n{out}")


# --- the test ------------------------------------------------------------------------------------


def test_frr_and_bird_containers_exchange_routes(lab: MiniLab) -> None:
    t0 = time.monotonic()
    (lab.workdir / "r1.conf").write_text(FRR_R1)
    (lab.workdir / "r2.conf").write_text(FRR_R2)
    (lab.workdir / "b3.conf").write_text(BIRD_B3)

    lab.start("r1", FRR_IMAGE, {"r1.conf": "/etc/frr/frr.conf"})
    lab.start("r2", FRR_IMAGE, {"r2.conf": "/etc/frr/frr.conf"})
    lab.start("b3", BIRD_IMAGE, {"b3.conf": "/etc/bird/bird.conf"})

    lab.link("r1", "eth1", "r2", "eth1")
    lab.link("r2", "eth2", "b3", "eth1")
    # Addresses as containerlab `exec:` lines would set them.
    for node, ifname, addr in (
        ("r1", "eth1", "10.0.12.1/24"),
        ("r2", "eth1", "10.0.12.2/24"),
        ("r2", "eth2", "10.0.23.2/24"),
        ("b3", "eth1", "10.0.23.3/24"),
    ):
        lab.exec(node, "ip", "addr", "add", addr, "dev", ifname)
    wired = time.monotonic() - t0

    # The images carry the same daemons as the native install.
    assert "FRRouting 8.4" in lab.exec("r1", "vtysh", "-c", "show version")
    assert "BIRD 2.0.12" in lab.exec("b3", "birdc", "show", "status")

    try:
        wait_until(
            "r1: session to r2 Established",
            lambda: (frr_peer_states(lab, "r1").get("10.0.12.2") == "Established",
                     frr_peer_states(lab, "r1")),
            CONVERGE_TIMEOUT,
        )  # fmt: skip
        wait_until(
            "r2: sessions to r1 and b3 Established",
            lambda: (
                set(frr_peer_states(lab, "r2").values()) == {"Established"}
                and len(frr_peer_states(lab, "r2")) == 2,
                frr_peer_states(lab, "r2"),
            ),
            CONVERGE_TIMEOUT,
        )
        bird_line = wait_until(
            "b3: BGP protocol r2 Established",
            lambda: ("Established" in (line := bird_protocol_line(lab, "b3", "r2")), line),
            CONVERGE_TIMEOUT,
        )
        established = time.monotonic() - t0

        # 198.51.100.0/24 from BIRD (AS65003) reaches r2 and, through it, r1.
        def best_path(node: str, prefix: str, as_path: str) -> Callable[[], tuple[bool, Any]]:
            # A route can be listed a moment before best-path selection has run on it.
            def probe() -> tuple[bool, Any]:
                routes = frr_json(lab, node, "show bgp ipv4 unicast json").get("routes", {})
                paths = routes.get(prefix, [])
                best = [p.get("path") for p in paths if p.get("bestpath")]
                return best == [as_path], paths or sorted(routes)

            return probe

        pfx = "198.51.100.0/24"
        wait_until(f"{pfx} best via 65003 on r2", best_path("r2", pfx, "65003"), 30)
        wait_until(f"{pfx} best via 65002 65003 on r1", best_path("r1", pfx, "65002 65003"), 30)

        # ... and FRR's 192.0.2.0/24 (AS65001) reaches BIRD through r2.
        bird_route = wait_until(
            "192.0.2.0/24 on b3",
            lambda: (
                "BGP.as_path: 65002 65001"
                in (out := lab.exec("b3", "birdc", "show", "route", "192.0.2.0/24", "all")),
                out,
            ),
            30,
        )
        converged = time.monotonic() - t0
    except AssertionError as exc:
        logs = "\n".join(f"--- {n} ---\n{lab.logs(n)}" for n in ("r1", "r2", "b3"))
        raise AssertionError(f"{exc}\n{logs}") from None

    assert "192.0.2.0/24" in bird_route
    print(
        f"\nwired {wired:.1f}s, Established {established:.1f}s, routes everywhere "
        f"{converged:.1f}s after the first docker run; b3: {bird_line.strip()}"
    )


def test_rtr_cache_feeds_frr_and_host_reaches_router(lab: MiniLab) -> None:
    """manrs-lab/rtr serves VRPs to FRR (and pushes edits); manrs-lab/host pings its router."""
    t0 = time.monotonic()
    vrps = lab.workdir / "vrps.json"
    vrps.write_text(json.dumps(VRPS))
    vrps.chmod(0o644)
    (lab.workdir / "r1.conf").write_text(FRR_RPKI)

    lab.start("rtr", RTR_IMAGE, {"vrps.json": "/etc/stayrtr/vrps.json"})
    lab.start("r1", FRR_IMAGE, {"r1.conf": "/etc/frr/frr.conf"})
    lab.start("h1", HOST_IMAGE, {})
    lab.link("rtr", "eth1", "r1", "eth1")
    lab.link("r1", "eth2", "h1", "eth1")
    for node, ifname, addr in (
        ("rtr", "eth1", "10.0.99.1/24"),
        ("r1", "eth1", "10.0.99.2/24"),
        ("r1", "eth2", "10.0.1.1/24"),
        ("h1", "eth1", "10.0.1.10/24"),
    ):
        lab.exec(node, "ip", "addr", "add", addr, "dev", ifname)

    def cache_connected() -> tuple[bool, Any]:
        conns = frr_json(lab, "r1", "show rpki cache-connection json")
        states = [c.get("state") for c in conns.get("connections", [])]
        return "connected" in states, conns

    def vrp_count(expected: int) -> Callable[[], tuple[bool, Any]]:
        def probe() -> tuple[bool, Any]:
            table = frr_json(lab, "r1", "show rpki prefix-table json")
            return table.get("ipv4PrefixCount") == expected, table

        return probe

    try:
        wait_until("r1: RTR cache connected", cache_connected, CONVERGE_TIMEOUT)
        wait_until("r1: 1 VRP from the cache", vrp_count(1), CONVERGE_TIMEOUT)
        first_vrps = time.monotonic() - t0

        # The cache re-reads the file (-refresh 5) and pushes the change to the router.
        vrps.write_text(json.dumps(VRPS_MORE))  # in place: the bind mount keeps the inode
        t_edit = time.monotonic()
        wait_until("r1: 2 VRPs after the edit", vrp_count(2), 30)
        edit_seen = time.monotonic() - t_edit

        # The host reaches its router over the wired link (inside the containers only).
        ping = lab.exec("h1", "ping", "-c", "1", "-W", "2", "10.0.1.1")
    except AssertionError as exc:
        logs = "\n".join(f"--- {n} ---\n{lab.logs(n)}" for n in ("rtr", "r1", "h1"))
        raise AssertionError(f"{exc}\n{logs}") from None

    assert "1 received" in ping, ping
    print(
        f"\nVRPs on r1 {first_vrps:.1f}s after the first docker run; edit seen in {edit_seen:.1f}s"
    )
