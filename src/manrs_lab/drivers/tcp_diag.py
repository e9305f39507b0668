"""Bytes received on each BGP connection of a namespace, as `ss -ti` shows them, from the
kernel's socket diagnostics (NETLINK_SOCK_DIAG) in this process: no `ip netns exec` and `ss`
processes per check. Call it in a thread that joined the namespace (netns_thread).
"""

from __future__ import annotations

import socket
import struct
from ipaddress import ip_address

from manrs_lab.drivers.netlink import NETLINK_SOCK_DIAG, attributes, dump

SOCK_DIAG_BY_FAMILY = 20
TCP_ESTABLISHED = 1
INET_DIAG_INFO = 2
BYTES_RECEIVED_AT = 128  # tcpi_bytes_received in struct tcp_info (linux/tcp.h)
BGP_PORT = 179
_REQUEST = struct.Struct("=BBBxI48x")  # inet_diag_req_v2, its socket id left zero
_MESSAGE = struct.Struct("=BBBB2s2s16s16sIQIIIII")  # inet_diag_msg (72 bytes)


def bgp_bytes_received() -> dict[str, int]:
    """By the neighbour's address: bytes received so far on each established connection to or
    from port 179 (the larger, should two connections to one neighbour be open for a moment)."""
    received: dict[str, int] = {}
    for family in (socket.AF_INET, socket.AF_INET6):
        request = _REQUEST.pack(
            family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 1 << TCP_ESTABLISHED
        )
        for message in dump(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, request):
            seen = _connection(message, family)
            if seen is not None:
                peer, got = seen
                received[peer] = max(received.get(peer, 0), got)
    return received


def _connection(message: bytes, family: int) -> tuple[str, int] | None:
    """(neighbour, bytes received) of one inet_diag_msg about a BGP connection."""
    if len(message) < _MESSAGE.size:
        return None
    _fam, _state, _timer, _retrans, sport, dport, _src, dst, *_rest = _MESSAGE.unpack_from(message)
    if BGP_PORT not in (int.from_bytes(sport, "big"), int.from_bytes(dport, "big")):
        return None
    peer = str(ip_address(dst[:4] if family == socket.AF_INET else dst))
    for kind, value in attributes(message, _MESSAGE.size):
        if kind == INET_DIAG_INFO and len(value) >= BYTES_RECEIVED_AT + 8:
            (got,) = struct.unpack_from("=Q", value, BYTES_RECEIVED_AT)
            return peer, got
    return peer, 0
