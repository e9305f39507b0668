"""Packets a check sends and counts without a process, between two namespaces of the test's own
joined by a veth pair.

- The packet socket that counts arrivals (drivers/packet_tap.py) counts exactly the check's
  packets (its port, per source and protocol, IPv4 and IPv6), never another check's, never what
  the node sends itself, and says so when packets were lost instead of counting them as not
  arrived.
- The in-process ping (drivers/echo.py) counts the replies it gets, none from an address that
  does not answer, and two pings at once do not count each other's replies.
- The bytes received on BGP connections (drivers/tcp_diag.py) are what `ss` shows, and a
  node's addresses read over netlink (drivers/netlink.py) what `ip -j addr` shows.
"""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from manrs_lab.drivers import echo, netlink, spoof_sender, tcp_diag
from manrs_lab.drivers.bird_parse import SS_BGP, parse_ss_received
from manrs_lab.drivers.netns_thread import call_in_netns
from manrs_lab.drivers.packet_tap import ArrivalTap
from manrs_lab.errors import ExecError

pytestmark = pytest.mark.daemons

PORT, OTHER_PORT = 33123, 33124


@dataclass
class Pair:
    sender: Path
    receiver: Path


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def pair() -> Iterator[Pair]:
    tag = uuid.uuid4().hex[:6]
    a, b = f"t-tapa-{tag}", f"t-tapb-{tag}"
    ip("netns", "add", a)
    ip("netns", "add", b)
    try:
        ip("link", "add", f"ta{tag}", "netns", a, "type", "veth", "peer", f"tb{tag}", "netns", b)
        for ns, dev, v4, v6 in (
            (a, f"ta{tag}", "198.18.77.1/24", "2001:db8:77::1/64"),
            (b, f"tb{tag}", "198.18.77.2/24", "2001:db8:77::2/64"),
        ):
            ip("-n", ns, "addr", "add", v4, "dev", dev)
            ip("-n", ns, "-6", "addr", "add", v6, "dev", dev, "nodad")
            ip("-n", ns, "link", "set", dev, "up")
        for dst in ("198.18.77.2", "2001:db8:77::2"):  # link up, neighbours resolved
            subprocess.run(
                ["ip", "netns", "exec", a, "ping", "-c1", "-i0.2", "-w5", dst],
                check=True,
                capture_output=True,
            )
        yield Pair(Path("/run/netns") / a, Path("/run/netns") / b)
    finally:
        ip("netns", "del", a)
        ip("netns", "del", b)


def send(pair: Pair, dst: str, sent: list[tuple[str, str]], port: int, n: int) -> None:
    """`n` packets from each (source, protocol) to `port`."""
    sources, protos = [s for s, _ in sent], [p for _, p in sent]
    call_in_netns(pair.sender, lambda: spoof_sender.send(dst, n, port, sources, protos))


def settled(tap: ArrivalTap) -> dict[tuple[str, str], int]:
    for _ in range(50):
        before = dict(tap.counts)
        subprocess.run(["sleep", "0.02"], check=True)
        tap.drain()
        if dict(tap.counts) == before and before:
            break
    return dict(tap.counts)


def test_counts_the_checks_packets_per_source_and_protocol(pair: Pair):
    tap = ArrivalTap.open(pair.receiver, PORT, "receiver")
    try:
        v4 = [("203.0.113.9", "udp"), ("10.1.2.3", "tcp"), ("198.18.77.1", "icmp")]
        v6 = [("2001:db8:99::5", "udp"), ("fc00::7", "tcp"), ("2001:db8:99::6", "icmp")]
        send(pair, "198.18.77.2", v4, PORT, 3)
        send(pair, "2001:db8:77::2", v6, PORT, 2)
        # another check's port, and the same sources: never counted here
        send(pair, "198.18.77.2", [("203.0.113.9", "udp"), ("10.1.2.3", "icmp")], OTHER_PORT, 4)
        send(pair, "2001:db8:77::2", [("2001:db8:99::5", "tcp")], OTHER_PORT, 4)
        assert settled(tap) == {
            ("203.0.113.9", "udp"): 3,
            ("10.1.2.3", "tcp"): 3,
            ("198.18.77.1", "icmp"): 3,
            ("2001:db8:99::5", "udp"): 2,
            ("fc00::7", "tcp"): 2,
            ("2001:db8:99::6", "icmp"): 2,
        }
    finally:
        tap.close()


