"""ICMP echo (what `ping -c COUNT -i INTERVAL -W TIMEOUT` does), from a thread that joined the
sending node's namespace: a raw socket, no `ip netns exec` and `ping` processes per check.

Requests carry an identifier of their own; only replies from the destination with that
identifier count, so two pings from one node at once do not count each other's replies.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import time
from ipaddress import IPv4Address, IPv6Address, ip_address

from manrs_lab.drivers.spoof_sender import checksum

ECHO4, REPLY4, ECHO6, REPLY6 = 8, 0, 128, 129
PAYLOAD = b"manrs-lab echo"


def request(ident: int, seq: int, v6: bool) -> bytes:
    if v6:  # the kernel fills in an ICMPv6 checksum (it covers the addresses it picks)
        return struct.pack("!BBHHH", ECHO6, 0, 0, ident, seq) + PAYLOAD
    body = struct.pack("!BBHHH", ECHO4, 0, 0, ident, seq) + PAYLOAD
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def reply_of(packet: bytes, v6: bool) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply: ICMPv6 as a raw socket gives it, ICMP with its
    IPv4 header before it."""
    icmp = packet if v6 else packet[(packet[0] & 0x0F) * 4 :] if packet else b""
    if len(icmp) < 8 or icmp[0] != (REPLY6 if v6 else REPLY4):
        return None
    _type, _code, _sum, ident, seq = struct.unpack("!BBHHH", icmp[:8])
    return ident, seq


def ping(dst: str, count: int, interval: float, timeout: float) -> int:
    """Send `count` echo requests `interval` apart; how many replies arrived, the last one
    within `timeout` after the last request."""
    target = ip_address(dst)
    v6 = target.version == 6
    family, proto = (
        (socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    )
    replies = _Replies(target, random.randrange(1, 0x10000), count)
    with socket.socket(family, socket.SOCK_RAW, proto) as sock:
        sock.setblocking(False)
        start = time.monotonic()
        for seq in range(1, count + 1):
            sock.sendto(request(replies.ident, seq, v6), (dst, 0))
            if seq < count:
                replies.receive(sock, until=start + seq * interval, stop_when_all=False)
        replies.receive(sock, until=time.monotonic() + timeout, stop_when_all=True)
    return len(replies.seen)


class _Replies:
    def __init__(self, target: IPv4Address | IPv6Address, ident: int, count: int) -> None:
        self.target, self.ident, self.count = target, ident, count
        self.v6 = target.version == 6
        self.seen: set[int] = set()

    def receive(self, sock: socket.socket, *, until: float, stop_when_all: bool) -> None:
        """Take replies until `until` (monotonic), or until every request has its reply."""
        while not (stop_when_all and len(self.seen) >= self.count):
            left = until - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                continue
            try:
                packet, source = sock.recvfrom(2048)
            except BlockingIOError:
                continue
            seen = reply_of(packet, self.v6)
            if (
                seen is not None
                and seen[0] == self.ident
                and ip_address(source[0].split("%")[0]) == self.target
            ):
                self.seen.add(seen[1])
