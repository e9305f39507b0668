"""How each role's daemons are prepared, syntax-checked and started as local processes.

Used by the netns runtime. Everything lives in the node's state folder: no /etc/frr/NAME,
no /var/run/frr/NAME (see recipes.md: `-N` would still create /var/run/frr/NAME).
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import json
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from ipaddress import ip_interface, ip_network
from pathlib import Path

from manrs_lab.drivers import frr_split
from manrs_lab.drivers.vty import vty_batch
from manrs_lab.errors import ConfigSyntaxError, LabError
from manrs_lab.instance import read_pid
from manrs_lab.paths import config_check_cache
from manrs_lab.spec.topology import Role

FRR_BIN = Path("/usr/lib/frr")
FRR_DAEMONS = ("zebra", "bgpd", "staticd")
BIRD_PROBES = "manrs-probes.conf"
BIRD_USER = "bird"
BGPD_LIVE = "bgpd.live.conf"  # bgpd's config pushed right after it starts (frr_split)
RTR_PORT = 8282
RTR_METRICS_PORT = 9847
# stayrtr re-reads its VRP file this often (seconds, its minimum): the grader publishes probe
# ROAs at check time and withdraws them after, and every second of it is on the check's path.
RTR_REFRESH = 1


@dataclass(frozen=True)
class Launch:
    """A command to start inside the node's namespace."""

    argv: tuple[str, ...]
    foreground: bool = False  # True: we keep it running ourselves and write its pidfile
    pidfile: Path | None = None
    log: Path | None = None
    # Start only once this file exists: bgpd and staticd wait for zebra's socket, or they miss
    # it, retry 10 s later, and meanwhile drop IPv6 routes with link-local next hops.
    after: Path | None = None
    # Once started, push this file's config lines over `push_to` (a vty socket) in one write.
    push: Path | None = None
    push_to: Path | None = None


def config_filename(role: Role) -> str:
    return {Role.FRR: "frr.conf", Role.BIRD: "bird.conf", Role.RTR: "vrps.json"}.get(role, "")


def prepare(role: Role, node_dir: Path, config: Path | None) -> None:
    """Copy the node's starting config into its state folder and lay out what the daemon needs."""
    node_dir.mkdir(parents=True, exist_ok=True)
    if config is None:
        return
    target = node_dir / config_filename(role)
    shutil.copyfile(config, target)
    if role is Role.FRR:
        (node_dir / "run").mkdir(exist_ok=True)
        (node_dir / "vtysh.conf").touch()
        owned = [node_dir, node_dir / "run", target, node_dir / "vtysh.conf"]
        parts = frr_split.split(target.read_text())
        for daemon, part in (parts or {}).items():
            startup = part
            if daemon == "bgpd":
                startup, live = frr_split.startup_and_live(part)
                (node_dir / BGPD_LIVE).write_text(live)
            (node_dir / f"{daemon}.conf").write_text(startup)
            owned.append(node_dir / f"{daemon}.conf")
        for path in owned:
            shutil.chown(path, "frr", "frr")
    elif role is Role.BIRD:
        # Probes add a static protocol here at check time (see BirdRouter.announce).
        (node_dir / BIRD_PROBES).write_text("")
        if bird_user() is not None:  # BIRD writes its pid file after dropping root (launches)
            shutil.chown(node_dir, BIRD_USER, BIRD_USER)
        with target.open("a") as fh:
            fh.write(f'\n# added by manrs-lab: grader probes\ninclude "{BIRD_PROBES}";\n')


def syntax_check(role: Role, node: str, node_dir: Path) -> None:
    """Run the daemon's own dry run; raise ConfigSyntaxError naming the node and file.

    A config that passed once (same text, same daemon binary) is not checked again: a dry run
    costs ~40 ms of CPU per router, on the critical path of every deploy.
    """
    conf = node_dir / config_filename(role)
    passed = _passed_marker(role, conf)
    if passed is not None and passed.exists():
        return
    if role is Role.FRR:
        argv = ["vtysh", "--config_dir", str(node_dir), "-C", "-f", str(conf)]
    elif role is Role.BIRD:
        argv = ["bird", "-p", "-c", str(conf)]
    elif role is Role.RTR:
        check_vrps(node, conf)
        return
    else:
        return
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=node_dir)
    if result.returncode != 0:
        raise ConfigSyntaxError(node, conf, result.stdout + result.stderr)
    if passed is not None:
        passed.parent.mkdir(parents=True, exist_ok=True)
        passed.touch()


