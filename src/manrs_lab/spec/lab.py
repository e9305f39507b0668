"""`labs/<lab>/lab.yaml` as typed models (schema version 1).

Unknown keys are errors (`extra="forbid"`), so a typo names its field instead of being ignored.
Paths are relative to the lab's folder. `manrs-lab lint` and every command that loads a lab go
through `manrs_lab.spec.loader.load_lab`, which adds the checks that need more than one file.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
ID_RE = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _network(value: str) -> str:
    try:
        return str(ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network address with its length: {exc}") from exc


Prefix = Annotated[str, Field(description="an IPv4 or IPv6 prefix, e.g. 198.51.100.0/24")]


class NodeFiles(Strict):
    config: str = Field(description="starting configuration, relative to the lab folder")


class Task(Strict):
    id: Annotated[str, Field(pattern=ID_RE)]
    title: str
    points: int = Field(default=1, ge=0)
    hints: list[str] = Field(default_factory=list, description="in increasing detail")
    solution: dict[str, str] = Field(
        default_factory=dict,
        description="staged labs only (tasks that are successive states, e.g. announce, then "
        "withdraw): this task's model answer per node, applied on top of the previous task's. "
        "Such a lab is graded task by task, each from the state its grade cell saw.",
    )


class MoreSpecific(Strict):
    """A prefix drawn at check time, so it cannot be filtered by name alone."""

    more_specific_of: Prefix
    lengths: tuple[int, int] = Field(description="inclusive range of prefix lengths to draw from")
    avoid: list[str] = Field(
        default_factory=list,
        description="addresses the drawn prefix must not cover: hosts that other checks send "
        "traffic to while this probe runs (an unfiltered probe would divert it)",
    )

    @field_validator("avoid")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [str(ip_address(v)) for v in value]

    @field_validator("more_specific_of")
    @classmethod
    def _net(cls, value: str) -> str:
        return _network(value)

    @field_validator("lengths")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError("lengths is [shortest, longest]")
        return value

    def draw(self, rng: Any) -> str:
        parent: IPv4Network | IPv6Network = ip_network(self.more_specific_of)
        length = rng.randint(*self.lengths)
        if length <= parent.prefixlen or length > parent.max_prefixlen:
            raise ValueError(f"/{length} is not longer than {parent}")
        count = 2 ** (length - parent.prefixlen)
        size = 2 ** (parent.max_prefixlen - length)
        start = int(parent.network_address)
        # Each avoided address rules out the one prefix of this length that covers it.
        taken = sorted(
            {(int(a) - start) // size for a in map(ip_address, self.avoid) if a in parent}
        )
        if len(taken) >= count:
            raise ValueError(f"every /{length} in {parent} covers an address to avoid")
        index = rng.randrange(count - len(taken))
        for t in taken:  # the index-th prefix not ruled out
            if index >= t:
                index += 1
        base = start + index * size
        return str(ip_network((base, length)))


PrefixOrDraw = str | MoreSpecific


class Announce(Strict):
    """Probe: `node` originates `prefixes` for the duration of the check, then withdraws them."""

    node: str
    prefixes: list[PrefixOrDraw] = Field(min_length=1)
    as_path: list[Annotated[int, Field(ge=1, le=4294967295)]] = Field(
        default_factory=list,
        description="ASes the routes seem to have crossed after `node`'s own AS, origin last: "
        "a relayed path ([64520]: originated by AS64520 behind node) or a forged one ([64500]: "
        "node claims AS64500 as origin). Empty: node originates the prefixes itself.",
    )
    next_hop: str | None = Field(
        default=None,
        description="announce this address as the next hop instead of node's own: a third-party "
        "next hop (another router on a shared LAN, e.g. an IXP's). Absent: node's own address.",
    )

    @field_validator("prefixes")
    @classmethod
    def _nets(cls, value: list[PrefixOrDraw]) -> list[PrefixOrDraw]:
        return [_network(v) if isinstance(v, str) else v for v in value]

    @field_validator("next_hop")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else str(ip_address(value))


class Probe(Strict):
    announce: Announce


class Check(Strict):
    id: Annotated[str, Field(pattern=ID_RE)]
    title: str
    task: str | None = Field(default=None, description="task id; None for a gate (no points)")
    check: str = Field(description="name of a registered check function")
    params: dict[str, Any] = Field(default_factory=dict, alias="with")
    probe: Probe | None = None
    wait: float = Field(default=0.0, ge=0, le=120, description="retry until it passes, seconds")
    hold: float = Field(
        default=0.0, ge=0, le=30, description="must keep passing this long (absence checks)"
    )
    requires: list[str] = Field(
        default_factory=list, description="run after these and only if they passed"
    )
    after: list[str] = Field(
        default_factory=list,
        description="run after these, whatever their result (checks whose probes would disturb "
        "each other); checks with neither run concurrently",
    )


class RouteExpectation(Strict):
    node: str
    prefix: Prefix

    @field_validator("prefix")
    @classmethod
    def _net(cls, value: str) -> str:
        return _network(value)


class Converged(Strict):
    """What `up` waits for before it calls the lab ready."""

    sessions: bool = True
    routes: list[RouteExpectation] = Field(default_factory=list)
    timeout: float = Field(default=30.0, gt=0, le=300)


class LabSpecFile(Strict):
    schema_version: Literal[1] = Field(alias="schema")
    id: Annotated[str, Field(pattern=ID_RE)]
    title: str
    summary: str
    manrs_actions: list[int] = Field(description="MANRS actions taught (1-4 for network operators)")
    topology: str = Field(description="name of topologies/<name>.clab.yml")
    learner: str = Field(description="the node the learner configures")
    nodes: dict[str, NodeFiles]
    solution: dict[str, str] = Field(
        description="reference solution per node, relative to the lab folder"
    )
    tasks: list[Task] = Field(min_length=1)
    checks: list[Check] = Field(min_length=1)
    converged: Converged = Field(default_factory=Converged)

    @field_validator("topology")
    @classmethod
    def _topo_name(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9-]*$", value):
            raise ValueError("a topology name, e.g. 'customer-filtering' (no path, no suffix)")
        return value
