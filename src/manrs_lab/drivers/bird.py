"""BIRD: reads through birdc (text, parsed in bird_parse), writes by reconfiguring."""

from __future__ import annotations

import time
from datetime import datetime
from ipaddress import ip_address, ip_network

from manrs_lab.drivers import bird_parse, tcp_diag
from manrs_lab.drivers.bird_ctl import bird_query
from manrs_lab.drivers.daemons import BIRD_PROBES
from manrs_lab.drivers.handle import NodeHandle
from manrs_lab.drivers.netns_thread import call_in_netns
from manrs_lab.drivers.router import ParsedAnswers
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import ExecError
from manrs_lab.state import BgpRoute, BgpSession, RpkiCacheState, SessionHeard

CONF_IN_NODE = "/etc/bird/bird.conf"
INTERRUPTED = "Stopped due to reconfiguration"
RECONFIGURATION_RETRIES = 5


class BirdRouter:
    def __init__(self, handle: NodeHandle) -> None:
        self.handle = handle
        self.name = handle.name
        assert handle.node.asn is not None
        self.asn = handle.node.asn
        self._announced: list[str] = []
        self._paths: dict[str, tuple[int, ...]] = {}  # probe prefix -> relayed/forged AS path
        self._hops: dict[str, str] = {}  # probe prefix -> third-party next hop
        self._parsed = ParsedAnswers()

    def birdc(self, command: str) -> str:
        """What `birdc COMMAND` prints: over the control socket where it is a local file (no
        process per query), else through the node's exec (containers)."""
        local = self.handle.local_dir
        for attempt in range(RECONFIGURATION_RETRIES + 1):
            if local is not None:
                text, ok, stderr = bird_query(local / "bird.ctl", command), True, ""
            else:
                result = self.handle.exec(["birdc", *command.split()])
                text, ok, stderr = bird_parse.strip_banner(result.stdout), result.ok, result.stderr
            # A `show` that a `configure` (a probe, on this router) interrupts ends with this
            # line instead of its output: ask again.
            interrupted = INTERRUPTED in text or INTERRUPTED in stderr
            if not interrupted or attempt == RECONFIGURATION_RETRIES:
                break
            time.sleep(0.05)
        failed = text.lstrip().startswith(("syntax error", "Unable to connect"))
        if not ok or failed or interrupted:
            raise ExecError(f"{self.name}: birdc {command!r}: {(text or stderr).strip()}")
        return text

    def sessions(self) -> list[BgpSession]:
        text = self.birdc("show protocols all")
        return bird_parse.parse_protocols_all(text, datetime.now())

    def heard(self) -> list[SessionHeard]:
        """Per established session, what BIRD's hold timer says, and the bytes its TCP
        connection has received so far: any message counts there, also one BIRD's hold timer
        does not restart on (FRR may answer a route refresh with route-refresh markers only)."""
        heard = bird_parse.parse_heard(self.birdc("show protocols all"))
        netns = self.handle.netns_path
        try:
            if netns is not None:
                received = call_in_netns(netns, tcp_diag.bgp_bytes_received)
            else:
                received = bird_parse.parse_ss_received(self.handle.exec_ok(bird_parse.SS_BGP))
        except (ExecError, OSError):
            return heard  # no socket diagnostics (or no `ss` in the node): hold timers alone
        return [
            SessionHeard(h.peer, received.get(str(ip_address(h.peer))), h.silent_for) for h in heard
        ]

    def request_refresh(self, *, resend: bool = False) -> None:
        # Without an import table, `reload in` asks the BGP neighbour for a route refresh;
        # `reload` also exports every route to it again.
        for session in self.sessions():
            if session.established and session.name:
                self.birdc(f"reload {session.name}" if resend else f"reload in {session.name}")

    def routes(self, prefix: str | None = None, *, family: int | None = None) -> list[BgpRoute]:
        # `show route` lists both families' tables: `family` reads nothing less
        if prefix is not None:
            query = f"show route all where net = {ip_network(prefix)}"
        else:
            query = "show route all"
        return self._parsed.routes(
            query, self.birdc(query), lambda text: bird_parse.parse_routes_all(text, self.asn)
        )

    def forwards(self, prefix: str) -> bool:
        # BIRD 2 writes a route to the kernel (its kernel protocol, netlink with ack) in the
        # same event that selects it, and birdc is answered by that same loop: once `show
        # route` has it, the kernel has it too (if the kernel protocol exports it at all).
        return bool(self.routes(prefix))

    def rpki(self) -> RpkiCacheState:
        return bird_parse.parse_rpki(self.birdc("show protocols all"))

    def rpki_vrps(self) -> list[Vrp]:
        vrps: list[Vrp] = []
        for table in bird_parse.rpki_roa_tables(self.birdc("show protocols all")):
            vrps += bird_parse.parse_roa_table(self.birdc(f"show route table {table}"))
        return vrps

    def running_config(self) -> str:
        local = self.handle.local_dir
        path = str(local / "bird.conf") if local is not None else CONF_IN_NODE
        return self.handle.exec_ok(["cat", path])

    def _write(self, name: str, text: str) -> None:
        local = self.handle.local_dir
        if local is not None:
            (local / name).write_text(text)
        else:
            self.handle.exec_ok(["sh", "-c", f"cat > /etc/bird/{name}"], input_text=text)

    def _configure(self) -> None:
        out = self.birdc("configure")
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise ExecError(f"{self.name}: BIRD refused the configuration: {out.strip()}")

    def _write_probes(self) -> None:
        v6 = [p for p in self._announced if ":" in p]
        v4 = [p for p in self._announced if ":" not in p]
        parts = []
        for family, nets in (("ipv4", v4), ("ipv6", v6)):
            if nets:
                routes = "".join(f" route {n} {self._dest(n)}{self._attributes(n)};" for n in nets)
                parts.append(f"protocol static manrs_probe_{family} {{ {family};{routes} }}\n")
        self._write(BIRD_PROBES, "".join(parts))
        self._configure()

    def _dest(self, prefix: str) -> str:
        """A third-party next hop is a static route via that address: BIRD announces a route's
        gateway as the next hop to a single-hop eBGP peer on the same interface."""
        hop = self._hops.get(prefix)
        return f"via {hop}" if hop else "blackhole"

    def _attributes(self, prefix: str) -> str:
        """A relayed or forged AS path: prepended origin first, so it reads as given."""
        path = self._paths.get(prefix, ())
        if not path:
            return ""
        return " { " + "".join(f"bgp_path.prepend({a}); " for a in reversed(path)) + "}"

    def announce(
        self, prefixes: list[str], as_path: tuple[int, ...] = (), next_hop: str | None = None
    ) -> None:
        self._announced = sorted(set(self._announced) | set(prefixes))
        for prefix in prefixes:
            self._paths[prefix] = tuple(as_path)
            if next_hop:
                self._hops[prefix] = next_hop
            else:
                self._hops.pop(prefix, None)
        self._write_probes()

    def withdraw(self, prefixes: list[str]) -> None:
        self._announced = [p for p in self._announced if p not in prefixes]
        for prefix in prefixes:
            self._paths.pop(prefix, None)
            self._hops.pop(prefix, None)
        self._write_probes()

    def apply_config(self, text: str) -> None:
        if f'include "{BIRD_PROBES}";' not in text:
            text += f'\ninclude "{BIRD_PROBES}";\n'
        self._write("bird.conf", text)
        self._configure()
