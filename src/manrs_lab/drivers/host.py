"""Hosts: addresses, routes, ping, traceroute, and packets with a chosen source."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from manrs_lab.drivers import echo, netlink, spoof_sender
from manrs_lab.drivers.handle import NodeHandle
from manrs_lab.drivers.netns_thread import call_in_netns
from manrs_lab.errors import ExecError

SENDER = Path(__file__).with_name("spoof_sender.py")
COUNT_TABLE = "manrs_count"
PING_INTERVAL = 0.2  # seconds between echo requests


@dataclass(frozen=True)
class PingResult:
    sent: int
    received: int

    @property
    def ok(self) -> bool:
        return self.received > 0


@dataclass(frozen=True)
class Hop:
    ttl: int
    address: str | None  # None: no answer (*)


class Host:
    def __init__(self, handle: NodeHandle) -> None:
        self.handle = handle
        self.name = handle.name

    def addresses(self) -> list[str]:
        """`address/prefixlen` of every interface but the loopback: read over netlink in this
        process where the namespace can be joined, else the node's `ip -j addr`."""
        netns = self.handle.netns_path
        if netns is not None:
            try:
                return call_in_netns(netns, netlink.interface_addresses)
            except OSError as exc:
                raise ExecError(f"{self.name}: reading its addresses: {exc}") from exc
        data = json.loads(self.handle.exec_ok(["ip", "-j", "addr", "show"]))
        return [
            f"{a['local']}/{a['prefixlen']}"
            for link in data
            for a in link.get("addr_info", [])
            if link["ifname"] != "lo"
        ]

    def routes(self) -> list[str]:
        data = json.loads(self.handle.exec_ok(["ip", "-j", "route", "show"]))
        return [f"{r['dst']} via {r.get('gateway', 'direct')}" for r in data]

    def ping(self, dst: str, count: int = 3, timeout: float = 1.0) -> PingResult:
        """`ping -c COUNT -i 0.2 -W TIMEOUT`: in this process where the namespace can be
        joined (drivers/echo.py), else the node's `ping`."""
        netns = self.handle.netns_path
        if netns is not None:
            try:
                got = call_in_netns(netns, lambda: echo.ping(dst, count, PING_INTERVAL, timeout))
            except OSError as exc:
                raise ExecError(f"{self.name}: ping {dst}: {exc}") from exc
            return PingResult(sent=count, received=got)
        result = self.handle.exec(
            [
                "ping",
                "-n",
                "-q",
                "-c",
                str(count),
                "-i",
                f"{PING_INTERVAL:g}",
                "-W",
                f"{timeout:g}",
                dst,
            ],
            timeout=count * (timeout + 0.5) + 5,
        )
        match = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", result.stdout)
        if match is None:
            return PingResult(sent=count, received=0)
        return PingResult(sent=int(match.group(1)), received=int(match.group(2)))

    def traceroute(self, dst: str, max_hops: int = 10) -> list[Hop]:
        result = self.handle.exec(
            ["traceroute", "-n", "-q", "1", "-w", "1", "-m", str(max_hops), dst],
            timeout=max_hops * 1.5 + 5,
        )
        hops = []
        for line in result.stdout.splitlines()[1:]:
            parts = line.split()
            if parts and parts[0].isdigit():
                addr = parts[1] if len(parts) > 1 and parts[1] != "*" else None
                hops.append(Hop(ttl=int(parts[0]), address=addr))
        return hops

    def send_spoofed(self, src: str, dst: str, count: int = 5, dport: int = 33999) -> int:
        """UDP packets from `src` (any address) to `dst`; returns how many were sent."""
        return self.send_packets(dst, [src], count, dport)

    def send_packets(
        self,
        dst: str,
        sources: list[str],
        count: int,
        dport: int,
        protos: list[str] | None = None,
    ) -> int:
        """`count` packets to `dst` from each source address in turn (IPv4 or IPv6, spoofed
        or not): UDP, or per source the protocol at its place in `protos` (udp, tcp, icmp). In
        this process where the namespace can be joined, else in the node."""
        netns = self.handle.netns_path
        if netns is not None:
            try:
                return call_in_netns(
                    netns, lambda: spoof_sender.send(dst, count, dport, sources, protos)
                )
            except OSError as exc:
                raise ExecError(f"{self.name}: sending from {', '.join(sources)}: {exc}") from exc
        given = (
            sources
            if protos is None
            else [f"{p}@{s}" for p, s in zip(protos, sources, strict=True)]
        )
        out = self.handle.exec_ok(
            ["python3", "-c", SENDER.read_text(), dst, str(count), str(dport), *given]
        )
        return int(out.strip() or 0)

    # -- counting what arrives (anti-spoofing probes) -----------------------------------------
    def count_from(self, sources: list[str]) -> None:
        """Start counting packets that arrive from each source address (resets counters)."""
        rules = "".join(f"    ip saddr {src} counter\n" for src in sources)
        ruleset = (
            f"table inet {COUNT_TABLE}\ndelete table inet {COUNT_TABLE}\n"
            f"table inet {COUNT_TABLE} {{\n  chain input {{\n"
            f"    type filter hook input priority -300;\n{rules}  }}\n}}\n"
        )
        self.handle.nft(ruleset)

    def counted(self) -> dict[str, int]:
        """Packets counted per source since `count_from`."""
        out = self.handle.nft(f"list table inet {COUNT_TABLE}", json=True)
        counts: dict[str, int] = {}
        for item in json.loads(out)["nftables"]:
            rule = item.get("rule")
            if rule is None:
                continue
            src = packets = None
            for expr in rule["expr"]:
                if "match" in expr:
                    src = str(expr["match"]["right"])
                if "counter" in expr:
                    packets = int(expr["counter"]["packets"])
            if src is not None and packets is not None:
                counts[src] = packets
        return counts

    def stop_counting(self) -> None:
        self.handle.nft(f"delete table inet {COUNT_TABLE}", check=False)