def _passed_marker(role: Role, conf: Path) -> Path | None:
    """Where a passed dry run of this exact text by this exact binary is remembered.

    FRR only: its dry run is the costly one, and frr.conf cannot include other files (a BIRD
    config can, so its text alone would not identify what was checked).
    """
    binary = shutil.which("vtysh") if role is Role.FRR else None
    if binary is None:
        return None
    stat = Path(binary).stat()
    digest = hashlib.sha256(f"{binary}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    digest.update(conf.read_bytes())
    return config_check_cache() / digest.hexdigest()


def check_vrps(node: str, path: Path) -> None:
    """stayrtr's VRP file: {"roas": [{"prefix", "maxLength", "asn"}]}."""
    try:
        data = json.loads(path.read_text())
        for i, roa in enumerate(data["roas"]):
            net = ip_network(roa["prefix"])
            if not net.prefixlen <= int(roa["maxLength"]) <= net.max_prefixlen:
                raise ValueError(f"roas[{i}].maxLength {roa['maxLength']} outside the prefix")
            if not str(roa["asn"]).removeprefix("AS").isdigit():
                raise ValueError(f"roas[{i}].asn {roa['asn']!r} is not an AS number")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigSyntaxError(node, path, f"not a valid VRP file: {exc}") from exc


def mentions_rpki(node_dir: Path) -> bool:
    """Whether the node's FRR config (integrated or bgpd's split part) says `rpki` anywhere:
    the `rpki` block and `match rpki` in a route-map both need bgpd's RPKI module."""
    for conf in (node_dir / "bgpd.conf", node_dir / "frr.conf"):
        with contextlib.suppress(OSError):
            if "rpki" in conf.read_text().split():
                return True
    return False


def launches(role: Role, node_dir: Path, *, rpki: bool = True) -> list[Launch]:
    """The node's daemons in start order. `rpki`: bgpd loads its RPKI module (rtrlib)."""
    if role is Role.FRR:
        run = node_dir / "run"
        common = (
            "-d",
            "--vty_socket",
            str(run),
            "-z",
            str(run / "zserv.api"),
            "-A",
            "127.0.0.1",
            "-u",
            "frr",
            "-g",
            "frr",
            "--log",
            f"file:{node_dir / 'frr.log'}",
            "--limit-fds",
            "1024",
        )
        out = []
        for daemon in FRR_DAEMONS:
            extra: tuple[str, ...] = ("-M", "rpki") if daemon == "bgpd" and rpki else ()
            own = node_dir / f"{daemon}.conf"
            if own.exists():  # split from frr.conf (frr_split); otherwise vtysh -b applies it
                extra += ("-f", str(own))
            after = None if daemon == "zebra" else run / "zserv.api"
            live = node_dir / BGPD_LIVE if daemon == "bgpd" else None
            out.append(
                Launch(
                    (str(FRR_BIN / daemon), *common, "-i", str(run / f"{daemon}.pid"), *extra),
                    after=after,
                    push=live if live is not None and live.exists() else None,
                    push_to=run / f"{daemon}.vty",
                )
            )
        return out
    if role is Role.BIRD:
        # BIRD drops root when its user exists (Debian's bird2 package makes it), keeping only
        # the network capabilities it needs; the config it reads is root's and world-readable.
        user = ("-u", BIRD_USER, "-g", BIRD_USER) if bird_user() is not None else ()
        return [
            Launch(
                (
                    "bird",
                    *user,
                    "-c",
                    str(node_dir / "bird.conf"),
                    "-s",
                    str(node_dir / "bird.ctl"),
                    "-P",
                    str(node_dir / "bird.pid"),
                )
            )
        ]
    if role is Role.RTR:
        return [
            Launch(
                (
                    "stayrtr",
                    "-cache",
                    str(node_dir / "vrps.json"),
                    "-bind",
                    f":{RTR_PORT}",
                    "-checktime=false",
                    "-refresh",
                    str(RTR_REFRESH),
                    "-metrics.addr",
                    f"127.0.0.1:{RTR_METRICS_PORT}",
                ),
                foreground=True,
                pidfile=node_dir / "stayrtr.pid",
                log=node_dir / "stayrtr.log",
            )
        ]
    return []


# BIRD keeps these when it drops root (sysdep/linux/syspriv.h) and dies ("capset: Operation not
# permitted") if any is missing from our permitted set: NET_BIND_SERVICE, NET_BROADCAST,
# NET_ADMIN, NET_RAW. A container given only NET_ADMIN, NET_RAW and SYS_ADMIN lacks NET_BROADCAST.
BIRD_KEEPS_CAPS = sum(1 << cap for cap in (10, 11, 12, 13))


def bird_user() -> int | None:
    """The uid BIRD runs as: its own user where it can drop root (the system has a `bird` user
    and group, and this process holds every capability BIRD keeps); None: BIRD stays root."""
    try:
        grp.getgrnam(BIRD_USER)
        uid = pwd.getpwnam(BIRD_USER).pw_uid
    except KeyError:
        return None
    return uid if _permitted_caps() & BIRD_KEEPS_CAPS == BIRD_KEEPS_CAPS else None


def _permitted_caps() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def ready_files(role: Role, node_dir: Path) -> list[Path]:
    """Files whose existence says the daemons are accepting control connections."""
    if role is Role.FRR:
        return [node_dir / "run" / f"{d}.vty" for d in FRR_DAEMONS]
    if role is Role.BIRD:
        return [node_dir / "bird.ctl"]
    return []


def push_config(launch: Launch) -> None:
    """Apply `launch.push` over its daemon's vty socket, all lines in one write."""
    if launch.push is None or launch.push_to is None:
        return
    lines = [ln for ln in launch.push.read_text().splitlines() if ln.strip()]
    if lines:
        vty_batch(launch.push_to, ["enable", "configure terminal", *lines, "end"])


def config_addresses(role: Role, node_dir: Path) -> set[str]:
    """Interface addresses zebra sets from its own config part (frr_split), as `addr/len`."""
    conf = node_dir / "zebra.conf"
    if role is not Role.FRR or not conf.exists():
        return set()
    found = set()
    for line in conf.read_text().splitlines():
        words = line.split()
        if len(words) == 3 and words[0] in ("ip", "ipv6") and words[1] == "address":
            found.add(str(ip_interface(words[2])))
    return found


def boot_argv(role: Role, node_dir: Path) -> list[str] | None:
    """After the daemons answer: FRR reads its integrated config through vtysh -b, unless each
    daemon already read its own part (see frr_split)."""
    if role is Role.FRR and not (node_dir / "bgpd.conf").exists():
        return ["vtysh", "--config_dir", str(node_dir), "--vty_socket", str(node_dir / "run"), "-b"]
    return None


def pidfiles(role: Role, node_dir: Path) -> list[Path]:
    """In stop order: zebra last (recipes.md: never stop zebra before its clients)."""
    if role is Role.FRR:
        return [node_dir / "run" / f"{d}.pid" for d in ("bgpd", "staticd", "zebra")]
    if role is Role.BIRD:
        return [node_dir / "bird.pid"]
    if role is Role.RTR:
        return [node_dir / "stayrtr.pid"]
    return []


def daemon_pids(role: Role, node_dir: Path) -> list[int]:
    return [pid for path in pidfiles(role, node_dir) if (pid := read_pid(path)) is not None]


def require_binaries() -> None:
    missing = [b for b in ("vtysh", "bird", "birdc", "stayrtr", "ip") if shutil.which(b) is None]
    if not (FRR_BIN / "bgpd").exists():
        missing.append(str(FRR_BIN / "bgpd"))
    if missing:
        raise LabError(
            f"missing programs: {', '.join(missing)}. Run ./install.sh (it installs frr, "
            "frr-rpki-rtrlib, bird2, stayrtr and iproute2)."
        )
