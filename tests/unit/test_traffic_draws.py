"""Traffic checks without daemons: what the spoofed and legitimate sources cover, the packets the
sender builds (checksums valid for every protocol), and the counting rules and their parsing."""

from __future__ import annotations

import socket
import struct
from ipaddress import ip_address, ip_network

import pytest

from manrs_lab.drivers import spoof_sender
from manrs_lab.grader.checks.traffic import (
    DeliveredParams,
    Source,
    SpoofedParams,
    count_rule,
    draw_legitimate,
    draw_spoofed,
    lab_safe,
    parse_counts_text,
)
from manrs_lab.special_purpose import bogon_of

CUST1_V6 = SpoofedParams(
    sender="h-cust1",
    receivers=["h-transit", "h-peer"],
    family="ipv6",
    sources_in=["2001:db8::/48", "2001:db8:2::/48"],
    outside_of=["2001:db8:1::/48"],
    adjacent=True,
    bogons=True,
    anywhere=4,
)


def test_ipv6_spoofed_sources_cover_every_forwardable_bogon_range_and_both_sides():
    ranges: set[str] = set()
    for seed in range(100):
        sources = draw_spoofed(seed, CUST1_V6)
        addrs = [ip_address(s.address) for s in sources]
        assert len(set(addrs)) == len(addrs)
        assert all(lab_safe(a) and a not in ip_network("2001:db8:1::/48") for a in addrs)
        where = [s.where for s in sources]
        assert "just below 2001:db8:1::/48" in where
        assert "just above 2001:db8:1::/48" in where
        ranges |= {b.prefix for a in addrs if (b := bogon_of(f"{a}/128")) is not None}
    # The kernel drops loopback, IPv4-mapped, link-local and multicast sources on its own.
    assert ranges == {
        "::/8",
        "100::/64",
        "2001::/32",
        "2001:2::/48",
        "2001:10::/28",
        "2001:20::/28",
        "2002::/16",
        "3ffe::/16",
        "5f00::/16",
        "fc00::/7",
        "fec0::/10",
    }


def test_adjacent_sources_lie_next_to_the_prefix():
    params = SpoofedParams(sender="h", receivers=["r"], outside_of=["198.18.1.0/24"], adjacent=True)
    for seed in range(50):
        below, above = (ip_address(s.address) for s in draw_spoofed(seed, params))
        assert below in ip_network("198.18.0.224/27")
        assert above in ip_network("198.18.2.0/27")


def test_legitimate_sources_reach_every_eighth_of_every_prefix():
    params = DeliveredParams(
        sender="h-transit",
        receivers=["h-cust1"],
        family="ipv6",
        across=["2001:db8:10::/48", "2001:db8:3::/48"],
    )
    for seed in range(20):
        sources = draw_legitimate(seed, params)
        for prefix in params.across:
            net = ip_network(prefix)
            parts = {
                (int(ip_address(s.address)) - int(net.network_address)) >> (128 - 51)
                for s in sources
                if ip_address(s.address) in net
            }
            assert parts == set(range(8))
        assert {s.proto for s in sources} == {"udp", "tcp", "icmp"}


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"outside_of": ["198.18.1.0/24"]}, "no spoofed sources"),
        ({"anywhere": 2}, "relative to outside_of"),
        ({"sources_in": ["2001:db8::/48"]}, "is not ipv4"),
        (
            {"sources_in": ["198.18.1.128/25"], "outside_of": ["198.18.1.0/24"]},
            "inside the sender's own",
        ),
    ],
)
def test_spoofed_params_refuse_what_cannot_be_drawn(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        SpoofedParams(sender="h", receivers=["r"], **kwargs)


def _verify(pseudo: bytes, segment: bytes) -> int:
    return spoof_sender.checksum(pseudo + segment)


@pytest.mark.parametrize("proto", spoof_sender.PROTOCOLS)
def test_packets_of_every_protocol_carry_valid_checksums(proto):
    src, dst = "10.1.2.3", "198.18.10.10"
    packet = spoof_sender.packet4(src, dst, 40000, 34567, proto)
    assert spoof_sender.checksum(packet[:20]) == 0
    number = packet[9]
    segment = packet[20:]
    if proto == "tcp":
        pseudo = (
            socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(segment))
        )
        assert _verify(pseudo, segment) == 0
        assert segment[13] == 0x02  # SYN
    elif proto == "icmp":
        assert number == socket.IPPROTO_ICMP
        assert _verify(b"", segment) == 0
        assert struct.unpack("!H", segment[4:6])[0] == 34567  # the check's port as echo id
    src6, dst6 = "2001:db8:1::99", "2001:db8:10::10"
    packet6 = spoof_sender.packet6(src6, dst6, 40000, 34567, proto)
    segment6 = packet6[40:]
    pseudo6 = (
        socket.inet_pton(socket.AF_INET6, src6)
        + socket.inet_pton(socket.AF_INET6, dst6)
        + struct.pack("!I3xB", len(segment6), packet6[6])
    )
    assert _verify(pseudo6, segment6) == 0


def test_count_rules_match_each_sources_protocol_and_the_checks_port():
    assert count_rule(Source("10.0.0.9", "x", "udp"), 40001) == "ip saddr 10.0.0.9 udp dport 40001"
    assert count_rule(Source("2001:db8::9", "x", "tcp"), 40001) == (
        "ip6 saddr 2001:db8::9 tcp dport 40001"
    )
    assert count_rule(Source("2001:db8::9", "x", "icmp"), 40001) == (
        "ip6 saddr 2001:db8::9 icmpv6 type echo-request icmpv6 id 40001"
    )
    # `nft list chain` as libnftables 1.0.6 prints the rules count_rule wrote (captured)
    listing = """table inet manrs_count {
\tchain c40001 {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tip saddr 198.18.3.7 udp dport 40001 counter packets 3 bytes 129
\t\tip saddr 198.18.3.9 icmp type echo-request icmp id 40001 counter packets 0 bytes 0
\t\tip6 saddr 2001:db8:10::a tcp dport 40001 counter packets 12 bytes 900
\t\tip6 saddr 2001:db8:10::b icmpv6 type echo-request icmpv6 id 40001 counter packets 2 bytes 96
\t}
}
"""
    assert parse_counts_text(listing) == {
        "198.18.3.7": 3,
        "198.18.3.9": 0,
        "2001:db8:10::a": 12,
        "2001:db8:10::b": 2,
    }
    # another spelling of an address is the source's own
    assert parse_counts_text("ip6 saddr 2001:DB8:0:0::9 udp dport 1 counter packets 5 bytes 1") == {
        "2001:db8::9": 5
    }
