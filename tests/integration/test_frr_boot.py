"""A router booted from the split config (each daemon reads its part with -f; bgpd's BGP part is
pushed over its vty socket right after it starts) runs exactly the configuration `vtysh -b`
gives it from the integrated frr.conf: compared on real daemons."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab_support import REPO
from manrs_lab.drivers import daemons
from manrs_lab.runtime.netns import NetnsRuntime, stop_processes
from manrs_lab.spec.topology import Role

pytestmark = pytest.mark.daemons

# One starting config per lab that has FRR routers (the richest: its edge router, if any).
CONFIGS = sorted(
    {
        p.parent.parent.name: p
        for p in sorted(
            (REPO / "labs").glob("*/configs/*.conf"),
            key=lambda p: p.name != "edge.conf",
            reverse=True,
        )
        if "\nrouter bgp" in p.read_text()
    }.values()
)
EXTRA = """\
frr defaults traditional
hostname extra
bgp route-map delay-timer 0
interface eth1
 ip address 10.0.1.1/30
 ipv6 address fd00:1:1::1/64
exit
router bgp 64500
 neighbor 10.0.1.2 remote-as 64501
 address-family ipv4 unicast
  neighbor 10.0.1.2 route-map RPKI-IN in
 exit-address-family
exit
ip route 198.18.0.0/24 blackhole
ipv6 route 2001:db8::/48 blackhole
ip prefix-list OWN seq 5 permit 198.18.0.0/24
bgp as-path access-list PRIVATE seq 5 permit _6451[2-9]_
route-map RPKI-IN deny 10
 match rpki invalid
exit
route-map RPKI-IN permit 20
exit
rpki
 rpki cache 10.255.0.1 8282 preference 1
exit
"""


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"ml-t-boot-{uuid.uuid4().hex[:6]}--r"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def boot(ns: str, node_dir: Path, config: Path, *, split: bool) -> str:
    """Start zebra, bgpd and staticd in `ns` from `config`; return their running config."""
    daemons.prepare(Role.FRR, node_dir, config)
    if not split:
        for daemon in daemons.FRR_DAEMONS:
            (node_dir / f"{daemon}.conf").unlink()
        (node_dir / daemons.BGPD_LIVE).unlink()
    assert (node_dir / "bgpd.conf").exists() is split
    try:
        for launch in daemons.launches(Role.FRR, node_dir):
            if launch.after is not None:
                NetnsRuntime._wait_files({launch.after})
            subprocess.run(["ip", "netns", "exec", ns, *launch.argv], check=True, cwd=node_dir)
            daemons.push_config(launch)
        NetnsRuntime._wait_files(set(daemons.ready_files(Role.FRR, node_dir)))
        argv = daemons.boot_argv(Role.FRR, node_dir)
        assert (argv is None) is split
        if argv is not None:
            subprocess.run(argv, check=True, capture_output=True)
        shown = subprocess.run(
            [
                "vtysh",
                "--config_dir",
                str(node_dir),
                "--vty_socket",
                str(node_dir / "run"),
                "-c",
                "show running-config",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        stop_processes(daemons.daemon_pids(Role.FRR, node_dir)[:-1])
        stop_processes(daemons.daemon_pids(Role.FRR, node_dir)[-1:])
    return shown


@pytest.mark.parametrize(
    "config",
    [*CONFIGS, "extra"],
    ids=lambda c: getattr(c, "parent", Path(str(c))).parent.name or "extra",
)
def test_split_boot_equals_vtysh_boot(config: Path | str, namespace: str, tmp_path_factory):
    if config == "extra":
        config = tmp_path_factory.mktemp("extra") / "frr.conf"
        config.write_text(EXTRA)
    assert isinstance(config, Path)
    base = Path("/run/manrs-lab-tests") / f"boot-{uuid.uuid4().hex[:6]}"
    try:
        split = boot(namespace, base / "split", config, split=True)
        whole = boot(namespace, base / "whole", config, split=False)
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)
    assert "router bgp" in split
    assert split.splitlines() == whole.splitlines()
