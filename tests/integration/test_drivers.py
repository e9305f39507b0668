"""Every driver against real daemons: FRR and BIRD with an RTR cache, hosts sending packets."""

from __future__ import annotations

import time

import pytest

from lab_support import REPO
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import ExecError
from manrs_lab.running import RunningLab
from manrs_lab.state import RpkiState

pytestmark = pytest.mark.daemons
SANDBOX = str(REPO / "tests" / "content" / "labs" / "driver-sandbox")


def eventually(probe, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture
def sandbox(boot_lab) -> RunningLab:
    return boot_lab(SANDBOX)


def test_rtr_cache_feeds_frr_and_bird_and_pushes_edits(sandbox: RunningLab):
    r1, b1 = sandbox.router("r1"), sandbox.router("b1")
    assert eventually(lambda: r1.rpki().connected and r1.rpki().vrp_count == 3)
    assert eventually(lambda: b1.rpki().connected and b1.rpki().vrp_count == 3)
    # r1 originates 198.18.50.0/24, but the ROA names AS64502.
    (own,) = [r for r in r1.routes("198.18.50.0/24") if r.peer is None]
    assert own.rpki_state is RpkiState.INVALID
    cache = sandbox.rtr("rpki")
    cache.set_vrps([*cache.vrps(), Vrp("198.18.50.0/24", 24, 64500)])
    assert eventually(lambda: b1.rpki().vrp_count == 4)
    assert eventually(lambda: r1.rpki().vrp_count == 4)


def test_bird_holds_both_paths_and_frr_sees_the_best(sandbox: RunningLab):
    paths = sandbox.router("b1").routes("198.18.50.0/24")
    assert sorted(r.origin_as for r in paths) == [64500, 64502]
    assert sum(r.best for r in paths) == 1
    r2_view = sandbox.router("r2").routes("198.18.0.0/24")
    assert [r.as_path for r in r2_view] == [(64501, 64500)]


def test_probe_announce_and_withdraw_on_frr_and_bird(sandbox: RunningLab):
    b1, r2 = sandbox.router("b1"), sandbox.router("r2")
    b1.announce(["198.18.1.0/25"])
    assert eventually(lambda: [r.origin_as for r in r2.routes("198.18.1.0/25")] == [64501])
    b1.withdraw(["198.18.1.0/25"])
    assert eventually(lambda: r2.routes("198.18.1.0/25") == [])


def test_a_probe_map_left_by_a_killed_check_is_dropped_once(sandbox: RunningLab):
    r1 = sandbox.router("r1")
    r1.announce(["198.18.60.0/24"], as_path=(64496, 64497))
    r1._probe_maps.clear()  # as a check killed before its withdrawal leaves them
    r1.withdraw(["198.18.60.0/24"])  # recovery withdraws the prefix; the map stays
    (left,) = r1.drop_probe_maps()
    assert left.startswith("MANRS-PROBE")
    # bgpd still lists a deleted map (no rules) under `bgp route-map delay-timer 0`
    assert r1.drop_probe_maps() == []


def test_hosts_ping_traceroute_and_spoofed_sources(sandbox: RunningLab):
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")
    assert "198.18.0.10/24" in h1.addresses()
    assert eventually(lambda: h1.ping("198.18.2.10", count=2).received == 2)
    hops = [hop.address for hop in h1.traceroute("198.18.2.10")]
    assert hops == ["198.18.0.1", "10.0.1.2", "10.1.2.2", "198.18.2.10"]
    h2.count_from(["198.18.99.7", "198.18.0.10"])
    assert h1.send_spoofed("198.18.99.7", "198.18.2.10", count=5) == 5
    assert eventually(lambda: h2.counted().get("198.18.99.7") == 5, timeout=5)
    assert h2.counted()["198.18.0.10"] == 0


def test_frr_config_rejection_is_an_error(sandbox: RunningLab):
    with pytest.raises(ExecError, match="rejected"):
        sandbox.router("r1").apply_config("router bgp 64500\n neighbour 1.2.3.4 remote-as 7\n")
