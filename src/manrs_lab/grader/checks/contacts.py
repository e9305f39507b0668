"""Coordination checks (MANRS Action 3): graded by querying the lab's routing registry.

MANRS asks every network to keep its contact information in a routing registry up to date,
so that others can reach it in an incident, and to reach others when their routing hurts it.
Nothing here reads a learner's files: each check asks the instance's own IRRd (`whois`,
`bgpq4`) what anyone on the Internet would see, and the routers what really is announced.

- `registry_contacts_resolve`: the AS's aut-num names admin-c and tech-c that exist, that the
  AS's own maintainer maintains, whose every e-mail is a mailbox at the AS's domain, and a
  role among its tech-c (a NOC's mailbox outlives any one employee).
- `registry_abuse_contact`: the aut-num points (in a `remarks:` line) to an `irt` object of
  the AS, whose abuse mailbox is at the AS's domain. (IRRd 4 has no `abuse-c`: its RPSL
  schema refuses it; `irt` with `abuse-mailbox` is the object it does know.)
- `incident_reported`: for every route that another AS originates inside the learner's space
  (as an observer router holds it right now), the learner recorded on their aut-num a report
  naming the prefix, the origin AS and that AS's abuse mailbox from the registry; no report
  names a network that is not announcing the learner's space.
- `originated_routes_registered`: every prefix the learner's router originates (as the
  observer receives it) is in what `bgpq4` builds from the registry for the learner's AS.
- `route_objects_current`: every route/route6 object maintained by the AS or naming it as
  origin describes something it announces, with its own AS as origin (no stale objects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import ip_network

from pydantic import Field, field_validator

from manrs_lab import irr_registry
from manrs_lab.grader.context import CheckContext
from manrs_lab.grader.registry import CheckFailed, Params, check
from manrs_lab.registry_rules import (
    EMAIL_RE,
    IRT_RE,
    Network,
    RpslObject,
    abuse_contacts,
    abuse_problems,
    contact_problems,
    find_aut_num,
    lookup,
    route_objects,
    stale_route_objects,
)

ASN_RE = re.compile(r"\bAS(\d+)\b", re.IGNORECASE)
INCIDENT_RE = re.compile(r"\bincident\b", re.IGNORECASE)


def aut_num(registry: str, asn: int) -> RpslObject:
    obj = find_aut_num(registry, asn)
    if obj is None:
        raise CheckFailed(
            f"the registry holds no aut-num AS{asn}: `whois AS{asn}` answers nothing. Your AS "
            "must be described in the registry for anyone to find how to reach you."
        )
    return obj


def _registry(ctx: CheckContext) -> str:
    name = ctx.running.registry
    if not name:
        raise CheckFailed(
            "this lab instance has no routing registry (lab.yaml needs `registry:`)", final=True
        )
    return name


# -- contacts -----------------------------------------------------------------------------


class ContactParams(Params):
    node: str = Field(description="the learner's router: its AS is the one graded")
    domain: str = Field(
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$",
        description="the AS's own domain: every contact mailbox must be there",
    )

    def router_names(self) -> list[str]:
        return [self.node]


@check("registry_contacts_resolve", ContactParams)
def registry_contacts_resolve(ctx: CheckContext, params: ContactParams) -> str:
    """The learner's aut-num names admin-c and tech-c that exist in the registry, that the
    AS's maintainer maintains, whose every e-mail is at the AS's domain; a role among tech-c."""
    registry = _registry(ctx)
    asn = ctx.running.router(params.node).asn
    problems, good = contact_problems(registry, aut_num(registry, asn), params.domain)
    if problems:
        raise CheckFailed(" ".join(problems))
    return f"AS{asn}: " + "; ".join(good)


@check("registry_abuse_contact", ContactParams)
def registry_abuse_contact(ctx: CheckContext, params: ContactParams) -> str:
    """The learner's aut-num names, in a remarks line, an irt object of the AS (maintained by
    its maintainer) whose abuse-mailbox is a mailbox at the AS's domain."""
    registry = _registry(ctx)
    asn = ctx.running.router(params.node).asn
    problems, found = abuse_problems(registry, aut_num(registry, asn), params.domain)
    if problems:
        raise CheckFailed(" ".join(problems))
    return f"AS{asn}: " + "; ".join(
        f"irt {c.irt}, abuse-mailbox {', '.join(c.mailboxes)}" for c in found
    )


