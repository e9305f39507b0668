"""Send UDP packets with a chosen (possibly spoofed) source address.

Runs inside a node as `python3 -c <this file>` with arguments, so it needs nothing but the
standard library there. A raw socket with IP_HDRINCL: the kernel takes our IP header as is.
"""

import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def packet(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    udp_len = 8 + len(payload)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    ip_header = struct.pack(
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
    ip_header = ip_header[:10] + struct.pack("!H", checksum(ip_header)) + ip_header[12:]
    return ip_header + udp


def main(argv: list[str]) -> int:
    src, dst, count, dport = argv[0], argv[1], int(argv[2]), int(argv[3])
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    for seq in range(count):
        sock.sendto(packet(src, dst, 40000 + seq, dport, b"manrs-lab probe"), (dst, 0))
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
