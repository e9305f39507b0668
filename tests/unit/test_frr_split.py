"""frr_split: the integrated frr.conf of every lab, cut into zebra/bgpd/staticd parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from manrs_lab.drivers import frr_split

REPO = Path(__file__).resolve().parents[2]

# Starting configs only: solutions are snippets applied to a running router, not booted.
FRR_CONFIGS = sorted(
    p for p in (REPO / "labs").glob("*/configs/*.conf") if "\nrouter bgp" in p.read_text()
)


def statements(text: str) -> list[str]:
    return [
        ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("!")
    ]


@pytest.mark.parametrize("path", FRR_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_lab_config_splits_without_losing_a_line(path: Path):
    text = path.read_text()
    parts = frr_split.split(text)
    assert parts is not None, f"{path}: a statement the split does not know"
    every = [ln for part in parts.values() for ln in statements(part)]
    kept = {ln for ln in statements(text) if not ln.startswith("hostname ")}  # vtysh's own
    assert kept <= set(every)
    assert "router bgp" in parts["bgpd"]
    assert "router bgp" not in parts["zebra"]
    assert all(part.startswith("frr defaults") for part in parts.values())


def test_lab_configs_are_found():
    assert len(FRR_CONFIGS) >= 20, FRR_CONFIGS


RUNNING = """\
frr version 8.4.4
frr defaults traditional
hostname edge
bgp route-map delay-timer 0
service integrated-vtysh-config
!
interface eth1
 description cust1
 ip address 10.0.1.1/30
 ipv6 address fd00:1:1::1/64
exit
!
router bgp 64500
 neighbor 10.0.1.2 remote-as 64501
 !
 address-family ipv4 unicast
  neighbor 10.0.1.2 route-map RPKI-IN in
 exit-address-family
exit
!
ip route 198.18.0.0/24 blackhole
ip prefix-list OWN seq 5 permit 198.18.0.0/24
!
route-map RPKI-IN deny 10
 match rpki invalid
exit
!
rpki
 rpki cache 10.255.0.1 8282 preference 1
exit
!
end
"""


def test_show_running_config_goes_to_the_daemon_that_owns_each_statement():
    parts = frr_split.split(RUNNING)
    assert parts is not None
    assert statements(parts["zebra"]) == [
        "frr version 8.4.4",
        "frr defaults traditional",
        "interface eth1",
        " description cust1",
        " ip address 10.0.1.1/30",
        " ipv6 address fd00:1:1::1/64",
        "exit",
    ]
    assert statements(parts["staticd"])[2:] == ["ip route 198.18.0.0/24 blackhole"]
    bgpd = statements(parts["bgpd"])
    assert "bgp route-map delay-timer 0" in bgpd
    assert " match rpki invalid" in bgpd
    assert "rpki" in bgpd
    assert "ip route 198.18.0.0/24 blackhole" not in bgpd
    assert not any(
        "integrated-vtysh-config" in ln or ln == "end"
        for p in parts.values()
        for ln in p.splitlines()
    )


@pytest.mark.parametrize(
    "text",
    [
        "interface eth1\n ip ospf area 0\nexit\n",  # another daemon's interface command
        "router ospf\n network 10.0.0.0/8 area 0\nexit\n",
        "ip nht resolve-via-default\n",
        "vrf red\nexit-vrf\n",
    ],
)
def test_an_unknown_statement_means_no_split(text: str):
    assert frr_split.split("frr defaults traditional\n" + text) is None
    assert frr_split.split(" neighbor 10.0.0.1 remote-as 1\n") is None  # outside any block
