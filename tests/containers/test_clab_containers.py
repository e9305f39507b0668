"""The containerlab runtime end to end, on containers of the project's node images.

containerlab itself cannot be installed here, so `fake_containerlab.py` stands in for its
binary on PATH: it creates the containers from the rendered file the way containerlab does
for `kind: linux` nodes (names `clab-<instance>-<node>`, binds, sysctls, veth links, `exec:`
lines) and answers `inspect` in containerlab's JSON. Everything else is the real thing:
`operations.up/status/check/solve/down` with `--runtime containerlab`, the drivers talking to
FRR with `vtysh -c` and to BIRD with `birdc` through the Docker SDK, the grader's probes
writing BIRD's probe file and FRR's `network` lines inside the containers.
All traffic stays inside the containers (`--network none`, veths between them only).
Every container and the state folder are removed afterwards, whatever the outcome.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clab_support import containers_named, ensure_images, install_fake_containerlab, run

from lab_support import unique_instance
from manrs_lab import operations
from manrs_lab.drivers.bird import BirdRouter
from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import ConfigSyntaxError, NotRunningError
from manrs_lab.grader.report import GradeReport
from manrs_lab.paths import state_root
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.runtime.containerlab import ContainerlabRuntime
from manrs_lab.state import RpkiState

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]
LAB = "customer-filtering"
SANDBOX = str(REPO / "tests" / "content" / "labs" / "driver-sandbox")
# Every probe check of customer-filtering: unsolved, edge accepts anything from its customers.
HIJACK_CHECKS = {
    "cust1-registered-exactly",
    "cust1-only-its-own",
    "exact-hijack-dropped",
    "more-specific-hijack-dropped",
    "cust2-registered-exactly",
    "cust2-only-its-own",
}

Up = Callable[..., operations.UpResult]


def eventually(probe: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture
def clab_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Up]:
    """`clab_up(lab)` -> operations.up(..., runtime="containerlab"); all removed afterwards."""
    ensure_images("frr", "bird", "rtr", "host")
    install_fake_containerlab(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    names: list[str] = []

    def up(lab: str, instance: str | None = None, **kwargs: Any) -> operations.UpResult:
        name = instance or unique_instance(Path(lab).name)
        names.append(name)
        return operations.up(lab, SilentProgress(), instance=name, runtime="containerlab", **kwargs)

    yield up
    problems = []
    for name in names:
        try:
            operations.down(name, SilentProgress())
        except NotRunningError:
            pass  # the test took it down itself
        except Exception as exc:  # report every teardown problem below
            problems.append(f"{name}: down failed: {exc}")
        left = containers_named(f"clab-{name}-")
        if left:
            problems.append(f"containers left behind: {left}")
            for cname in left:
                run(["docker", "rm", "-f", "-v", cname])
        if (state_root() / name).exists():
            problems.append(f"state folder left behind: {state_root() / name}")
            shutil.rmtree(state_root() / name, ignore_errors=True)
    assert not problems, f"teardown left: {problems}"


def failed(report: GradeReport) -> set[str]:
    return {c.id for c in report.checks if not c.passed}


def test_customer_filtering_graded_in_containers(clab_up: Up):
    t0 = time.monotonic()
    result = clab_up(LAB)
    running = result.running
    name = running.instance.name
    t_up = time.monotonic() - t0
    runtime = running.runtime
    assert isinstance(runtime, ContainerlabRuntime)
    assert runtime.clab_file(running.instance).is_file()
    assert containers_named(f"clab-{name}-") != []

    # Drivers reach the daemons through exec only (no local sockets).
    edge, cust1 = running.router("edge"), running.router("cust1")
    assert isinstance(edge, FrrRouter)
    assert isinstance(cust1, BirdRouter)
    assert running.handle("edge").local_dir is None
    assert "router bgp 64500" in edge.running_config()
    assert 'include "manrs-probes.conf";' in cust1.running_config()
    assert {s.peer for s in edge.sessions() if s.established} == {
        "10.0.1.2",
        "10.0.2.2",
        "10.0.10.2",
    }
    (learned,) = cust1.routes("198.18.10.0/24")
    assert learned.as_path == (64500, 64510)

    # Status as containerlab inspect reports it.
    _, nodes = operations.status(name)
    assert {n.node: n.running for n in nodes} == dict.fromkeys(running.lab.topology.nodes, True)

    # Unsolved: the grader's probes (FRR `network`, BIRD probe file) leak through edge.
    t1 = time.monotonic()
    unsolved = operations.check(name, SilentProgress(), seed=7)
    t_check1 = time.monotonic() - t1
    assert failed(unsolved) == HIJACK_CHECKS, [(c.id, c.message) for c in unsolved.checks]
    assert unsolved.points == 0
    messages = {c.id: c.message for c in unsolved.checks}
    assert "edge accepted it with AS path 64502" in messages["exact-hijack-dropped"]
    # Probes undo themselves: BIRD's probe file is empty again, cust2 announces its own only.
    probes = runtime.exec(running.instance, "cust1", ["cat", "/etc/bird/manrs-probes.conf"])
    assert probes.ok
    assert "route" not in probes.stdout
    assert {r.prefix for r in running.router("cust2").routes() if r.peer is None} == {
        "198.18.2.0/24"
    }

    # The reference solution, applied through the router driver (vtysh -f /dev/stdin).
    operations.solve(name, SilentProgress())
    assert "neighbor 10.0.2.2 prefix-list CUST2-IN in" in edge.running_config()
    t2 = time.monotonic()
    solved = operations.check(name, SilentProgress(), seed=7)
    t_check2 = time.monotonic() - t2
    assert failed(solved) == set(), [(c.id, c.message) for c in solved.checks]
    assert solved.points == solved.max_points > 0

    t3 = time.monotonic()
    operations.down(name, SilentProgress())
    t_down = time.monotonic() - t3
    assert containers_named(f"clab-{name}-") == []
    assert not (state_root() / name).exists()
    print(
        f"\nup {t_up:.1f}s (deploy {result.deploy_seconds:.1f}s, converge "
        f"{result.converge_seconds:.1f}s), check unsolved {t_check1:.1f}s, solved "
        f"{t_check2:.1f}s, down {t_down:.1f}s"
    )


def test_every_driver_works_through_exec(clab_up: Up):
    """FRR, BIRD, the RTR cache and hosts in containers: the driver sandbox lab."""
    running: RunningLab = clab_up(SANDBOX).running
    r1, b1, r2 = running.router("r1"), running.router("b1"), running.router("r2")

    # RPKI: stayrtr in its container feeds both daemons; an edit of the VRP file (written
    # through exec into the bound file) reaches them.
    assert eventually(lambda: r1.rpki().connected and r1.rpki().vrp_count == 3)
    assert eventually(lambda: b1.rpki().connected and b1.rpki().vrp_count == 3)
    (own,) = [r for r in r1.routes("198.18.50.0/24") if r.peer is None]
    assert own.rpki_state is RpkiState.INVALID
    cache = running.rtr("rpki")
    cache.set_vrps([*cache.vrps(), Vrp("198.18.50.0/24", 24, 64500)])
    assert eventually(lambda: b1.rpki().vrp_count == 4)

    # BIRD holds both paths; probes announce and withdraw on BIRD.
    paths = b1.routes("198.18.50.0/24")
    assert sorted(r.origin_as for r in paths) == [64500, 64502]
    b1.announce(["198.18.1.0/25"])
    assert eventually(lambda: [r.origin_as for r in r2.routes("198.18.1.0/25")] == [64501])
    b1.withdraw(["198.18.1.0/25"])
    assert eventually(lambda: r2.routes("198.18.1.0/25") == [])

    # Hosts: ping and traceroute across the routers, spoofed packets counted at the receiver.
    h1, h2 = running.host("h1"), running.host("h2")
    assert "198.18.0.10/24" in h1.addresses()
    assert eventually(lambda: h1.ping("198.18.2.10", count=2).received == 2)
    hops = [hop.address for hop in h1.traceroute("198.18.2.10")]
    assert hops == ["198.18.0.1", "10.0.1.2", "10.1.2.2", "198.18.2.10"]
    h2.count_from(["198.18.99.7", "198.18.0.10"])
    assert h1.send_spoofed("198.18.99.7", "198.18.2.10", count=5) == 5
    assert eventually(lambda: h2.counted().get("198.18.99.7") == 5, timeout=5)
    h2.stop_counting()


@pytest.mark.parametrize(
    ("node", "config"),
    [
        ("cust1", "router id 198.18.1.1;\nprotocol bgp edge { no such option; }\n"),
        ("edge", "router bgp 64500\n neighbour 10.0.1.2 remote-as 64501\n"),
    ],
    ids=["bird", "frr"],
)
def test_a_config_the_daemon_rejects_stops_deploy_and_leaves_nothing(
    clab_up: Up, tmp_path: Path, node: str, config: str
):
    bad = tmp_path / f"{node}.conf"
    bad.write_text(config)
    name = unique_instance(f"bad-{node}")
    with pytest.raises(ConfigSyntaxError) as info:
        clab_up(LAB, instance=name, configs={node: bad})
    assert info.value.node == node
    assert containers_named(f"clab-{name}-") == []
    assert not (state_root() / name).exists()
