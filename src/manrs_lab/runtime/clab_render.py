"""A lab instance as a containerlab file: `<state>/<instance>/<instance>.clab.yml`.

The topology file is copied as containerlab reads it (every key kept), with:
- `name:` the instance, so containers are `clab-<instance>-<node>`;
- `binds:` each node's starting config, copied into the state folder next to the file and
  mounted where the daemon reads it (relative paths: containerlab resolves them from the
  file's folder, so the folder can be deployed as it is with `containerlab deploy -t`), in
  place of the topology's own read-only bind of the lab's file;
- `sysctls:` the ones the netns runtime sets (forwarding on routers, no rp_filter, no DAD),
  IPv6 enabled (Docker disables it without a network), under the node's own;
- `network-mode: none` unless the node sets one: no management network, so the lab's
  addresses and hijacked prefixes never meet a real network (as with the netns runtime).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from manrs_lab.drivers.daemons import BIRD_PROBES, check_vrps, config_filename
from manrs_lab.errors import SpecError
from manrs_lab.instance import Instance
from manrs_lab.runtime.netns import COMMON_SYSCTLS, ROUTER_SYSCTLS
from manrs_lab.spec.loader import Lab
from manrs_lab.spec.topology import STARTUP_TARGETS, Role
from manrs_lab.spec.yaml_files import parse_yaml

# (file in the node's state folder, path inside the node's container)
NODE_FILES: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.FRR: (("frr.conf", "/etc/frr/frr.conf"), ("vtysh.conf", "/etc/frr/vtysh.conf")),
    Role.BIRD: (
        ("bird.conf", "/etc/bird/bird.conf"),
        (BIRD_PROBES, f"/etc/bird/{BIRD_PROBES}"),
    ),
    Role.RTR: (("vrps.json", "/etc/stayrtr/vrps.json"),),
    Role.HOST: (),
}
PROBES_INCLUDE = f'\n# added by manrs-lab: grader probes\ninclude "{BIRD_PROBES}";\n'


def clab_file(instance: Instance) -> Path:
    return instance.folder / f"{instance.name}.clab.yml"


def container_name(instance: str, node: str) -> str:
    """containerlab's default: `clab-<lab name>-<node>`."""
    return f"clab-{instance}-{node}"


# Docker disables IPv6 in containers whose network has none (`network-mode: none` included);
# setting `all` also sets `default`, which the links' interfaces inherit when they arrive.
CONTAINER_SYSCTLS = {"net.ipv6.conf.all.disable_ipv6": "0"}


def node_sysctls(role: Role, own: dict[str, Any]) -> dict[str, str]:
    """Namespace-wide sysctls only: interfaces do not exist yet when the container starts."""
    sysctls = {**CONTAINER_SYSCTLS, **COMMON_SYSCTLS}
    if role.is_router:
        sysctls.update(ROUTER_SYSCTLS)
    sysctls.update({k: str(v) for k, v in own.items()})
    return sysctls


def prepare_node(role: Role, name: str, node_dir: Path, config: Path | None) -> list[str]:
    """Copy the node's starting config into its state folder; the binds that mount it."""
    node_dir.mkdir(parents=True, exist_ok=True)
    if config is None or role is Role.HOST:
        return []
    target = node_dir / config_filename(role)
    shutil.copyfile(config, target)
    target.chmod(0o644)
    if role is Role.FRR:
        (node_dir / "vtysh.conf").write_text("")
    elif role is Role.BIRD:
        # Probes write a static protocol here at check time (see BirdRouter.announce).
        (node_dir / BIRD_PROBES).write_text("")
        with target.open("a") as fh:
            fh.write(PROBES_INCLUDE)
    elif role is Role.RTR:
        check_vrps(name, target)
    return [f"{name}/{file}:{inside}" for file, inside in NODE_FILES[role]]


def _absolute_bind(bind: str, base: Path) -> str:
    """A topology's own relative bind points into topologies/; the rendered file lives elsewhere."""
    source, sep, rest = bind.partition(":")
    if not sep or source.startswith(("/", "~", "$")):
        return bind
    return f"{(base / source).resolve()}:{rest}"


def _bind_target(bind: str) -> str:
    parts = bind.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def render(lab: Lab, instance: Instance) -> Path:
    """Write the instance's containerlab file and the config copies it mounts; return its path."""
    topo_path = lab.topology.path
    raw: Any = parse_yaml(topo_path.read_text())
    if not isinstance(raw, dict) or not isinstance(raw.get("topology"), dict):
        raise SpecError(topo_path, ["not a containerlab topology file"])
    body: dict[str, Any] = dict(raw["topology"])
    raw_nodes: dict[str, Any] = body.get("nodes") or {}
    nodes: dict[str, Any] = {}
    for name, node in lab.topology.nodes.items():
        spec: dict[str, Any] = dict(raw_nodes.get(name) or {})
        override = instance.config_overrides.get(name)
        config = Path(override) if override else lab.config_path(name)
        ours = prepare_node(node.role, name, instance.node_dir(name), config)
        # The topology's own bind of the lab's starting config gives way to the instance's
        # copy (writable, and a replayed submission's config where one is given).
        targets = {_bind_target(b) for b in ours} | {STARTUP_TARGETS.get(node.role, "")}
        theirs = [
            _absolute_bind(b, topo_path.parent)
            for b in spec.get("binds") or []
            if _bind_target(b) not in targets
        ]
        if ours or theirs:
            spec["binds"] = theirs + ours
        spec["sysctls"] = node_sysctls(node.role, spec.get("sysctls") or {})
        spec.setdefault("network-mode", "none")
        labels = dict(spec.get("labels") or {})
        labels.update({"manrs.lab": lab.id, "manrs.instance": instance.name})
        spec["labels"] = labels
        nodes[name] = spec
    body["nodes"] = nodes
    # `prefix` would change the container names that exec relies on: containerlab's default.
    extra = {k: v for k, v in raw.items() if k not in ("name", "prefix", "topology")}
    doc = {"name": instance.name, **extra, "topology": body}
    path = clab_file(instance)
    header = (
        f"# Rendered by manrs-lab: lab {lab.id}, instance {instance.name}, from {topo_path}.\n"
        f"# Deploy by hand with `containerlab deploy -t {path.name}` in this folder; the\n"
        "# node configs it mounts are the files next to it.\n"
    )
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    return path
