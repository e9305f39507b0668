"""Which FRR daemons a node starts with which modules: bgpd's RPKI module (rtrlib, ~20 ms of
CPU a start) where a lab has an RTR cache or the node's config asks for RPKI, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from manrs_lab.drivers import daemons
from manrs_lab.runtime.netns import NetnsRuntime
from manrs_lab.spec.loader import load_lab
from manrs_lab.spec.topology import Role

ROUTE_MAP_ONLY = "route-map RPKI-IN deny 10\n match rpki invalid\nexit\n"
CACHE_BLOCK = "rpki\n rpki cache 10.255.0.1 8282 preference 1\nexit\n"
NO_RPKI = "router bgp 64500\n neighbor 10.0.1.2 remote-as 64501\nexit\n"


def _bgpd_argv(node_dir: Path, rpki: bool) -> tuple[str, ...]:
    (launch,) = [
        x for x in daemons.launches(Role.FRR, node_dir, rpki=rpki) if x.argv[0].endswith("bgpd")
    ]
    return launch.argv


@pytest.mark.parametrize(
    ("text", "expected"),
    [(ROUTE_MAP_ONLY, True), (CACHE_BLOCK, True), (NO_RPKI, False), ("", False)],
)
def test_a_config_that_says_rpki_anywhere_needs_the_module(
    tmp_path: Path, text: str, expected: bool
):
    (tmp_path / "frr.conf").write_text(text)
    assert daemons.mentions_rpki(tmp_path) is expected


def test_the_split_bgpd_part_counts_too(tmp_path: Path):
    (tmp_path / "frr.conf").write_text(NO_RPKI)
    (tmp_path / "bgpd.conf").write_text(CACHE_BLOCK)
    assert daemons.mentions_rpki(tmp_path)


def test_bgpd_gets_the_module_only_when_asked(tmp_path: Path):
    assert _bgpd_argv(tmp_path, True)[-2:] == ("-M", "rpki")
    assert "rpki" not in _bgpd_argv(tmp_path, False)
    zebra = daemons.launches(Role.FRR, tmp_path, rpki=True)[0].argv
    assert "rpki" not in zebra


@pytest.mark.parametrize(
    ("lab_id", "expected"), [("rpki-rov", True), ("customer-filtering", False)]
)
def test_the_module_follows_the_labs_cache_or_the_nodes_config(
    tmp_path: Path, lab_id: str, expected: bool
):
    (tmp_path / "frr.conf").write_text(NO_RPKI)
    runtime = NetnsRuntime(load_lab(lab_id))
    assert runtime._rpki(tmp_path) is expected
    (tmp_path / "frr.conf").write_text(NO_RPKI + ROUTE_MAP_ONLY)
    assert runtime._rpki(tmp_path)  # a saved config that asks for it
