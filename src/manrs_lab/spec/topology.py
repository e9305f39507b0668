"""containerlab topology files (`topologies/*.clab.yml`) as typed models.

Only the part of containerlab's format the project uses is modelled; other containerlab keys
are allowed (the file is containerlab's, validated against its schema in the tests) and ignored.
The project's own facts about a node ride in containerlab `labels`: `manrs.role` and `manrs.asn`.
`topology.defaults` is merged into every node as containerlab does for the keys the project
reads: `sysctls` (node values win) and `binds` (a node's bind replaces a default with the same
path inside the container).

A node's starting config is a bind of the lab's own file, read-only, at its role's
STARTUP_TARGETS path (FRR reads /etc/frr/frr.conf itself; the BIRD and stayrtr images copy
/etc/manrs-lab/<file> to where the daemon reads and the grader rewrites it): so
`containerlab deploy -t topologies/<lab>.clab.yml` brings up the lab as it stands.
"""

from __future__ import annotations

import re
import shlex
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from manrs_lab.errors import SpecError
from manrs_lab.spec.validation import format_validation_error
from manrs_lab.spec.yaml_files import load_yaml_file

ROLE_LABEL = "manrs.role"
ASN_LABEL = "manrs.asn"
IFACE_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$")
NODE_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


class Role(StrEnum):
    FRR = "frr"
    BIRD = "bird"
    RTR = "rtr"
    HOST = "host"

    @property
    def is_router(self) -> bool:
        return self in (Role.FRR, Role.BIRD)


