"""MANRS Action 4 in the lab's routing registry (IRRd) and RPKI: what a network registers for
its customers (route objects), whether its customer filters are what the registry says, and
whether a customer's prefix has a minimal ROA.

Graded from the registry itself (whois and bgpq4 against the lab instance's IRRd:
`ctx.running.registry`), from what routers hold and from the VRPs the lab's cache serves;
never from configuration text. Contacts (MANRS Action 3) are graded in `contacts.py`.
"""

from __future__ import annotations

import re
from ipaddress import ip_network

from pydantic import Field, field_validator

from manrs_lab import irr_registry
from manrs_lab.grader.checks.rpki import _published
from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.roa import covering, rov_state, vrp_text
from manrs_lab.state import RpkiState, canonical_prefix

AS_SET_RE = re.compile(r"^(AS\d+:)?AS-[A-Z0-9-]+$|^AS\d+$", re.IGNORECASE)


def _registry(ctx: CheckContext) -> str:
    name = ctx.running.registry
    if name is None:
        raise CheckFailed(
            f"lab {ctx.running.lab.id} has no registry (lab.yaml `registry:`)", final=True
        )
    return name


def _whois_host() -> str:
    return irr_registry.LAB_WHOIS_HOST


def route_objects(registry: str, prefix: str) -> list[dict[str, str]]:
    """The registry's route/route6 objects for exactly `prefix` (first value of each attribute,
    lower-case keys), via IRRd's `!r` query."""
    answer = irr_registry.query(registry, f"!r{prefix}")
    objects: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in answer.splitlines():
        match = re.match(r"^([a-z0-9-]+):\s*(.*)$", line)
        if match is None:
            if current:
                objects.append(current)
                current = {}
            continue
        key, value = match[1].lower(), match[2].strip()
        if key in ("route", "route6") and current:
            objects.append(current)
            current = {}
        current.setdefault(key, value)
    if current:
        objects.append(current)
    return [o for o in objects if "route" in o or "route6" in o]


def registered_prefixes(registry: str, as_set: str) -> set[str]:
    """What bgpq4 (the operators' filter generator) gives for `as_set`: IPv4 and IPv6."""
    found: set[str] = set()
    for family in ("-4", "-6"):
        out = irr_registry.bgpq4(registry, [family, "-F", "%n/%l\n", as_set])
        found |= {canonical_prefix(p) for p in out.split() if "/" in p}
    return found


class RegistryParams(Params):
    pass


@check("registry_answers", RegistryParams)
def registry_answers(ctx: CheckContext, params: RegistryParams) -> str:
    """The lab's registry is up and answers whois (a gate)."""
    name = _registry(ctx)
    if not irr_registry.alive(name):
        instance = ctx.running.instance.name
        raise CheckFailed(
            f"the lab's registry {name} is not running: `manrs-lab reset {instance}` starts the "
            "lab (and its registry) again"
        )
    answer = irr_registry.query(name, "!v")
    if not answer.startswith("A"):
        raise CheckFailed(f"the lab's registry {name} does not answer whois: {answer[:200]!r}")
    lines = answer.splitlines()
    return f"registry {name} answers ({lines[1] if len(lines) > 1 else answer.strip()})"


class RouteObjectParams(Params):
    prefix: str
    origin_as: int = Field(ge=1, le=2**32 - 1)
    as_set: str | None = Field(
        default=None,
        description="the customer's as-set: the prefix must be in what bgpq4 expands it to",
    )

    @field_validator("prefix")
    @classmethod
    def _net(cls, value: str) -> str:
        return str(ip_network(value))

    @field_validator("as_set")
    @classmethod
    def _set(cls, value: str | None) -> str | None:
        if value is not None and not AS_SET_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not an as-set or AS number")
        return value


@check("registry_route_object", RouteObjectParams)
def registry_route_object(ctx: CheckContext, params: RouteObjectParams) -> str:
    """The registry holds a route(6) object for exactly `prefix` with origin `origin_as` (and,
    with `as_set`, bgpq4's expansion of the as-set includes it): the route is registered."""
    name = _registry(ctx)
    objects = route_objects(name, params.prefix)
    origins = sorted({o.get("origin", "?").upper() for o in objects})
    wanted = f"AS{params.origin_as}"
    kind = "route6" if ip_network(params.prefix).version == 6 else "route"
    if wanted not in origins:
        seen = (
            f"the registry has {kind} objects for it with origin {', '.join(origins)} only"
            if objects
            else f"the registry has no {kind} object for it"
        )
        raise CheckFailed(
            f"{params.prefix} is not registered with origin {wanted}: {seen} "
            f"(`whois -h {_whois_host()} {params.prefix}` from {ctx.learner}, or `manrs-lab "
            f"registry whois {name} {params.prefix}`). Create the {kind} object with "
            "`manrs-lab registry submit` and the maintainers' passwords; the registry's answer "
            "says which authentication it still needs."
        )
    maintainers = sorted({o.get("mnt-by", "?") for o in objects if o.get("origin") == wanted})
    evidence = f"{kind} {params.prefix} origin {wanted} (mnt-by {', '.join(maintainers)})"
    if params.as_set is not None:
        expanded = registered_prefixes(name, params.as_set)
        if canonical_prefix(params.prefix) not in expanded:
            raise CheckFailed(
                f"{evidence} is registered, but bgpq4 does not find it under {params.as_set} "
                f"(it gives {', '.join(sorted(expanded)) or 'nothing'}): is {wanted} still a "
                f"member of {params.as_set}?"
            )
        evidence += f", in {params.as_set}"
    return evidence


