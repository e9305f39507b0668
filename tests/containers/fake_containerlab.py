"""A stand-in for the `containerlab` binary, for tests on machines where it cannot be installed.

    fake_containerlab.py deploy -t FILE
    fake_containerlab.py destroy -t FILE [--cleanup]
    fake_containerlab.py inspect -t FILE --format json

Does what containerlab does for `kind: linux` nodes, with the docker and ip commands:
- one `docker run -d` per node, named `clab-<name>-<node>` with the node name as hostname,
  its `binds` (relative paths from the file's folder), `sysctls` and labels (containerlab's own
  `containerlab`, `clab-node-name`, `clab-node-kind`, `clab-topo-file`, then the node's);
- no management network (`--network none`, what the rendered files ask with
  `network-mode: none`) and, instead of containerlab's privileged mode, which fails on these
  machines, the three capabilities the nodes need, plus a writable /proc/sys/net (which
  privileged containers have: labs set per-interface sysctls such as rp_filter at run time);
- links: a veth pair per link, its ends created straight in the two containers' network
  namespaces with their final names (containerlab creates, moves and renames; the result is
  the same and nothing ever appears in the host's namespace), set up;
- then each node's `exec:` lines, split like a shell would, without a shell;
- a failed deploy leaves what it made, as containerlab does (`destroy` removes it); destroy
  removes the containers by name and label and, with --cleanup, the lab folder next to the file;
- inspect prints containerlab's JSON: `{"<name>": [{lab_name, name, container_id, ...}]}`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CAPS = ("NET_ADMIN", "NET_RAW", "SYS_ADMIN")


class Failed(Exception):
    pass


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise Failed(f"{shlex.join(argv)}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def load(path: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    doc = yaml.safe_load(path.read_text())
    topo = doc["topology"]
    return doc["name"], topo.get("nodes") or {}, topo.get("links") or []


def container(lab: str, node: str) -> str:
    return f"clab-{lab}-{node}"


def bind_arg(bind: str, base: Path) -> str:
    source, _, rest = bind.partition(":")
    if not source.startswith("/"):
        source = str((base / source).resolve())
    return f"{source}:{rest}"


def pid_of(name: str) -> str:
    pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", name]).stdout.strip()
    if pid in ("", "0"):
        raise Failed(f"{name} is not running")
    return pid


def deploy(path: Path) -> None:
    lab, nodes, links = load(path)
    base = path.parent
    (base / f"clab-{lab}").mkdir(exist_ok=True)
    for node, given in nodes.items():
        spec = given or {}
        name = container(lab, node)
        argv = ["docker", "run", "-d", "--name", name, "--hostname", node]
        argv += ["--network", "none"]
        for cap in CAPS:
            argv += ["--cap-add", cap]
        for key, value in (spec.get("sysctls") or {}).items():
            argv += ["--sysctl", f"{key}={value}"]
        for bind in spec.get("binds") or []:
            argv += ["-v", bind_arg(bind, base)]
        labels = {
            "containerlab": lab,
            "clab-node-name": node,
            "clab-node-kind": spec.get("kind", "linux"),
            "clab-topo-file": str(path.resolve()),
            **(spec.get("labels") or {}),
        }
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        run([*argv, spec["image"]])
        print(f"created container {name}")
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
        print(f"created link {a}:{a_if} <--> {b}:{b_if}")
    for node, spec in nodes.items():
        for line in (spec or {}).get("exec") or []:
            run(["docker", "exec", container(lab, node), *shlex.split(line)])
            print(f"{node}: exec {line}")


def destroy(path: Path, cleanup: bool) -> None:
    lab, nodes, _ = load(path)
    names = {container(lab, n) for n in nodes}
    listed = run(["docker", "ps", "-aq", "--filter", f"label=containerlab={lab}"]).stdout.split()
    for name in sorted(names) + listed:
        proc = run(["docker", "rm", "-f", "-v", name], check=False)
        if proc.returncode != 0 and "No such container" not in proc.stderr:
            raise Failed(f"docker rm -f {name}: {proc.stderr.strip()}")
    if cleanup:
        shutil.rmtree(path.parent / f"clab-{lab}", ignore_errors=True)
    print(f"destroyed lab {lab}")


def inspect(path: Path) -> None:
    lab, _, _ = load(path)
    out = run(
        ["docker", "ps", "-a", "--filter", f"label=containerlab={lab}", "--format", "{{json .}}"]
    ).stdout
    entries = []
    for line in out.splitlines():
        item = json.loads(line)
        entries.append(
            {
                "lab_name": lab,
                "labPath": str(path),
                "absLabPath": str(path.resolve()),
                "name": item["Names"],
                "container_id": item["ID"][:12],
                "image": item["Image"],
                "kind": "linux",
                "state": item["State"],
                "status": item["Status"],
                "ipv4_address": "N/A",
                "ipv6_address": "N/A",
                "owner": "root",
            }
        )
    print(json.dumps({lab: sorted(entries, key=lambda e: e["name"])} if entries else {}, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(prog="containerlab (test stand-in)")
    parser.add_argument("command", choices=["deploy", "destroy", "inspect"])
    parser.add_argument("-t", "--topo", required=True, type=Path)
    parser.add_argument("--cleanup", action="store_true")
    parser.add_argument("--format", default="table")
    args = parser.parse_args()
    try:
        if args.command == "deploy":
            deploy(args.topo)
        elif args.command == "destroy":
            destroy(args.topo, args.cleanup)
        else:
            inspect(args.topo)
    except Failed as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
