"""The registry rules of MANRS Actions 3 and 4, shared by the grader's checks
(`grader/checks/contacts.py`) and the readiness report (`readiness.py`): one rule, one place,
so that the report can never judge a registry more kindly than the grade does.

Everything here reads the registry as anyone on the Internet would (whois queries through a
`Query` function: `irr_registry.query` live, recorded answers in unit tests). Nothing here
raises a grading error: rules return what is wrong (teaching sentences) and what is right
(evidence); callers decide (a check fails, a report action is not ready).

- Contacts: every admin-c and tech-c of the AS's aut-num resolves to a role or person that
  the AS's own maintainer maintains, whose every e-mail is a mailbox at the AS's domain, and a
  role is among the tech-c (a NOC's mailbox outlives any one employee).
- Abuse contact: the aut-num names, in a `remarks:` line, an `irt` object (`IRT-...`)
  maintained by the AS's maintainer, whose abuse-mailbox is at the AS's domain. IRRd 4 has no
  `abuse-c` (its RPSL schema refuses it in submissions); `irt` with `abuse-mailbox` it knows.
- Route objects: every route/route6 object the AS's maintainer maintains, or that names the
  AS as origin, has the AS as origin and a prefix the AS announces (none stale).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network

from manrs_lab import irr_registry

Network = IPv4Network | IPv6Network
Query = Callable[[str, str], str]  # (registry, whois query) -> answer

# A mailbox: RFC 5322's dot-atom local part (no quoted strings, no comments), one @.
LOCAL_PART = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
EMAIL_RE = re.compile(rf"{LOCAL_PART}@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
IRT_RE = re.compile(r"\bIRT-[A-Z0-9][A-Z0-9_-]*\b", re.IGNORECASE)
KEY_RE = re.compile(r"[A-Za-z0-9:./_-]+")  # a name the registry could hold (never a command)
MNTNER_RE = re.compile(r"[A-Z0-9_-]+")
DOMAIN_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


# -- the registry's answers ---------------------------------------------------------------
@dataclass
class RpslObject:
    """One object of a whois answer: its class, primary key and attributes in order."""

    cls: str
    key: str
    attrs: list[tuple[str, str]] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.attrs if k == name]

    def first(self, name: str) -> str:
        found = self.values(name)
        return found[0] if found else ""

    def names(self, name: str) -> list[str]:
        """A reference attribute's names (`mnt-by: A, B` and repeated lines alike), upper."""
        return [n.strip().upper() for v in self.values(name) for n in v.split(",") if n.strip()]

    @property
    def primary_key(self) -> str:
        """A person's or role's is its nic-hdl; others' the value of their first line."""
        if self.cls in ("person", "role"):
            return self.first("nic-hdl")
        return self.key

    def describe(self) -> str:
        return f"{self.cls} {self.key}"


