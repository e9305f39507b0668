"""`labs/<lab>/lab.yaml` as typed models (schema version 1).

Unknown keys are errors (`extra="forbid"`), so a typo names its field instead of being ignored.
Paths are relative to the lab's folder. `manrs-lab lint` and every command that loads a lab go
through `manrs_lab.spec.loader.load_lab`, which adds the checks that need more than one file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

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


def _lengths_in(value: tuple[int, int]) -> tuple[int, int]:
    if value[0] > value[1]:
        raise ValueError("lengths is [shortest, longest]")
    return value


def _address(value: str) -> str:
    return str(ip_address(value))


# Field types that validate themselves (the draw models share them).
Network = Annotated[str, AfterValidator(_network), Field(description="an IPv4 or IPv6 prefix")]
Lengths = Annotated[
    tuple[int, int],
    AfterValidator(_lengths_in),
    Field(description="inclusive range of prefix lengths to draw from"),
]
Addresses = Annotated[list[Annotated[str, AfterValidator(_address)]], Field(default_factory=list)]


def _fits(parent: IPv4Network | IPv6Network, lengths: tuple[int, int], longer: bool) -> None:
    """lengths must be possible inside (longer) or around (not longer) `parent`."""
    lo, hi = lengths
    if hi > parent.max_prefixlen or lo < 0:
        raise ValueError(
            f"lengths {list(lengths)}: an IPv{parent.version} prefix is /0 to "
            f"/{parent.max_prefixlen}"
        )
    if longer and lo <= parent.prefixlen:
        raise ValueError(
            f"lengths {list(lengths)}: a more-specific of {parent} is longer than "
            f"/{parent.prefixlen}"
        )
    if not longer and hi >= parent.prefixlen:
        raise ValueError(
            f"lengths {list(lengths)}: a prefix covering {parent} is shorter than "
            f"/{parent.prefixlen}"
        )


def _aligned_base(rng: Any, parent: IPv4Network | IPv6Network, length: int) -> int:
    """The first address of a random prefix of `length` inside `parent`."""
    size = 1 << (parent.max_prefixlen - length)
    index: int = rng.randrange(1 << (length - parent.prefixlen))
    return int(parent.network_address) + index * size


def _prefix_text(version: int, base: int, length: int) -> str:
    """`base/length` as ip_network would write it (without building one: probes are drawn by
    the hundred on every check)."""
    address = IPv4Address(base) if version == 4 else IPv6Address(base)
    return f"{address}/{length}"


def _aligned(rng: Any, parent: IPv4Network | IPv6Network, length: int) -> str:
    """A random prefix of `length` inside `parent`."""
    return _prefix_text(parent.version, _aligned_base(rng, parent, length), length)


def _span(net: IPv4Network | IPv6Network) -> tuple[int, int, int]:
    """(version, first address, last address) of `net`, as integers."""
    first = int(net.network_address)
    return net.version, first, first + net.num_addresses - 1


class Draw(Strict):
    """A prefix (or `count` distinct prefixes) drawn at check time, so no filter can name it."""

    count: int = Field(default=1, ge=1, le=256, description="how many distinct prefixes to draw")

    def draw_one(self, rng: Any) -> str:
        raise NotImplementedError

    def slots(self) -> list[Callable[[Any], str]]:
        """One drawing function per prefix the probe announces; the engine calls a slot again
        when its draw equals a prefix another probe from the same node uses."""
        return [self.draw_one] * self.count

    def draws(self, rng: Any) -> list[str]:
        return [slot(rng) for slot in self.slots()]


class MoreSpecific(Draw):
    """A more-specific of a prefix, of a length drawn from `lengths`."""

    more_specific_of: Network
    lengths: Lengths
    avoid: Addresses = Field(
        description="addresses the drawn prefix must not cover: hosts that other checks send "
        "traffic to while this probe runs (an unfiltered probe would divert it)",
    )

    @model_validator(mode="after")
    def _inside(self) -> MoreSpecific:
        _fits(ip_network(self.more_specific_of), self.lengths, longer=True)
        return self

    def draw_one(self, rng: Any) -> str:
        parent: IPv4Network | IPv6Network = ip_network(self.more_specific_of)
        length = rng.randint(*self.lengths)
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

    def draw(self, rng: Any) -> str:
        return self.draw_one(rng)


class Covering(Draw):
    """A less-specific that covers a prefix (a /23 around a registered /24): over-broad filters
    that permit `P le 32` of a supernet, or match on the first octets, let it in."""

    covering_of: Network
    lengths: Lengths

    @model_validator(mode="after")
    def _around(self) -> Covering:
        _fits(ip_network(self.covering_of), self.lengths, longer=False)
        return self

    def draw_one(self, rng: Any) -> str:
        return str(ip_network(self.covering_of).supernet(new_prefix=rng.randint(*self.lengths)))


class Outside(Draw):
    """A prefix anywhere in `within` that overlaps none of `outside_of` (space a neighbour has
    not registered: another customer's, a neighbour's, unallocated), length drawn from
    `lengths`."""

    outside_of: list[Network] = Field(description="the registered space the draw stays clear of")
    within: list[Network] = Field(min_length=1, description="where to draw (same family)")
    lengths: Lengths
    avoid: Addresses = Field(description="addresses the drawn prefix must not cover")

    @model_validator(mode="after")
    def _space(self) -> Outside:
        versions = {ip_network(p).version for p in self.within}
        if len(versions) > 1:
            raise ValueError("within: one address family per draw")
        for p in self.within:
            net = ip_network(p)
            if self.lengths[1] > net.max_prefixlen or self.lengths[0] < net.prefixlen:
                raise ValueError(
                    f"lengths {list(self.lengths)}: a prefix inside {p} is /{net.prefixlen} to "
                    f"/{net.max_prefixlen}"
                )
        return self

    def draw_one(self, rng: Any) -> str:
        # As integer ranges [first, last] per family: the same test as `overlaps` and `in`.
        clear = [_span(ip_network(p)) for p in self.outside_of]
        avoid = [(a.version, int(a)) for a in map(ip_address, self.avoid)]
        parents = {p: ip_network(p) for p in self.within}
        for _ in range(256):
            parent = parents[rng.choice(self.within)]
            length = rng.randint(*self.lengths)
            first = _aligned_base(rng, parent, length)
            last = first + (1 << (parent.max_prefixlen - length)) - 1
            version = parent.version
            if any(v == version and lo <= last and first <= hi for v, lo, hi in clear):
                continue
            if any(v == version and first <= a <= last for v, a in avoid):
                continue
            return _prefix_text(version, first, length)
        raise ValueError(
            f"no prefix of lengths {list(self.lengths)} in {self.within} outside {self.outside_of}"
        )


class SpecialPurpose(Draw):
    """One prefix inside *every* bogon range of a family (manrs_lab.special_purpose: the IANA
    special-purpose registries), its length drawn inside the range: a bogon filter that lists
    some ranges only fails. Ranges longer than `lengths` allow are left to the length rule's
    probes; ranges BGP speakers discard on receipt (multicast, link-local) cannot be probed."""

    special_purpose: Literal["ipv4", "ipv6"]
    lengths: tuple[int, int] | None = Field(
        default=None, description="lengths allowed by the lab's length rule; /8-/24, /16-/48"
    )
    exclude: list[Prefix] = Field(
        default_factory=list,
        description="ranges left out of the draw: those the announcing router cannot originate "
        "(BIRD refuses 127.0.0.0/8, and in 0.0.0.0/8 anything but 0.0.0.0/N, as bogus routes)",
    )

    @field_validator("lengths")
    @classmethod
    def _range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        return None if value is None else _lengths_in(value)

    @field_validator("exclude")
    @classmethod
    def _excluded(cls, value: list[str]) -> list[str]:
        return [_network(v) for v in value]

    def _bounds(self) -> tuple[int, int]:
        if self.lengths is not None:
            return self.lengths
        return (8, 24) if self.special_purpose == "ipv4" else (16, 48)

    def slots(self) -> list[Callable[[Any], str]]:
        from manrs_lab.special_purpose import bogon_ranges  # noqa: PLC0415 (spec stays light)

        shortest, longest = self._bounds()
        nets = [
            r.network
            for r in bogon_ranges(4 if self.special_purpose == "ipv4" else 6)
            if not r.bgp_discards
            and r.network.prefixlen <= longest
            and not any(r.network.overlaps(ip_network(x)) for x in self.exclude)
        ]

        def inside(net: IPv4Network | IPv6Network) -> Callable[[Any], str]:
            return lambda rng: _aligned(
                rng, net, rng.randint(max(net.prefixlen, shortest), longest)
            )

        return [inside(net) for net in nets for _ in range(self.count)]


class AsnDraw(Strict):
    """An AS number drawn at check time from a whole class of the special-purpose registry
    (`private`, `reserved`), or a `public` one (documentation ASNs no lab router uses)."""

    asn: Literal["private", "reserved", "public"]
    bits: Literal[16, 32] | None = Field(
        default=None,
        description="only 16-bit (up to 65535) or only 32-bit (above) AS numbers of the class: "
        "probes that must cover both sizes on every check, deterministically. Absent: either.",
    )
    between: tuple[int, int] | None = Field(
        default=None,
        description="only the class's AS numbers from the first to the last of these two (one "
        "sub-range of the class per check, so that every sub-range is probed every time). "
        "Absent: the whole class.",
    )

    @model_validator(mode="after")
    def _some_left(self) -> AsnDraw:
        from manrs_lab.special_purpose import asn_ranges  # noqa: PLC0415 (spec stays light)

        if self.between is not None:
            lo, hi = self.between
            kind = "documentation" if self.asn == "public" else self.asn
            if lo > hi or not any(r.first <= hi and lo <= r.last for r in asn_ranges(kind)):
                raise ValueError(f"between {list(self.between)}: no {self.asn} AS number in it")
        return self


AsPathItem = Annotated[int, Field(ge=0, le=4294967295)] | AsnDraw
PrefixOrDraw = str | MoreSpecific | Covering | Outside | SpecialPurpose


class Announce(Strict):
    """Probe: `node` originates `prefixes` for the duration of the check, then withdraws them."""

    node: str
    prefixes: list[PrefixOrDraw] = Field(min_length=1)
    as_path: list[AsPathItem] = Field(
        default_factory=list,
        description="ASes the routes seem to have crossed after `node`'s own AS, origin last: "
        "a relayed path ([64520]: originated by AS64520 behind node) or a forged one ([64500]: "
        "node claims AS64500 as origin); an item {asn: private|reserved|public} is drawn at "
        "check time. Empty: node originates the prefixes itself.",
    )
    as_path_length: int | None = Field(
        default=None,
        ge=2,
        le=255,
        description="the path the receiver sees has exactly this many ASes (node's own "
        "included): drawn public ASNs are inserted after node's AS. For path-length limits: "
        "probe the limit and one past it.",
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

    @model_validator(mode="after")
    def _length(self) -> Announce:
        if self.as_path_length is not None and self.as_path_length < 1 + len(self.as_path):
            raise ValueError(
                f"as_path_length {self.as_path_length} is shorter than node's AS plus as_path "
                f"({1 + len(self.as_path)})"
            )
        return self


class RoaPublish(Strict):
    """Probe: for each prefix the probe announces, a fresh ROA drawn around it is published on
    the lab's RTR cache for the grading run (`manrs_lab.grader.roa_probe`), so the route's RPKI
    state is known to the grader but not to a filter that names prefixes. The ROA's prefix is a
    supernet of the announced one (or the prefix itself) that overlaps no VRP already served, no
    route in the lab and no other probe's prefix; a drawn announced prefix is drawn again until
    such a ROA exists."""

    asn: Literal["origin", "first", "other"] = Field(
        description="the AS the ROA authorizes: the route's `origin` (valid, or length-invalid "
        "past maxLength); the `first` AS of the path, the announcing neighbour's (origin-invalid "
        "when the path is relayed: a router that validates the first AS instead of the origin "
        "accepts it); `other`: a drawn public AS on no path (origin-invalid)"
    )
    max_length: tuple[int, int] = Field(
        description="the ROA's maxLength relative to the announced prefix's length, drawn in "
        "this range: [0, 0] = the announced length (the boundary), [-1, -1] = one shorter (the "
        "route is one past maxLength: length-invalid), [0, 4] = up to 4 longer"
    )
    lengths: tuple[int, int] | None = Field(
        default=None,
        description="lengths of the ROA's prefix, a supernet of (or equal to) the announced "
        "prefix, at most its maxLength; default: up to 4 shorter than the announced prefix",
    )

    @field_validator("max_length", "lengths")
    @classmethod
    def _range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        return None if value is None else _lengths_in(value)


class Probe(Strict):
    announce: Announce
    roa: RoaPublish | None = Field(
        default=None,
        description="publish a fresh ROA around each announced prefix for the grading run (RPKI "
        "labs): the RPKI state of the probe's routes is drawn, not only their prefixes",
    )
    exclusive: bool = Field(
        default=False,
        description="no other check announces any of these prefixes, from any node, while this "
        "check runs (it waits for them, they wait for it). For probes observed behind a router "
        "that passes on one best path per prefix, such as a route server: another node's route "
        "for the same prefix could be the best and hide this probe's leak.",
    )


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


class RegistrySpec(Strict):
    """The lab's routing registry: a real IRRd started with the lab (`up`), named like the lab
    instance, reachable by whois and bgpq4 from the learner's router and from the learner's
    terminal or notebook (`manrs-lab registry whois|submit INSTANCE ...`)."""

    data: str = Field(
        description="RPSL file the registry starts with (mntner, aut-num, as-set, route "
        "objects...), relative to the lab folder and inside it"
    )
    learner_mntner: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9][A-Z0-9_-]*$",
        description="the learner's maintainer (a mntner in `data`): `lab.save()` saves the "
        "objects it maintains, and nbgrader's replay submits them with `learner_password`",
    )
    learner_password: str | None = Field(
        default=None,
        min_length=1,
        description="that maintainer's password, as the lab's guide gives it to the learner",
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> RegistrySpec:
        if (self.learner_mntner is None) != (self.learner_password is None):
            raise ValueError("learner_mntner and learner_password go together")
        return self


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
    registry: RegistrySpec | None = Field(
        default=None,
        description="a routing registry (IRRd) started with the lab; absent: the lab has none",
    )

    @field_validator("topology")
    @classmethod
    def _topo_name(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9-]*$", value):
            raise ValueError("a topology name, e.g. 'customer-filtering' (no path, no suffix)")
        return value
