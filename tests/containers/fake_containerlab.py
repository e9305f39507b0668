"""A stand-in for the `containerlab` binary, for tests on machines where it cannot be installed.

    fake_containerlab.py deploy  -t FILE [--name NAME]
    fake_containerlab.py destroy (-t FILE | --name NAME) [--cleanup] [--keep-mgmt-net]
    fake_containerlab.py inspect (-t FILE | --name NAME) [--format json|table]

Does what containerlab does for `kind: linux` nodes, with the docker and ip commands, where the
project relies on it (docs/architecture.md, "containerlab-native", lists what comes from which
page of containerlab's documentation and source):
- the lab's name is the file's `name:`, or `--name` (which overrides it); containers are
  `clab-<name>-<node>`, the node name as hostname, with the node's `binds` (relative paths from
  the file's folder; `:ro` kept), `sysctls` and labels (containerlab's own `containerlab`,
  `clab-node-name`, `clab-node-kind`, `clab-node-lab-dir`, `clab-topo-file`, then the node's);
  `topology.defaults` is merged into every node for `sysctls` and `binds` (a node's bind
  replaces a default with the same destination) and `labels`;
- the lab directory `clab-<name>/` (one folder per node) next to the topology file;
- the management network: containerlab's default `clab` Docker network (172.20.20.0/24,
  3fff:172:20:20::/64) is created when absent; nodes with `network-mode: none` stay off it
  (every topology of the project), others get eth0 on it. Unlike containerlab's, the stand-in's
  network is `--internal`: nothing a test starts can reach beyond the host;
- instead of containerlab's privileged mode, which fails on these machines, the three
  capabilities the nodes need, plus a writable /proc/sys/net (which privileged containers have:
  labs set per-interface sysctls such as rp_filter at run time);
- links: a veth pair per link, its ends created straight in the two containers' network
  namespaces with their final names (containerlab creates, moves and renames; the result is
  the same and nothing ever appears in the host's namespace), set up;
- then each node's `exec:` lines, split like a shell would, run without a shell: one that
  fails is logged (`Failed to execute command "..." on the node "..."`, as containerlab's
  ExecCollection logs it) and the deploy goes on and exits 0, as containerlab's does;
- logs on stderr (`INFO`/`ERRO` lines), the lab's table on stdout; an error ends the command
  with `Error: ...` on stderr and exit status 1; a failed deploy leaves what it made (`destroy`
  removes it), as containerlab does;
- destroy removes the lab's containers (by name and by the `containerlab` label), then the
  management network if no container uses it any more (unless --keep-mgmt-net), and with
  --cleanup the lab directory;
- inspect prints containerlab's JSON, `{"<name>": [{lab_name, labPath, absLabPath, name,
  container_id, image, kind, state, status, ipv4_address, ipv6_address, owner}]}`, or `{}`
  when the lab has no container; the table format logs `no containers found` instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

CAPS = ("NET_ADMIN", "NET_RAW", "SYS_ADMIN")
MGMT_NETWORK = "clab"
MGMT_V4 = "172.20.20.0/24"
MGMT_V6 = "3fff:172:20:20::/64"
STARTED = time.monotonic()


class Failed(Exception):
    pass


def log(level: str, message: str) -> None:
    """containerlab's log lines (logrus text format): `INFO[0001] message`."""
    print(f"{level}[{int(time.monotonic() - STARTED):04d}] {message}", file=sys.stderr)


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise Failed(f"{shlex.join(argv)}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def bind_target(bind: str) -> str:
    parts = bind.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def load(path: Path, name: str | None) -> tuple[str, dict[str, dict[str, Any]], list[Any]]:
    """(lab name, nodes with defaults merged in, links)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise Failed(f"failed to read topology file {path}: {exc.strerror}") from None
    topo = doc["topology"]
    defaults = topo.get("defaults") or {}
    nodes: dict[str, dict[str, Any]] = {}
    for node, given in (topo.get("nodes") or {}).items():
        spec = dict(given or {})
        spec["sysctls"] = {**(defaults.get("sysctls") or {}), **(spec.get("sysctls") or {})}
        spec["labels"] = {**(defaults.get("labels") or {}), **(spec.get("labels") or {})}
        own = list(spec.get("binds") or [])
        targets = {bind_target(b) for b in own}
        kept = [b for b in defaults.get("binds") or [] if bind_target(b) not in targets]
        spec["binds"] = kept + own
        for key in ("image", "kind", "network-mode"):
            if key not in spec and key in defaults:
                spec[key] = defaults[key]
        nodes[node] = spec
    return name or doc["name"], nodes, topo.get("links") or []


def container(lab: str, node: str) -> str:
    return f"clab-{lab}-{node}"


def bind_arg(bind: str, base: Path) -> str:
    source, sep, rest = bind.partition(":")
    if not sep:
        return bind  # an anonymous volume
    source = str(Path(source).expanduser())
    if not source.startswith("/"):
        source = str((base / source).resolve())
    if not Path(source).exists():
        raise Failed(f"failed to verify bind path: {source}: no such file or directory")
    return f"{source}:{rest}"


def pid_of(name: str) -> str:
    pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", name]).stdout.strip()
    if pid in ("", "0"):
        raise Failed(f"{name} is not running")
    return pid


def ensure_mgmt_network() -> None:
    if run(["docker", "network", "inspect", MGMT_NETWORK], check=False).returncode == 0:
        return
    log("INFO", f"Creating docker network: Name={MGMT_NETWORK!r}, IPv4Subnet={MGMT_V4!r}, ...")
    argv = ["docker", "network", "create", "--driver", "bridge", "--internal"]
    argv += ["--subnet", MGMT_V4, "--ipv6", "--subnet", MGMT_V6]
    argv += ["--label", "containerlab=mgmt-network", MGMT_NETWORK]
    proc = run(argv, check=False)
    if proc.returncode != 0 and "already exists" not in proc.stderr:
        raise Failed(f"failed to create the management network: {proc.stderr.strip()}")


def deploy(path: Path, name: str | None) -> None:
    lab, nodes, links = load(path, name)
    base = path.resolve().parent
    log("INFO", f"Parsing & checking topology file: {path.name}")
    lab_dir = base / f"clab-{lab}"
    log("INFO", f"Creating lab directory: {lab_dir}")
    lab_dir.mkdir(exist_ok=True)
    ensure_mgmt_network()
    for node, spec in nodes.items():
        cname = container(lab, node)
        (lab_dir / node).mkdir(exist_ok=True)
        argv = ["docker", "run", "-d", "--name", cname, "--hostname", node]
        mode = spec.get("network-mode") or MGMT_NETWORK
        argv += ["--network", mode]
        for cap in CAPS:
            argv += ["--cap-add", cap]
        for key, value in spec["sysctls"].items():
            argv += ["--sysctl", f"{key}={value}"]
        for bind in spec["binds"]:
            argv += ["-v", bind_arg(bind, base)]
        labels = {
            "containerlab": lab,
            "clab-node-name": node,
            "clab-node-kind": spec.get("kind", "linux"),
            "clab-node-lab-dir": str(lab_dir / node),
            "clab-topo-file": str(path.resolve()),
            **spec["labels"],
        }
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        log("INFO", f"Creating container: {node!r}")
        run([*argv, spec["image"]])
    pids = {node: pid_of(container(lab, node)) for node in nodes}
    for pid in pids.values():
        # Privileged containers (containerlab's) can write /proc/sys; with capabilities
        # instead, Docker mounts it read-only: open the per-namespace net subtree only.
        rw_net = "mount --bind /proc/sys/net /proc/sys/net"
        rw_net += " && mount -o remount,bind,rw /proc/sys/net"
        run(["nsenter", "-t", pid, "-m", "sh", "-c", rw_net])
    for link in links:
        (a, a_if), (b, b_if) = (e.split(":", 1) for e in link["endpoints"])
        veth = ["ip", "link", "add", a_if, "netns", pids[a], "type", "veth"]
        run([*veth, "peer", "name", b_if, "netns", pids[b]])
        for node, ifname in ((a, a_if), (b, b_if)):
            netns = f"--net=/proc/{pids[node]}/ns/net"
            run(["nsenter", netns, "ip", "link", "set", ifname, "up"])
        log("INFO", f"Created link: {a}:{a_if} <--> {b}:{b_if}")
    for node, spec in nodes.items():
        for line in spec.get("exec") or []:
            proc = run(["docker", "exec", container(lab, node), *shlex.split(line)], check=False)
            if proc.returncode != 0 or proc.stderr:
                log(
                    "ERRO",
                    f"Failed to execute command {json.dumps(line)} on the node {json.dumps(node)}. "
                    f"rc={proc.returncode},\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
                )
            else:
                done = f"Executed command {json.dumps(line)} on the node {json.dumps(node)}."
                log("INFO", f"{done} stdout:\n{proc.stdout}")
    print_table(entries(lab))


def destroy(path: Path | None, name: str | None, cleanup: bool, keep_mgmt: bool) -> None:
    if path is not None:
        lab, nodes, _ = load(path, name)
        names = [container(lab, n) for n in nodes]
    else:
        assert name is not None
        lab, names = name, []
    listed = run(["docker", "ps", "-aq", "--filter", f"label=containerlab={lab}"]).stdout.split()
    labels = [
        run(["docker", "inspect", "-f", '{{index .Config.Labels "clab-topo-file"}}', c]).stdout
        for c in listed[:1]
    ]
    for cname in sorted(names) + listed:
        proc = run(["docker", "rm", "-f", "-v", cname], check=False)
        if proc.returncode != 0 and "No such container" not in proc.stderr:
            raise Failed(f"docker rm -f {cname}: {proc.stderr.strip()}")
        if proc.returncode == 0 and cname in names:
            log("INFO", f"Removed container: {cname}")
    if not keep_mgmt:
        users = run(
            ["docker", "network", "inspect", "-f", "{{len .Containers}}", MGMT_NETWORK], check=False
        )
        if users.returncode == 0 and users.stdout.strip() == "0":
            run(["docker", "network", "rm", MGMT_NETWORK], check=False)
    if cleanup:
        topo = path.resolve() if path is not None else Path(labels[0].strip()) if labels else None
        if topo is not None and str(topo):
            shutil.rmtree(topo.parent / f"clab-{lab}", ignore_errors=True)
    log("INFO", f"Destroying lab: {lab}")


def entries(lab: str) -> list[dict[str, str]]:
    fmt = "{{json .}}"
    out = run(["docker", "ps", "-a", "--filter", f"label=containerlab={lab}", "--format", fmt])
    found = []
    for line in out.stdout.splitlines():
        item = json.loads(line)
        labels = json.loads(
            run(["docker", "inspect", "-f", "{{json .Config.Labels}}", item["ID"]]).stdout
        )
        nets = json.loads(
            run(
                ["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", item["ID"]]
            ).stdout
        )
        mgmt = (nets or {}).get(MGMT_NETWORK) or {}
        v4 = f"{mgmt['IPAddress']}/{mgmt['IPPrefixLen']}" if mgmt.get("IPAddress") else "N/A"
        v6 = (
            f"{mgmt['GlobalIPv6Address']}/{mgmt['GlobalIPv6PrefixLen']}"
            if mgmt.get("GlobalIPv6Address")
            else "N/A"
        )
        topo = labels.get("clab-topo-file", "")
        found.append(
            {
                "lab_name": labels.get("containerlab", lab),
                "labPath": os.path.relpath(topo) if topo else "",
                "absLabPath": topo,
                "name": item["Names"],
                "container_id": item["ID"][:12],
                "image": item["Image"],
                "kind": labels.get("clab-node-kind", ""),
                "state": item["State"],
                "status": item["Status"],
                "ipv4_address": v4,
                "ipv6_address": v6,
                "owner": labels.get("clab-owner", "root"),
            }
        )
    return sorted(found, key=lambda e: e["name"])


def print_table(found: list[dict[str, str]]) -> None:
    rows = [("Name", "Kind/Image", "State", "IPv4/6 Address")]
    rows += [(e["name"], f"{e['kind']} {e['image']}", e["state"], e["ipv4_address"]) for e in found]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def inspect(path: Path | None, name: str | None, fmt: str) -> None:
    if path is not None:
        lab, _, _ = load(path, name)
    else:
        assert name is not None
        lab = name
    found = entries(lab)
    if fmt == "json":
        print(json.dumps({lab: found} if found else {}, indent=2))
    elif not found:
        log("INFO", "no containers found")
    else:
        print_table(found)


def main() -> int:
    parser = argparse.ArgumentParser(prog="containerlab (test stand-in)")
    parser.add_argument("command", choices=["deploy", "destroy", "inspect"])
    parser.add_argument("-t", "--topo", type=Path)
    parser.add_argument("-n", "--name")
    parser.add_argument("-c", "--cleanup", action="store_true")
    parser.add_argument("--keep-mgmt-net", action="store_true")
    parser.add_argument("-f", "--format", default="table", choices=["table", "json"])
    args = parser.parse_args()
    try:
        if args.topo is None and (args.command == "deploy" or args.name is None):
            raise Failed("provide either a lab name (--name) or a topology file path (--topo)")
        if args.command == "deploy":
            deploy(args.topo, args.name)
        elif args.command == "destroy":
            destroy(args.topo, args.name, args.cleanup, args.keep_mgmt_net)
        else:
            inspect(args.topo, args.name, args.format)
    except Failed as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
