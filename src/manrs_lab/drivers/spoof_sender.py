"""Send UDP packets with chosen (possibly spoofed) source addresses, IPv4 or IPv6.

Raw sockets that take our own IP header (IP_HDRINCL, IPV6_HDRINCL): the kernel sends the source
as given. Used two ways, so it needs nothing but the standard library: imported and called in a
thread that joined the sending node's namespace (netns runtime), or run inside a node as
`python3 -c <this file> DST COUNT DPORT SRC...` (containers).
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


def packet4(src: str, dst: str, sport: int, dport: int) -> bytes:
    udp_len = 8 + len(PAYLOAD)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + PAYLOAD
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + udp_len,
        0x4D4C,
        0,
        64,
        socket.IPPROTO_UDP,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + udp


def packet6(src: str, dst: str, sport: int, dport: int) -> bytes:
    s = socket.inet_pton(socket.AF_INET6, src)
    d = socket.inet_pton(socket.AF_INET6, dst)
    length = 8 + len(PAYLOAD)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + PAYLOAD
    check = checksum(s + d + struct.pack("!I3xB", length, socket.IPPROTO_UDP) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", check) + udp[8:]
    return struct.pack("!IHBB16s16s", 6 << 28, length, socket.IPPROTO_UDP, 64, s, d) + udp


def send(dst: str, count: int, dport: int, sources: list[str]) -> int:
    """`count` packets to `dst` from each source in turn; returns how many were sent."""
    v6 = ":" in dst
    family = socket.AF_INET6 if v6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW) as sock:
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_HDRINCL, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        build = packet6 if v6 else packet4
        for src in sources:
            for seq in range(count):
                sock.sendto(build(src, dst, 40000 + seq, dport), (dst, 0))
    return count * len(sources)


def main(argv: list[str]) -> int:
    dst, count, dport, *sources = argv
    print(send(dst, int(count), int(dport), sources))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
