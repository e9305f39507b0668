"""FRR: reads through the daemons' vty sockets (JSON), writes through vtysh."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

from manrs_lab.drivers import frr_parse
from manrs_lab.drivers.handle import NodeHandle
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.drivers.vty import vty_query, vty_session
from manrs_lab.errors import ExecError
from manrs_lab.state import BgpRoute, BgpSession, RpkiCacheState, SessionHeard


def _family(prefix: str) -> str:
    return "ipv6" if ip_network(prefix).version == 6 else "ipv4"


class FrrRouter:
    def __init__(self, handle: NodeHandle) -> None:
        self.handle = handle
        self.name = handle.name
        assert handle.node.asn is not None
        self.asn = handle.node.asn

    # -- transport ------------------------------------------------------------------------
    def _run_dir(self) -> Path | None:
        local = self.handle.local_dir
        return local / "run" if local is not None else None

    def show(self, command: str, daemon: str = "bgpd") -> str:
        run_dir = self._run_dir()
        if run_dir is not None:
            return vty_query(run_dir / f"{daemon}.vty", command)
        return self.handle.exec_ok(["vtysh", "-d", daemon, "-c", command])

    def show_json(self, command: str, daemon: str = "bgpd") -> Any:
        text = self.show(command, daemon)
        try:
            return json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ExecError(f"{self.name}: {command!r} did not answer JSON: {text[:200]}") from exc

    def vtysh(self, *commands: str, input_text: str | None = None) -> str:
        argv = ["vtysh"]
        run_dir = self._run_dir()
        if run_dir is not None:
            argv += ["--vty_socket", str(run_dir)]
        if input_text is not None:
            argv += ["-f", "/dev/stdin"]
        for command in commands:
            argv += ["-c", command]
        result = self.handle.exec(argv, input_text=input_text)
        # vtysh -f exits 0 even when a line is rejected; the rejection is printed.
        output = result.stdout + result.stderr
        if not result.ok or "% Unknown command" in output or "% Invalid" in output:
            raise ExecError(f"{self.name}: vtysh rejected the configuration:\n{output.strip()}")
        return result.stdout

    # -- state ----------------------------------------------------------------------------
    def sessions(self) -> list[BgpSession]:
        return frr_parse.parse_summary(self.show_json("show bgp summary json"))

    def heard(self) -> list[SessionHeard]:
        return frr_parse.parse_heard(self.show_json("show bgp neighbors json"))

    def request_refresh(self, *, resend: bool = False) -> None:
        self.bgpd_commands(["clear bgp * soft" if resend else "clear bgp * soft in"])

    def routes(self, prefix: str | None = None) -> list[BgpRoute]:
        if prefix is not None:
            doc = self.show_json(f"show bgp {_family(prefix)} unicast {prefix} json")
            return frr_parse.parse_prefix_detail(doc, self.asn)
        routes: list[BgpRoute] = []
        for family in ("ipv4", "ipv6"):
            routes += frr_parse.parse_table(
                self.show_json(f"show bgp {family} unicast json"), self.asn
            )
        return routes

    def forwards(self, prefix: str) -> bool:
        # bgpd hands a route to zebra, and zebra to the kernel, after bgpd's table has it (a
        # few to tens of milliseconds): `installed` is zebra's word that the kernel took it.
        net = ip_network(prefix)
        family = "ipv6" if net.version == 6 else "ip"
        try:
            doc = self.show_json(f"show {family} route {net} json", "zebra")
        except ExecError as exc:
            if str(exc).endswith("{}"):  # zebra has no route for it: `{}` and a warning status
                return False
            raise
        return frr_parse.installed(doc, str(net))

    def rpki(self) -> RpkiCacheState:
        try:
            connections = self.show_json("show rpki cache-connection json")
            table = self.show_json("show rpki prefix-table json")
            state = frr_parse.parse_rpki(connections, table)
        except ExecError:
            # bgpd refuses both commands (empty answer, error status) until a cache is connected
            state = RpkiCacheState(connected=False, vrp_count=0)
        if state.connected:
            return state
        # Not connected: still connecting (FRR 8.4 checks its first sync after 3 s), or no cache?
        try:
            servers = self.show_json("show rpki cache-server json").get("servers", [])
        except ExecError:
            servers = []
        return replace(state, configured=bool(servers))

    def rpki_vrps(self) -> list[Vrp]:
        try:
            return frr_parse.parse_rpki_prefix_table(self.show_json("show rpki prefix-table json"))
        except ExecError:  # no cache connected yet
            return []

    def running_config(self) -> str:
        return self.vtysh("show running-config")

    # -- changes --------------------------------------------------------------------------
    def _network_commands(
        self,
        prefixes: list[str],
        withdraw: bool,
        as_path: tuple[int, ...] = (),
        next_hop: str | None = None,
    ) -> list[str]:
        """Originate without a static route: with FRR 8.4, a `network` that waits for a blackhole
        static (import-check) can sit in the update queue ~8 s before it is sent. A relayed or
        forged `as_path` is prepended, and a third-party `next_hop` set, by a route-map on the
        `network` statement (eBGP keeps a next hop on the peer's own subnet)."""
        neg = "no " if withdraw else ""
        commands = ["configure terminal"]
        route_map = ""
        if (as_path or next_hop) and not withdraw:
            sets = []
            name = "MANRS-PROBE"
            if as_path:  # a digest: a 51-hop path of 10-digit ASNs is no name
                digest = hashlib.sha256(" ".join(map(str, as_path)).encode()).hexdigest()[:12]
                name += f"-PATH-{len(as_path)}-{digest}"
                sets.append(f"set as-path prepend {' '.join(str(a) for a in as_path)}")
            if next_hop:
                name += "-NH-" + next_hop.replace(":", "-")
                v6 = ip_address(next_hop).version == 6
                sets.append(
                    f"set ipv6 next-hop global {next_hop}" if v6 else f"set ip next-hop {next_hop}"
                )
            commands += [f"route-map {name} permit 10", *sets, "exit"]
            route_map = f" route-map {name}"
        commands += [f"router bgp {self.asn}", "no bgp network import-check"]
        for prefix in prefixes:
            commands += [
                f"address-family {_family(prefix)} unicast",
                f"{neg}network {prefix}{route_map}",
                "exit-address-family",
            ]
        return [*commands, "end"]

    def announce(
        self, prefixes: list[str], as_path: tuple[int, ...] = (), next_hop: str | None = None
    ) -> None:
        self.bgpd_commands(
            self._network_commands(prefixes, withdraw=False, as_path=as_path, next_hop=next_hop)
        )

    def withdraw(self, prefixes: list[str]) -> None:
        self.bgpd_commands(self._network_commands(prefixes, withdraw=True))

    def bgpd_commands(self, commands: list[str]) -> None:
        """Commands for bgpd alone (probe changes, `clear bgp`): over its vty socket (~1 ms)
        rather than a vtysh process (~45 ms of CPU, on the grading's critical path), where the
        socket is reachable."""
        run_dir = self._run_dir()
        if run_dir is None:
            self.vtysh(*commands)
            return
        try:
            vty_session(run_dir / "bgpd.vty", ["enable", *commands])
        except ExecError as exc:
            raise ExecError(f"{self.name}: bgpd refused {commands!r}: {exc}") from exc

    def apply_config(self, text: str) -> None:
        self.vtysh(input_text=text)
