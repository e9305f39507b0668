"""Netlink dumps in this process, for a thread that joined a node's namespace (netns_thread):
what `ip -j addr` and `ss -ti` would print there, without starting them (a netlink socket
answers for the namespace it was made in).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

NETLINK_ROUTE, NETLINK_SOCK_DIAG = 0, 4
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWADDR, RTM_GETADDR = 20, 22
IFA_ADDRESS, IFA_LOCAL = 1, 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_IFADDRMSG = struct.Struct("=BBBBI")


def dump(protocol: int, kind: int, request: bytes) -> Iterator[bytes]:
    """The payload of each message a dump request of `kind` gets back."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, protocol) as sock:
        header = _HEADER.pack(_HEADER.size + len(request), kind, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
        sock.send(header + request)
        while True:
            data = sock.recv(1 << 16)
            at = 0
            while at + _HEADER.size <= len(data):
                length, got, _flags, _seq, _pid = _HEADER.unpack_from(data, at)
                if got == NLMSG_DONE or length < _HEADER.size:
                    return
                if got == NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", data, at + _HEADER.size)
                    raise OSError(-errno, f"netlink refused dump {kind}")
                yield data[at + _HEADER.size : at + length]
                at += (length + 3) & ~3


def attributes(message: bytes, start: int) -> Iterator[tuple[int, bytes]]:
    """(type, value) of each route attribute from `start` on."""
    at = start
    while at + 4 <= len(message):
        length, kind = struct.unpack_from("=HH", message, at)
        if length < 4:
            return
        yield kind, message[at + 4 : at + length]
        at += (length + 3) & ~3


def interface_addresses() -> list[str]:
    """`address/prefixlen` of every interface but the loopback, as `ip -j addr show` lists
    them (its `local`: IFA_LOCAL where there is one, else IFA_ADDRESS), in its order: by
    interface, IPv4 before IPv6."""
    found: list[tuple[int, int, str]] = []
    for message in dump(NETLINK_ROUTE, RTM_GETADDR, _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
        family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(message)
        if socket.if_indextoname(index) == "lo":
            continue
        attrs = dict(attributes(message, _IFADDRMSG.size))
        raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
        if raw is not None and family in (socket.AF_INET, socket.AF_INET6):
            text = f"{socket.inet_ntop(family, raw)}/{prefixlen}"
            found.append((index, family != socket.AF_INET, text))
    return [text for _, _, text in sorted(found, key=lambda a: a[:2])]
