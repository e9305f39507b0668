"""Send packets with chosen (possibly spoofed) source addresses, IPv4 or IPv6: UDP datagrams,
TCP SYNs or ICMP echo requests (to port DPORT; an echo request carries DPORT as its identifier).

Raw sockets that take our own IP header (IP_HDRINCL, IPV6_HDRINCL): the kernel sends the source
as given. Used two ways, so it needs nothing but the standard library: imported and called in a
thread that joined the sending node's namespace (netns runtime), or run inside a node as
`python3 -c <this file> DST COUNT DPORT SRC...` (containers), where a SRC may be written
`PROTO@ADDRESS` (`tcp@198.18.2.7`; UDP when no protocol is given).
"""

import socket
import struct
import sys

IPV6_HDRINCL = 36
PAYLOAD = b"manrs-lab probe"


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total >> 16) + (total & 0xFFFF)
    return ~total & 0xFFFF


PROTOCOLS = ("udp", "tcp", "icmp")
ICMP_ECHO, ICMP6_ECHO = 8, 128


def _transport(proto: str, sport: int, dport: int, seq: int, v6: bool) -> tuple[int, bytes]:
    """(IP protocol number, header and payload without checksum); the checksum field is at
    the offset `_checksum_at` gives."""
    if proto == "udp":
        return socket.IPPROTO_UDP, struct.pack("!HHHH", sport, dport, 8 + len(PAYLOAD), 0) + PAYLOAD
    if proto == "tcp":
        # A SYN: data offset 5 words, no options.
        header = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
        return socket.IPPROTO_TCP, header + PAYLOAD
    if proto == "icmp":
        kind = ICMP6_ECHO if v6 else ICMP_ECHO
        number = 58 if v6 else socket.IPPROTO_ICMP
        return number, struct.pack("!BBHHH", kind, 0, 0, dport, seq & 0xFFFF) + PAYLOAD
    raise ValueError(f"unknown protocol {proto!r} (one of {', '.join(PROTOCOLS)})")


def _checksum_at(proto: str) -> int:
    return {"udp": 6, "tcp": 16, "icmp": 2}[proto]


def _with_checksum(segment: bytes, offset: int, value: int) -> bytes:
    return segment[:offset] + struct.pack("!H", value) + segment[offset + 2 :]


def packet4(src: str, dst: str, sport: int, dport: int, proto: str = "udp") -> bytes:
    number, segment = _transport(proto, sport, dport, sport, v6=False)
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    if proto == "icmp":
        check = checksum(segment)
    elif proto == "tcp":
        check = checksum(s + d + struct.pack("!BBH", 0, number, len(segment)) + segment)
    else:
        check = 0  # optional for UDP over IPv4
    segment = _with_checksum(segment, _checksum_at(proto), check)
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0x4D4C, 0, 64, number, 0, s, d
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + segment


def packet6(src: str, dst: str, sport: int, dport: int, proto: str = "udp") -> bytes:
    number, segment = _transport(proto, sport, dport, sport, v6=True)
    s = socket.inet_pton(socket.AF_INET6, src)
    d = socket.inet_pton(socket.AF_INET6, dst)
    pseudo = s + d + struct.pack("!I3xB", len(segment), number)
    check = checksum(pseudo + segment) or 0xFFFF
    segment = _with_checksum(segment, _checksum_at(proto), check)
    return struct.pack("!IHBB16s16s", 6 << 28, len(segment), number, 64, s, d) + segment


def send(
    dst: str, count: int, dport: int, sources: list[str], protos: list[str] | None = None
) -> int:
    """`count` packets to `dst` from each source in turn (of the protocol at the same place in
    `protos`, UDP by default); returns how many were sent."""
    v6 = ":" in dst
    family = socket.AF_INET6 if v6 else socket.AF_INET
    kinds = protos if protos is not None else ["udp"] * len(sources)
    if len(kinds) != len(sources):
        raise ValueError("one protocol per source")
    with socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW) as sock:
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_HDRINCL, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        build = packet6 if v6 else packet4
        for src, proto in zip(sources, kinds, strict=True):
            for seq in range(count):
                sock.sendto(build(src, dst, 40000 + seq, dport, proto), (dst, 0))
    return count * len(sources)


def main(argv: list[str]) -> int:
    dst, count, dport, *given = argv
    protos = [g.split("@", 1)[0] if "@" in g else "udp" for g in given]
    sources = [g.split("@", 1)[1] if "@" in g else g for g in given]
    print(send(dst, int(count), int(dport), sources, protos))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
