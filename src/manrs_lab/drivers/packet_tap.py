"""Count a check's packets where they land: a packet socket in the receiving node's namespace.

A packet socket (AF_PACKET) gets a copy of every frame the node's interfaces receive before the
kernel's IP layer sees it, so before netfilter's prerouting hook: nothing the node filters or
routes can hide an arrival. A classic BPF program keeps only the check's own packets (UDP or
TCP to the check's port, ICMP or ICMPv6 echo requests with the port as identifier), attached
before the socket is bound, so no other frame is ever queued. The socket is opened by a short
thread that joined the namespace (a socket stays in the namespace it was made in); reading is
in the caller's thread, and the caller can wait on it (`select`) instead of polling: no process
and no nftables transaction per look, which a class checking at once pays for.
A queue that overflowed (a machine too loaded to read in time) is reported, never counted as
"did not arrive".
"""

from __future__ import annotations

import ctypes
import socket
import struct
from collections import Counter
from functools import lru_cache
from ipaddress import ip_address
from pathlib import Path

from manrs_lab.drivers.netns_thread import call_in_netns, libc, libc_ok
from manrs_lab.errors import ExecError

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4
QUEUE_BYTES = 4 << 20  # room for thousands of short packets between two reads
SNAP = 64  # bytes kept of each packet: the IPv6 header (40) and the transport's first 8
PROTOCOLS = {17: "udp", 6: "tcp", 1: "icmp", 58: "icmp"}

# classic BPF opcodes (linux/filter.h)
_LDB_ABS, _LDH_ABS, _LDB_IND, _LDH_IND = 0x30, 0x28, 0x50, 0x48
_LDX_MSH, _RSH, _JEQ, _RET = 0xB1, 0x74, 0x15, 0x06


def filter_program(port: int) -> list[tuple[int, int, int, int]]:
    """The check's packets to `port`, offsets from the IP header (a SOCK_DGRAM packet socket's
    view): returns SNAP bytes of those, nothing of any other."""
    # (label, opcode, k, jump-if-true label, jump-if-false label); None falls through
    Op = tuple[str | None, int, int, str | None, str | None]
    ops: list[Op] = [
        (None, _LDB_ABS, 0, None, None),
        (None, _RSH, 4, None, None),
        (None, _JEQ, 4, "v4", None),
        (None, _JEQ, 6, "v6", "drop"),
        ("v4", _LDB_ABS, 9, None, None),  # protocol
        (None, _LDX_MSH, 0, None, None),  # X = the IPv4 header's length
        (None, _JEQ, 17, "port4", None),
        (None, _JEQ, 6, "port4", None),
        (None, _JEQ, 1, "echo4", "drop"),
        ("port4", _LDH_IND, 2, None, None),  # destination port
        (None, _JEQ, port, "keep", "drop"),
        ("echo4", _LDB_IND, 0, None, None),  # ICMP type
        (None, _JEQ, 8, None, "drop"),
        (None, _LDH_IND, 4, None, None),  # echo identifier
        (None, _JEQ, port, "keep", "drop"),
        ("v6", _LDB_ABS, 6, None, None),  # next header (the probes carry no extension header)
        (None, _JEQ, 17, "port6", None),
        (None, _JEQ, 6, "port6", None),
        (None, _JEQ, 58, "echo6", "drop"),
        ("port6", _LDH_ABS, 42, None, None),
        (None, _JEQ, port, "keep", "drop"),
        ("echo6", _LDB_ABS, 40, None, None),
        (None, _JEQ, 128, None, "drop"),
        (None, _LDH_ABS, 44, None, None),
        (None, _JEQ, port, "keep", "drop"),
        ("keep", _RET, SNAP, None, None),
        ("drop", _RET, 0, None, None),
    ]
    at = {label: i for i, (label, *_rest) in enumerate(ops) if label is not None}

    def offset(i: int, target: str | None) -> int:
        return 0 if target is None else at[target] - i - 1

    return [(code, offset(i, jt), offset(i, jf), k) for i, (_, code, k, jt, jf) in enumerate(ops)]


def _attach(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    raw = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class _SockaddrLl(ctypes.Structure):
    _fields_ = (
        ("family", ctypes.c_ushort),
        ("protocol", ctypes.c_ushort),  # network byte order
        ("ifindex", ctypes.c_int),
        ("hatype", ctypes.c_ushort),
        ("pkttype", ctypes.c_ubyte),
        ("halen", ctypes.c_ubyte),
        ("addr", ctypes.c_ubyte * 8),
    )


def _bind_every_interface(sock: socket.socket) -> None:
    """bind() to ETH_P_ALL on interface index 0 (every interface of the namespace), which
    Python's AF_PACKET addresses (an interface name) cannot say."""
    address = _SockaddrLl(socket.AF_PACKET, socket.htons(ETH_P_ALL), 0)
    libc_ok(libc.bind(sock.fileno(), ctypes.byref(address), ctypes.sizeof(address)), "bind")


@lru_cache(maxsize=4096)
def _source(raw: bytes) -> str:
    return str(ip_address(raw))


def parse(packet: bytes) -> tuple[str, str] | None:
    """(source address, protocol) of a packet the filter kept, from its IP header."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return _source(packet[12:16]), PROTOCOLS.get(packet[9], "")
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return _source(packet[8:24]), PROTOCOLS.get(packet[6], "")
    return None


class ArrivalTap:
    """Packets to one check's port arriving at one node, per (source, protocol)."""

    def __init__(self, sock: socket.socket, where: str) -> None:
        self._sock = sock
        self._where = where
        self.counts: Counter[tuple[str, str]] = Counter()

    @classmethod
    def open(
        cls, netns: Path, port: int, where: str, *, queue_bytes: int = QUEUE_BYTES
    ) -> ArrivalTap:
        def make() -> socket.socket:
            # Protocol 0: nothing is queued until the bind below, which comes after the filter
            # (a socket made for ETH_P_ALL queues every frame at once, and on a busy machine
            # its queue filled with other checks' packets before the filter was attached).
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, queue_bytes)
                _attach(sock, filter_program(port))
                _bind_every_interface(sock)
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
            return sock

        try:
            return cls(call_in_netns(netns, make), where)
        except OSError as exc:
            raise ExecError(f"{where}: cannot count arriving packets: {exc}") from exc

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> None:
        """Count what has arrived since the last call."""
        while True:
            try:
                packet, address = self._sock.recvfrom(SNAP)
            except BlockingIOError:
                break
            if address[2] == PACKET_OUTGOING:
                continue  # sent by the node itself
            seen = parse(packet)
            if seen is not None:
                self.counts[seen] += 1
        stats = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        _packets, drops = struct.unpack("II", stats)
        if drops:
            raise ExecError(
                f"{self._where}: {drops} packets were lost before they could be counted "
                "(the machine is too busy): check again"
            )

    def close(self) -> None:
        self._sock.close()