# -- the incident report --------------------------------------------------------------------


class IncidentParams(Params):
    node: str = Field(description="the learner's router (the AS whose space is hijacked)")
    observer: str = Field(description="a router that holds every route for the learner's space")
    space: list[str] = Field(min_length=1, description="the learner's address space")

    def router_names(self) -> list[str]:
        return [self.node, self.observer]

    @field_validator("space")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for prefix in value:
            ip_network(prefix)
        return value


@dataclass(frozen=True)
class Report:
    line: str
    prefixes: tuple[Network, ...]
    asns: tuple[int, ...]
    mailboxes: tuple[str, ...]


def parse_reports(aut: RpslObject) -> list[Report]:
    """The aut-num's `remarks:` lines that mention an incident, with what each names."""
    reports = []
    for line in aut.values("remarks"):
        if not INCIDENT_RE.search(line):
            continue
        prefixes = []
        for raw in re.split(r"[\s,;]+", line):
            token = raw.strip("()[]<>.'\"")
            if "/" in token:
                try:
                    prefixes.append(ip_network(token))
                except ValueError:
                    continue
        asns = tuple(int(m.group(1)) for m in ASN_RE.finditer(line))
        mails = tuple(m.group(0).lower() for m in EMAIL_RE.finditer(line))
        reports.append(Report(line, tuple(prefixes), asns, mails))
    return reports


def offending_routes(
    ctx: CheckContext, observer: str, asn: int, space: list[str]
) -> dict[Network, set[int]]:
    """Prefixes inside the learner's space (or equal to it) that the observer holds from another
    origin than the learner's AS, with those origins."""
    nets = [ip_network(p) for p in space]
    found: dict[Network, set[int]] = {}
    for route in ctx.running.router(observer).routes():
        net = ip_network(route.prefix)
        if route.origin_as == asn:
            continue
        if any(net.version == own.version and net.subnet_of(own) for own in nets):  # type: ignore[arg-type]
            found.setdefault(net, set()).add(route.origin_as)
    return found


def judge_reports(
    registry: str, asn: int, offending: dict[Network, set[int]], observer: str
) -> str:
    """The verdict on AS`asn`'s incident reports against what `observer` holds: evidence, or
    CheckFailed naming what is missing or wrong."""
    aut = aut_num(registry, asn)
    reports = parse_reports(aut)
    if not offending:
        raise CheckFailed(
            f"{observer} holds no route for your address space from another origin right now, "
            "so there is no incident to check the report against. The incident must still be "
            "going on when you check: leave the other networks' routers as they are (in real "
            "life you cannot touch them; `manrs-lab reset` starts the lab again)."
        )
    if not reports:
        seen = ", ".join(
            f"{p} from AS{o}" for p, origins in sorted(offending.items(), key=str) for o in origins
        )
        raise CheckFailed(
            f"{observer} holds {seen}: someone else announces your address space, and AS{asn}'s "
            "aut-num records no incident report (a remarks line with the word `incident`, the "
            "prefix, the origin AS and the mailbox you reported it to). Find who originates it "
            "(`show bgp`), then how to reach that network (`whois`)."
        )
    contacts: dict[int, list[str]] = {}
    other_mail: dict[int, dict[str, str]] = {}
    for origin in sorted({o for origins in offending.values() for o in origins}):
        offender = lookup(registry, f"AS{origin}", "aut-num")
        if offender is None:
            contacts[origin] = []
            continue
        found, _ = abuse_contacts(registry, offender)
        contacts[origin] = [m.lower() for c in found for m in c.mailboxes]
        other_mail[origin] = _other_mailboxes(registry, offender)
    problems: list[str] = []
    reported: set[tuple[Network, int]] = set()
    for report in reports:
        problems += _judge_one(report, offending, contacts, other_mail, observer)
        for prefix in report.prefixes:
            for origin in report.asns:
                if origin in offending.get(prefix, set()) and set(report.mailboxes) & set(
                    contacts.get(origin, [])
                ):
                    reported.add((prefix, origin))
    for prefix, origins in sorted(offending.items(), key=str):
        for origin in sorted(origins):
            if (prefix, origin) not in reported and not problems:
                problems.append(
                    f"{observer} holds {prefix} from AS{origin}, and no incident line of "
                    f"AS{asn}'s aut-num reports it (the prefix, AS{origin} and AS{origin}'s "
                    "abuse mailbox on one remarks line)."
                )
    if problems:
        raise CheckFailed(" ".join(problems))
    return "; ".join(
        f"{prefix} from AS{origin} reported to {', '.join(contacts[origin])}"
        for prefix, origin in sorted(reported, key=str)
    )