def test_what_the_node_sends_itself_is_not_an_arrival(pair: Pair):
    tap = ArrivalTap.open(pair.receiver, PORT, "receiver")
    try:
        # from the receiver's own namespace, to the other end, to the tapped port
        call_in_netns(
            pair.receiver,
            lambda: spoof_sender.send("198.18.77.1", 3, PORT, ["198.18.77.2"], ["udp"]),
        )
        send(pair, "198.18.77.2", [("198.18.77.1", "udp")], PORT, 1)
        assert settled(tap) == {("198.18.77.1", "udp"): 1}
    finally:
        tap.close()


def test_lost_packets_are_reported_not_counted_as_missing(pair: Pair):
    tap = ArrivalTap.open(pair.receiver, PORT, "receiver", queue_bytes=4096)
    try:
        send(pair, "198.18.77.2", [(f"203.0.113.{i}", "udp") for i in range(1, 200)], PORT, 5)
        subprocess.run(["sleep", "0.2"], check=True)
        with pytest.raises(ExecError, match="lost before they could be counted"):
            tap.drain()
    finally:
        tap.close()


def ping(pair: Pair, dst: str, count: int = 3) -> int:
    return call_in_netns(pair.sender, lambda: echo.ping(dst, count, 0.05, 0.5))


def test_ping_counts_replies_ipv4_and_ipv6(pair: Pair):
    assert ping(pair, "198.18.77.2") == 3
    assert ping(pair, "2001:db8:77::2", count=4) == 4


def test_ping_an_address_nobody_answers_gets_nothing(pair: Pair):
    assert ping(pair, "198.18.77.9") == 0
    assert ping(pair, "2001:db8:77::9") == 0


def test_pings_at_once_count_their_own_replies_only(pair: Pair):
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda n: ping(pair, "198.18.77.2", n), [1, 2, 3, 4]))
    assert got == [1, 2, 3, 4]


def test_bytes_received_on_bgp_connections_are_what_ss_shows(pair: Pair):
    listener = call_in_netns(pair.receiver, lambda: socket.create_server(("198.18.77.2", 179)))
    client = call_in_netns(pair.sender, lambda: socket.create_connection(("198.18.77.2", 179)))
    try:
        conn, _ = listener.accept()
        with conn:
            client.sendall(b"x" * 1000)
            got = b""
            while len(got) < 1000:
                got += conn.recv(4096)
            conn.sendall(b"y" * 10)
            assert client.recv(10) == b"y" * 10
            received = call_in_netns(pair.receiver, tcp_diag.bgp_bytes_received)
            assert received == {"198.18.77.1": 1000}
            shown = subprocess.run(
                ["ip", "netns", "exec", pair.receiver.name, *SS_BGP],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert parse_ss_received(shown) == received
            assert call_in_netns(pair.sender, tcp_diag.bgp_bytes_received) == {"198.18.77.2": 10}
    finally:
        client.close()
        listener.close()


def test_addresses_read_over_netlink_are_what_ip_shows(pair: Pair):
    ip("-n", pair.receiver.name, "addr", "add", "198.18.78.2/25", "dev", "lo")  # lo: left out
    shown = json.loads(
        subprocess.run(
            ["ip", "netns", "exec", pair.receiver.name, "ip", "-j", "addr", "show"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    by_ip = [
        f"{a['local']}/{a['prefixlen']}"
        for link in shown
        for a in link.get("addr_info", [])
        if link["ifname"] != "lo"
    ]
    got = call_in_netns(pair.receiver, netlink.interface_addresses)
    assert got == by_ip
    assert got[:2] == ["198.18.77.2/24", "2001:db8:77::2/64"]
