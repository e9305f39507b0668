"""nftables through libnftables in a namespace gives what the `nft` command gives there, and
touches no other namespace (the counting tables of spoofing checks go through it)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from manrs_lab.drivers import nft_lib

pytestmark = pytest.mark.daemons

RULESET = """table inet t_count {
  chain input {
    type filter hook prerouting priority -300;
    ip saddr 198.18.1.7 counter
  }
}
"""


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"t-nft-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_libnftables_in_a_namespace_matches_the_nft_command(netns: str):
    assert nft_lib.available()
    path = Path("/run/netns") / netns
    assert nft_lib.nft_in_netns(path, RULESET).ok
    listed = nft_lib.nft_in_netns(path, "list table inet t_count", json=True)
    assert listed.ok
    by_cli = subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "-j", "list", "table", "inet", "t_count"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(listed.output)["nftables"][1:] == json.loads(by_cli)["nftables"][1:]
    # only in that namespace
    host = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    assert "t_count" not in host.stdout
    refused = nft_lib.nft_in_netns(path, "list table inet no_such_table")
    assert not refused.ok
    assert "No such file or directory" in refused.error