def _other_mailboxes(registry: str, aut: RpslObject) -> dict[str, str]:
    """Mailboxes of an AS's other contacts (what a hurried reader might write to), by what
    they are: used to explain why a report to one of them is not the right one."""
    out: dict[str, str] = {}
    for attr in ("admin-c", "tech-c"):
        for handle in aut.names(attr):
            obj = lookup(registry, handle, "role,person")
            if obj is not None:
                for mail in obj.values("e-mail"):
                    out.setdefault(mail.lower(), f"its {attr} ({obj.describe()})")
    for name in aut.names("mnt-by"):
        obj = lookup(registry, name, "mntner")
        if obj is not None:
            for mail in obj.values("upd-to"):
                out.setdefault(mail.lower(), f"its maintainer's upd-to ({obj.describe()})")
    for line in aut.values("remarks"):
        for m in EMAIL_RE.finditer(line):
            out.setdefault(m.group(0).lower(), f"a remarks line of {aut.describe()}: {line!r}")
    for name in {m.group(0).upper() for v in aut.values("remarks") for m in IRT_RE.finditer(v)}:
        obj = lookup(registry, name, "irt")
        if obj is not None:
            for mail in obj.values("e-mail"):
                out.setdefault(mail.lower(), f"the e-mail (not the abuse-mailbox) of irt {name}")
    return out


def _judge_one(
    report: Report,
    offending: dict[Network, set[int]],
    contacts: dict[int, list[str]],
    other_mail: dict[int, dict[str, str]],
    observer: str,
) -> list[str]:
    where = f"Your incident line {report.line!r}"
    if len(report.prefixes) != 1 or len(report.asns) != 1 or len(report.mailboxes) != 1:
        return [
            f"{where} must name exactly one prefix, one origin AS and one mailbox (it names "
            f"{len(report.prefixes)}, {len(report.asns)} and {len(report.mailboxes)}): one "
            "line per incident and network."
        ]
    prefix, origin, mail = report.prefixes[0], report.asns[0], report.mailboxes[0]
    if origin not in {o for origins in offending.values() for o in origins}:
        return [
            f"{where} blames AS{origin}, but {observer} holds no route for your space from "
            f"AS{origin}. A report to a network that did nothing wastes its NOC's time and "
            "yours: report the AS that originates the route (the last AS of its AS path)."
        ]
    if origin not in offending.get(prefix, set()):
        held = ", ".join(str(p) for p, o in sorted(offending.items(), key=str) if origin in o)
        return [
            f"{where} names {prefix}, but what {observer} holds from AS{origin} in your space "
            f"is {held}: name the exact prefix, so that their NOC finds the route at once."
        ]
    if mail in contacts.get(origin, []):
        return []
    known = other_mail.get(origin, {}).get(mail)
    if known is not None:
        return [
            f"{where} goes to {mail}, {known} of AS{origin}. An incident report goes to the "
            f"network's abuse contact: the abuse-mailbox of the irt object that AS{origin}'s "
            f"aut-num names (`whois AS{origin}`, then `whois` the IRT- name it gives)."
        ]
    if not contacts.get(origin):
        return [f"AS{origin} publishes no abuse contact in the registry that {where} could use."]
    return [
        f"{where} goes to {mail}: no object of AS{origin} in the registry gives that mailbox. "
        f"Look it up: `whois AS{origin}`, then the irt object it names."
    ]