class ClabNode(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    kind: str = "linux"
    image: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    exec: list[str] = Field(default_factory=list)
    sysctls: dict[str, str | int] = Field(default_factory=dict)
    binds: list[str] = Field(default_factory=list)


class ClabLink(BaseModel):
    model_config = ConfigDict(extra="allow")

    endpoints: list[str]

    @field_validator("endpoints")
    @classmethod
    def _two_endpoints(cls, value: list[str]) -> list[str]:
        if len(value) != 2:
            raise ValueError("a link has exactly two endpoints, 'node:interface'")
        for endpoint in value:
            node, sep, iface = endpoint.partition(":")
            if not sep or not node or not IFACE_RE.match(iface):
                raise ValueError(f"endpoint {endpoint!r} is not 'node:interface'")
        return value


class ClabTopologyBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    defaults: ClabNode | None = None
    nodes: dict[str, ClabNode]
    links: list[ClabLink] = Field(default_factory=list)


class ClabFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    topology: ClabTopologyBody


# Where a node's starting config is bound (read-only) in its container, by role.
STARTUP_TARGETS: dict[Role, str] = {
    Role.FRR: "/etc/frr/frr.conf",
    Role.BIRD: "/etc/manrs-lab/bird.conf",
    Role.RTR: "/etc/manrs-lab/vrps.json",
}


class Node(BaseModel):
    """A node as the runtimes see it."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    asn: int | None
    image: str | None
    exec: tuple[str, ...]
    sysctls: tuple[tuple[str, str], ...]
    binds: tuple[str, ...] = ()

    def startup_bind(self, topology_dir: Path) -> Path | None:
        """The host file bound at the role's STARTUP_TARGETS path, resolved as containerlab
        does (relative to the topology file's folder), or None."""
        target = STARTUP_TARGETS.get(self.role)
        for bind in self.binds:
            source, inside = bind_parts(bind)
            if target is not None and inside == target and source:
                return (topology_dir / Path(source).expanduser()).resolve()
        return None


def bind_parts(bind: str) -> tuple[str, str]:
    """(host path, container path) of a bind `SRC:DST[:MODE]`; ("", DST) for a volume."""
    parts = bind.split(":")
    if len(parts) == 1:
        return "", parts[0]
    return parts[0], parts[1]


def merged_binds(defaults: list[str], own: list[str]) -> list[str]:
    """containerlab's merge: a node's bind replaces a default bind with the same destination."""
    targets = {bind_parts(b)[1] for b in own}
    return [b for b in defaults if bind_parts(b)[1] not in targets] + list(own)


class Endpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    node: str
    iface: str

    def __str__(self) -> str:
        return f"{self.node}:{self.iface}"


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    a: Endpoint
    b: Endpoint


class Topology(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    nodes: dict[str, Node]
    links: tuple[Link, ...]

    def routers(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.role.is_router]

    def links_of(self, node: str) -> list[tuple[Endpoint, Endpoint]]:
        """(local, remote) endpoint pairs of a node's links."""
        pairs: list[tuple[Endpoint, Endpoint]] = []
        for link in self.links:
            if link.a.node == node:
                pairs.append((link.a, link.b))
            elif link.b.node == node:
                pairs.append((link.b, link.a))
        return pairs


def _endpoint(text: str) -> Endpoint:
    node, _, iface = text.partition(":")
    return Endpoint(node=node, iface=iface)


SYSCTL_KEY_RE = re.compile(r"^net(\.[A-Za-z0-9_-]+)+$")
SYSCTL_VALUE_RE = re.compile(r"^-?\d+( -?\d+)*$")
# What a shell would make of an `exec:` line, and the runtime does not: it runs each line as
# one command with its arguments (as containerlab does), never through a shell.
SHELL_SYNTAX = re.compile(r"[;&|<>`$(){}\\]|\*|\?|~")


def exec_problem(line: str) -> str | None:
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        return f"{line!r}: {exc}"
    if not argv:
        return "an empty command"
    shell = [word for word in argv if SHELL_SYNTAX.search(word)]
    if shell:
        return (
            f"{line!r}: {shell[0]!r} is shell syntax; each line is one command with its "
            "arguments, run without a shell"
        )
    return None


def _node_problems(where: str, cnode: ClabNode) -> list[str]:
    problems = []
    for key, value in cnode.sysctls.items():
        if not SYSCTL_KEY_RE.fullmatch(key):
            problems.append(
                f"{where}.sysctls.{key}: only the namespace's own net.* sysctls can be set"
            )
        text = str(value).strip()
        if isinstance(value, bool) or not SYSCTL_VALUE_RE.fullmatch(text):
            problems.append(f"{where}.sysctls.{key}: {value!r} is not a number (or numbers)")
    for k, line in enumerate(cnode.exec):
        problem = exec_problem(line)
        if problem is not None:
            problems.append(f"{where}.exec[{k}]: {problem}")
    return problems


def load_topology(path: Path) -> Topology:
    raw: Any = load_yaml_file(path)
    try:
        clab = ClabFile.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(path, format_validation_error(exc)) from exc

    problems: list[str] = []
    nodes: dict[str, Node] = {}
    defaults = clab.topology.defaults or ClabNode()
    if defaults.sysctls or defaults.exec:
        problems.extend(_node_problems("topology.defaults", defaults))
    for name, cnode in clab.topology.nodes.items():
        where = f"topology.nodes.{name}"
        if not NODE_RE.match(name):
            problems.append(f"{where}: node names are lower-case, start with a letter, <= 24 chars")
        role_text = cnode.labels.get(ROLE_LABEL, "")
        try:
            role = Role(role_text)
        except ValueError:
            known = ", ".join(r.value for r in Role)
            problems.append(f"{where}.labels.{ROLE_LABEL}: {role_text!r} is not one of {known}")
            continue
        asn: int | None = None
        asn_text = cnode.labels.get(ASN_LABEL)
        if asn_text is not None:
            if not asn_text.isdigit() or not 0 < int(asn_text) < 2**32:
                problems.append(f"{where}.labels.{ASN_LABEL}: {asn_text!r} is not an AS number")
            else:
                asn = int(asn_text)
        elif role.is_router:
            problems.append(f"{where}.labels.{ASN_LABEL}: a router needs its AS number")
        if cnode.kind != "linux":
            problems.append(f"{where}.kind: only 'linux' nodes are used, got {cnode.kind!r}")
        problems.extend(_node_problems(where, cnode))
        nodes[name] = Node(
            name=name,
            role=role,
            asn=asn,
            image=cnode.image,
            exec=tuple(cnode.exec),
            sysctls=tuple((k, str(v)) for k, v in {**defaults.sysctls, **cnode.sysctls}.items()),
            binds=tuple(merged_binds(defaults.binds, cnode.binds)),
        )

    links: list[Link] = []
    used: set[tuple[str, str]] = set()
    for index, clink in enumerate(clab.topology.links):
        a, b = (_endpoint(e) for e in clink.endpoints)
        for end in (a, b):
            if end.node not in clab.topology.nodes:
                problems.append(f"topology.links[{index}].endpoints: unknown node {end.node!r}")
            if (end.node, end.iface) in used:
                problems.append(f"topology.links[{index}].endpoints: {end} is used twice")
            used.add((end.node, end.iface))
        links.append(Link(a=a, b=b))
    if problems:
        raise SpecError(path, problems)
    return Topology(name=clab.name, path=path, nodes=nodes, links=tuple(links))