class FilterParams(Params):
    router: str = Field(description="the learner's router, whose import filter is graded")
    neighbour: str = Field(description="the customer whose session is filtered")
    as_set: str = Field(description="the customer's as-set in the registry")

    @field_validator("as_set")
    @classmethod
    def _set(cls, value: str) -> str:
        if not AS_SET_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not an as-set or AS number")
        return value

    def router_names(self) -> list[str]:
        return [self.router, self.neighbour]


@check("filter_matches_registry", FilterParams)
def filter_matches_registry(ctx: CheckContext, params: FilterParams) -> str:
    """Of what the customer announces, the learner's router accepts exactly what the registry
    has under the customer's as-set (bgpq4's expansion, read at check time): registered routes
    get in, unregistered ones do not, whatever the filter's text. Other checks' probes are left
    out (their own checks grade them)."""
    name = _registry(ctx)
    registered = registered_prefixes(name, params.as_set)
    customer = ctx.running.router(params.neighbour)
    skip = {canonical_prefix(p) for p in ctx.others_probe}
    announced = {canonical_prefix(r.prefix) for r in customer.routes() if r.peer is None} - skip
    accepted = {
        canonical_prefix(r.prefix)
        for r in ctx.running.router(params.router).routes()
        if r.peer is not None and r.as_path[:1] == (customer.asn,)
    } - skip
    missing = sorted((registered & announced) - accepted)
    extra = sorted(accepted - registered)
    problems = []
    if missing:
        problems.append(
            f"{params.neighbour} announces {', '.join(missing)}, which the registry has under "
            f"{params.as_set}, but {params.router} does not accept "
            f"{'it' if len(missing) == 1 else 'them'}: generate the filter again from the "
            f"registry (bgpq4 -h {_whois_host()} -S {irr_registry.SOURCE} ... "
            f"{params.as_set}), and have {params.router} re-read what {params.neighbour} sent "
            "(a soft clear inbound)"
        )
    if extra:
        problems.append(
            f"{params.router} accepts {', '.join(extra)} from {params.neighbour}, which the "
            f"registry does not have under {params.as_set} (it has "
            f"{', '.join(sorted(registered)) or 'nothing'}): a customer filter is what the "
            "registry says, not what the customer asks for; register first, then generate"
        )
    if problems:
        raise CheckFailed("; ".join(problems) + ".")
    return (
        f"{params.router} accepts from {params.neighbour} exactly its registered "
        f"{', '.join(sorted(accepted)) or 'nothing'} ({params.as_set}: "
        f"{', '.join(sorted(registered)) or 'empty'})"
    )


class RoaParams(Params):
    prefix: str
    origin_as: int = Field(ge=1, le=2**32 - 1)
    observer: str = Field(description="a validating router that must hold the ROA")

    @field_validator("prefix")
    @classmethod
    def _net(cls, value: str) -> str:
        return str(ip_network(value))

    def router_names(self) -> list[str]:
        return [self.observer]


@check("roa_authorizes", RoaParams)
def roa_authorizes(ctx: CheckContext, params: RoaParams) -> str:
    """The RPKI makes `prefix` from `origin_as` valid with minimal ROAs (every ROA that
    authorizes it allows no longer prefix: RFC 9319), and the validating `observer` holds them."""
    vrps = _published(ctx)
    state = rov_state(params.prefix, params.origin_as, vrps)
    length = ip_network(params.prefix).prefixlen
    authorizing = [
        v
        for v in covering(params.prefix, vrps)
        if v.asn == params.origin_as and length <= v.max_length
    ]
    if state is not RpkiState.VALID:
        cover = covering(params.prefix, vrps)
        why = (
            "; ".join(vrp_text(v) for v in cover) if cover else "no ROA covers it (RPKI not found)"
        )
        raise CheckFailed(
            f"{params.prefix} from AS{params.origin_as} is RPKI {state.value} (ROAs covering it: "
            f"{why}). Publish a ROA for exactly {params.prefix}, origin AS{params.origin_as}, "
            f"maxLength {length}: `manrs-lab roa add {params.prefix} --max-length {length} "
            f"--asn {params.origin_as}` (you hold the covering space, so you sign it)."
        )
    loose = [v for v in authorizing if v.max_length > length]
    if loose:
        raise CheckFailed(
            f"{', '.join(vrp_text(v) for v in loose)} authorizes more-specifics of "
            f"{params.prefix} that AS{params.origin_as} does not announce: anyone can forge "
            f"AS{params.origin_as} as origin on a /{length + 1} and it is RPKI-valid. Make the "
            f"ROA minimal: maxLength {length}."
        )
    held = {
        (canonical_prefix(v.prefix), v.max_length, v.asn)
        for v in ctx.running.router(params.observer).rpki_vrps()
    }
    missing = [
        v for v in authorizing if (canonical_prefix(v.prefix), v.max_length, v.asn) not in held
    ]
    if missing:
        raise CheckFailed(
            f"{params.observer} does not hold {', '.join(vrp_text(v) for v in missing)} yet: "
            "the cache refreshes every 5 s (`manrs-lab roa add` waits for it)"
        )
    return f"{params.prefix} from AS{params.origin_as} is valid: " + ", ".join(
        vrp_text(v) for v in authorizing
    )