@check("incident_reported", IncidentParams)
def incident_reported(ctx: CheckContext, params: IncidentParams) -> str:
    """Every route another AS originates in the learner's space (as the observer holds it) is
    reported on the learner's aut-num, to that AS's abuse mailbox from the registry; no report
    blames a network that is not announcing the space."""
    registry = _registry(ctx)
    asn = ctx.running.router(params.node).asn
    offending = offending_routes(ctx, params.observer, asn, params.space)
    return judge_reports(registry, asn, offending, params.observer)


# -- route objects --------------------------------------------------------------------------


class RoutesParams(Params):
    node: str = Field(description="the learner's router")
    observer: str = Field(description="its neighbour: what it receives from the learner's AS")

    def router_names(self) -> list[str]:
        return [self.node, self.observer]


def originated(ctx: CheckContext, node: str, observer: str) -> set[Network]:
    """What `node` originates, as `observer` (its direct neighbour) receives it."""
    asn = ctx.running.router(node).asn
    return {
        ip_network(r.prefix)
        for r in ctx.running.router(observer).routes()
        if r.as_path and all(a == asn for a in r.as_path)  # its own, prepended or not
    }


def registered(registry: str, asn: int) -> set[Network]:
    """What bgpq4 builds from the registry for AS`asn` (route and route6 objects with that
    origin), both families. `-p`: the lab's documentation ASNs are 'special' to bgpq4."""
    out: set[Network] = set()
    for family in ("-4", "-6"):
        text = irr_registry.bgpq4(registry, ["-p", family, "-F", r"%n/%l\n", f"AS{asn}"])
        out |= {ip_network(line.strip()) for line in text.split() if "/" in line}
    return out


@check("originated_routes_registered", RoutesParams)
def originated_routes_registered(ctx: CheckContext, params: RoutesParams) -> str:
    """Every prefix the learner's router originates (as its neighbour receives it) has a
    route/route6 object with the learner's AS as origin: bgpq4 builds a filter that lets it in."""
    registry = _registry(ctx)
    asn = ctx.running.router(params.node).asn
    announced = originated(ctx, params.node, params.observer)
    if not announced:
        raise CheckFailed(
            f"{params.observer} receives nothing that {params.node} originates: announce your "
            "prefixes again (the lab's starting config does)."
        )
    have = registered(registry, asn)
    missing = sorted((str(p) for p in announced - have), key=str)
    if missing:
        raise CheckFailed(
            f"{params.node} announces {', '.join(missing)}, but `bgpq4 AS{asn}` against the "
            f"registry does not list {'it' if len(missing) == 1 else 'them'}: there is no "
            f"route/route6 object with that exact prefix and origin AS{asn}. Networks that "
            f"build their filters from the registry (as transit should) would drop the route. "
            f"Register every prefix you originate, IPv4 and IPv6."
        )
    return (
        f"{params.node} originates {', '.join(sorted(map(str, announced)))}; bgpq4 AS{asn} "
        f"lists all of {'it' if len(announced) == 1 else 'them'}"
    )


@check("route_objects_current", RoutesParams)
def route_objects_current(ctx: CheckContext, params: RoutesParams) -> str:
    """Every route/route6 object the learner's AS maintains, or that names it as origin,
    describes a prefix its router announces, with its own AS as origin (none stale)."""
    registry = _registry(ctx)
    asn = ctx.running.router(params.node).asn
    aut = aut_num(registry, asn)
    announced = originated(ctx, params.node, params.observer)
    objects = route_objects(registry, aut, asn)
    seen = f"{params.observer} receives no such route from AS{asn}"
    problems = stale_route_objects(objects, asn, announced, params.node, seen)
    if problems:
        raise CheckFailed(" ".join(problems))
    listed = ", ".join(f"{c} {p}" for c, p, _ in sorted(objects))
    return f"AS{asn}'s route objects ({listed or 'none'}) all match what {params.node} announces"
