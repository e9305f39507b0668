"""BIRD: reads through birdc (text, parsed in bird_parse), writes by reconfiguring."""

from __future__ import annotations

from ipaddress import ip_network

from manrs_lab.drivers import bird_parse
from manrs_lab.drivers.daemons import BIRD_PROBES
from manrs_lab.drivers.handle import NodeHandle
from manrs_lab.errors import ExecError
from manrs_lab.state import BgpRoute, BgpSession, RpkiCacheState

CONF_IN_NODE = "/etc/bird/bird.conf"


class BirdRouter:
    def __init__(self, handle: NodeHandle) -> None:
        self.handle = handle
        self.name = handle.name
        assert handle.node.asn is not None
        self.asn = handle.node.asn
        self._announced: list[str] = []

    def birdc(self, command: str) -> str:
        local = self.handle.local_dir
        argv = ["birdc"]
        if local is not None:
            argv += ["-s", str(local / "bird.ctl")]
        result = self.handle.exec(argv + command.split())
        text = bird_parse.strip_banner(result.stdout)
        if not result.ok or text.lstrip().startswith(("syntax error", "Unable to connect")):
            raise ExecError(f"{self.name}: birdc {command!r}: {(text or result.stderr).strip()}")
        return text

    def sessions(self) -> list[BgpSession]:
        return bird_parse.parse_protocols_all(self.birdc("show protocols all"))

    def routes(self, prefix: str | None = None) -> list[BgpRoute]:
        if prefix is not None:
            text = self.birdc(f"show route all where net = {ip_network(prefix)}")
        else:
            text = self.birdc("show route all")
        return bird_parse.parse_routes_all(text, self.asn)

    def rpki(self) -> RpkiCacheState:
        return bird_parse.parse_rpki(self.birdc("show protocols all"))

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
        v4 = [p for p in self._announced if ip_network(p).version == 4]
        v6 = [p for p in self._announced if ip_network(p).version == 6]
        parts = []
        for family, nets in (("ipv4", v4), ("ipv6", v6)):
            if nets:
                routes = "".join(f" route {n} blackhole;" for n in nets)
                parts.append(f"protocol static manrs_probe_{family} {{ {family};{routes} }}\n")
        self._write(BIRD_PROBES, "".join(parts))
        self._configure()

    def announce(self, prefixes: list[str]) -> None:
        self._announced = sorted(set(self._announced) | set(prefixes))
        self._write_probes()

    def withdraw(self, prefixes: list[str]) -> None:
        self._announced = [p for p in self._announced if p not in prefixes]
        self._write_probes()

    def apply_config(self, text: str) -> None:
        if f'include "{BIRD_PROBES}";' not in text:
            text += f'\ninclude "{BIRD_PROBES}";\n'
        self._write("bird.conf", text)
        self._configure()