def parse_rpsl(text: str) -> list[RpslObject]:
    """The objects of a whois answer or an RPSL file (IRRd's RIPE-style output: `%` comments,
    objects separated by blank lines, continuation lines starting with a space, tab or `+`;
    `#` comment lines of RPSL files)."""
    objects: list[RpslObject] = []
    current: RpslObject | None = None
    for line in text.splitlines():
        if line.startswith(("%", "#")):
            continue
        if not line.strip():
            current = None
            continue
        if line[0] in " \t+" and current is not None and current.attrs:
            name, value = current.attrs[-1]
            current.attrs[-1] = (name, f"{value} {line[1:].strip()}".strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip().lower(), value.strip()
        if current is None:
            current = RpslObject(name, value)
            objects.append(current)
        current.attrs.append((name, value))
    return objects


def whois(registry: str, text: str, query: Query | None = None) -> list[RpslObject]:
    """The objects the registry answers `text` with (no recursion into contacts)."""
    return parse_rpsl((query or irr_registry.query)(registry, text))


def lookup(registry: str, key: str, classes: str, query: Query | None = None) -> RpslObject | None:
    """The object of one of `classes` (comma-separated) with primary key `key`, if any."""
    if not KEY_RE.fullmatch(key):
        return None  # not a name the registry could hold: never sent as a query
    for obj in whois(registry, f"-r -T {classes} {key}", query):
        if obj.primary_key.upper() == key.upper():
            return obj
    return None


def find_aut_num(registry: str, asn: int, query: Query | None = None) -> RpslObject | None:
    return lookup(registry, f"AS{asn}", "aut-num", query)


def mailbox_at(address: str, domain: str) -> bool:
    """`address` is one syntactically valid mailbox at exactly `domain`."""
    local, sep, host = address.strip().rpartition("@")
    return (
        bool(sep)
        and re.fullmatch(LOCAL_PART, local) is not None
        and host.lower() == domain.lower().rstrip(".")
    )


def maintained_by(obj: RpslObject, maintainers: list[str]) -> bool:
    return bool(set(obj.names("mnt-by")) & set(maintainers))


def maintainer_domain(registry: str, aut: RpslObject, query: Query | None = None) -> str | None:
    """The AS's domain as the registry itself knows it, when a lab does not say it: the domain
    of its maintainer's `upd-to:` (where the registry reports changes to the AS's objects)."""
    for name in aut.names("mnt-by"):
        if not MNTNER_RE.fullmatch(name):
            continue
        obj = lookup(registry, name, "mntner", query)
        for mail in obj.values("upd-to") if obj is not None else []:
            host = mail.strip().rpartition("@")[2]
            if DOMAIN_RE.fullmatch(host):
                return host.lower()
    return None


# -- Action 3: contacts -------------------------------------------------------------------
def contact_problems(
    registry: str, aut: RpslObject, domain: str, query: Query | None = None
) -> tuple[list[str], list[str]]:
    """What is wrong with the aut-num's admin-c and tech-c (empty: nothing), and what is right
    (one evidence item per good contact)."""
    asn = aut.key.upper()
    own = aut.names("mnt-by")
    problems: list[str] = []
    good: list[str] = []
    has_role = False
    for attr in ("admin-c", "tech-c"):
        handles = aut.names(attr)
        if not handles:
            problems.append(f"{asn} names no {attr}.")
        for handle in handles:
            obj = lookup(registry, handle, "role,person", query)
            if obj is None:
                problems.append(
                    f"{attr} {handle} of {asn} resolves to nothing: the registry holds no "
                    f"role or person {handle} (`whois {handle}`), so whoever looks for your "
                    f"{attr} finds no one. Point it at an object that exists."
                )
                continue
            bad_mail = [m for m in obj.values("e-mail") if not mailbox_at(m, domain)]
            if not maintained_by(obj, own):
                problems.append(
                    f"{attr} {handle} ({obj.describe()}) is maintained by "
                    f"{', '.join(obj.names('mnt-by')) or 'no maintainer'}, not by {asn}'s "
                    f"maintainer ({', '.join(own)}): you cannot keep it up to date, and "
                    "whoever holds that maintainer decides where your incident mail goes."
                )
            elif bad_mail:
                problems.append(
                    f"{attr} {handle} ({obj.describe()}) has e-mail {', '.join(bad_mail)}: not a "
                    f"mailbox at your domain {domain}. Mail there reaches whoever runs that "
                    "domain (an old employer, a former provider), not your network."
                )
            else:
                good.append(f"{attr} {handle} ({obj.cls}, {', '.join(obj.values('e-mail'))})")
                has_role = has_role or (attr == "tech-c" and obj.cls == "role")
    if not has_role and not problems:
        problems.append(
            f"{asn}'s tech-c names only persons: publish your NOC as a role object (a team "
            "mailbox at your domain that outlives any one employee) and name it in tech-c."
        )
    return problems, good


# -- Action 3: the abuse contact ----------------------------------------------------------
@dataclass
class AbuseContact:
    irt: str
    mailboxes: list[str]


def irt_names(aut: RpslObject) -> list[str]:
    """The irt names an aut-num's remarks lines give."""
    return sorted({m.group(0).upper() for v in aut.values("remarks") for m in IRT_RE.finditer(v)})


def abuse_contacts(
    registry: str, aut: RpslObject, query: Query | None = None
) -> tuple[list[AbuseContact], list[str]]:
    """The irt objects an aut-num points to in its remarks, with their abuse mailboxes, that
    the aut-num's own maintainer maintains; and why the other named ones do not count."""
    own = aut.names("mnt-by")
    found: list[AbuseContact] = []
    problems: list[str] = []
    for name in irt_names(aut):
        obj = lookup(registry, name, "irt", query)
        if obj is None:
            problems.append(
                f"{aut.describe()} names {name} in its remarks, but the registry holds no irt "
                f"{name} (`whois -T irt {name}`)."
            )
        elif not maintained_by(obj, own):
            problems.append(
                f"irt {name} is maintained by {', '.join(obj.names('mnt-by'))}, not by "
                f"{aut.describe()}'s maintainer ({', '.join(own)})."
            )
        else:
            found.append(AbuseContact(name, obj.values("abuse-mailbox")))
    return found, problems


def abuse_problems(
    registry: str, aut: RpslObject, domain: str, query: Query | None = None
) -> tuple[list[str], list[AbuseContact]]:
    """What is wrong with the AS's abuse contact (empty: nothing), and the irts that count."""
    asn = aut.key.upper()
    found, problems = abuse_contacts(registry, aut, query)
    if not found and not problems:
        return [
            f"{asn} publishes no abuse contact: its aut-num's remarks name no irt object "
            f"(`whois {asn}`). Another network that sees your prefixes misbehave, or that you "
            "hijack by mistake, has nowhere to report it. Create an irt object (its name starts "
            "with IRT-) with an abuse-mailbox at your domain, and name it in a remarks line of "
            "your aut-num."
        ], []
    for contact in found:
        bad = [m for m in contact.mailboxes if not mailbox_at(m, domain)]
        if not contact.mailboxes:
            problems.append(f"irt {contact.irt} has no abuse-mailbox.")
        elif bad:
            problems.append(
                f"irt {contact.irt} has abuse-mailbox {', '.join(bad)}: not a mailbox at your "
                f"domain {domain}, so reports would go to whoever runs that domain."
            )
    return problems, found


# -- Action 4: route objects --------------------------------------------------------------
def route_objects(
    registry: str, aut: RpslObject, asn: int, query: Query | None = None
) -> dict[tuple[str, str, str], RpslObject]:
    """The route/route6 objects with origin AS`asn` or maintained by the aut-num's maintainer,
    by (class, prefix, origin)."""
    objects: dict[tuple[str, str, str], RpslObject] = {}
    queries = [f"-r -T route,route6 -i origin AS{asn}"]
    queries += [
        f"-r -T route,route6 -i mnt-by {m}"
        for m in aut.names("mnt-by")
        if MNTNER_RE.fullmatch(m)  # a maintainer's name, never more query text
    ]
    for text in queries:
        for obj in whois(registry, text, query):
            if obj.cls in ("route", "route6"):
                objects[(obj.cls, obj.key, obj.first("origin").upper())] = obj
    return objects


def stale_route_objects(
    objects: dict[tuple[str, str, str], RpslObject],
    asn: int,
    announced: set[Network],
    node: str,
    seen: str,
) -> list[str]:
    """What is wrong with the AS's route objects: another origin, or a prefix not announced
    (`announced`: what `node` originates; `seen`: how that was seen, for the message)."""
    problems = []
    for (cls, prefix, origin), _obj in sorted(objects.items()):
        if origin != f"AS{asn}":
            problems.append(
                f"{cls} {prefix} with origin {origin} (maintained by you) says {origin} may "
                f"originate it; {origin} does not (it is your prefix, originated by AS{asn}). A "
                "stale route object lets whoever runs that AS announce your space through "
                "every filter built from the registry: delete it."
            )
        elif ip_network(prefix) not in announced:
            problems.append(
                f"{cls} {prefix} origin {origin} is registered, but {node} does not "
                f"announce it ({seen}): register "
                "what you originate, and delete what you no longer do."
            )
    return problems
