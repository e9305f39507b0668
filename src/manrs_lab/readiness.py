"""A MANRS readiness report for the learner's AS, in the spirit of the MANRS Observatory.

The Observatory scores real networks per MANRS action from what others measured: routing
incidents the AS caused or propagated (Action 1), spoofing tests (Action 2), contacts in
registries (Action 3) and the share of its prefixes with IRR route objects and valid ROAs
(Action 4). Here the measurements are the lab's own:

- Filtering and anti-spoofing come from a grading run's results (`GradeReport`): every check
  is classified by its check *kind* (`CHECK_KINDS`) as a harmful probe the AS must refuse (a
  leak, a hijack, a bogon, a spoofed packet), a legitimate route or flow it must still carry, or
  a gate (sessions up). Verdicts are never kinder than the grade: "ready" needs every probe of
  the action measured and refused and every legitimate route or flow of that action working.
- Coordination and global validation come from live state: the lab's registry (IRRd, whois
  queries for the aut-num, its contacts and route objects), the prefixes the learner's router
  originates (its BGP table) and the ROAs the lab's RTR cache serves (origin validation).

Thresholds (the same three words as the Observatory; the numbers are ours, see
docs/readiness.md): ready = 100 % (nothing got through, nothing missing), aspiring = at least
`ASPIRING_SHARE` of the probes refused or prefixes covered, lagging = below that. An action the
lab cannot measure (no probe of that kind, no registry, no RPKI cache) is "not assessed", with
the reason: never a verdict made up.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from ipaddress import ip_network
from typing import Any

from manrs_lab import irr_registry, registry_rules, roa
from manrs_lab.errors import ExecError, LabError
from manrs_lab.grader.report import CheckResult, GradeReport
from manrs_lab.progress import Progress
from manrs_lab.running import RunningLab
from manrs_lab.spec.lab import Check
from manrs_lab.spec.loader import Lab
from manrs_lab.spec.topology import Role as NodeRole
from manrs_lab.state import canonical_prefix

ASPIRING_SHARE = 0.8  # at least this share refused / covered: aspiring; below: lagging

ACTION_NAMES = {
    1: "Filtering",
    2: "Anti-spoofing",
    3: "Coordination",
    4: "Global validation",
}
ACTION_QUESTIONS = {
    1: "leaks and hijacks your AS propagated",
    2: "spoofed packets your AS forwarded",
    3: "contacts others can find in the registry",
    4: "your prefixes with route objects and valid ROAs",
}


class Verdict(StrEnum):
    READY = "ready"
    ASPIRING = "aspiring"
    LAGGING = "lagging"
    NOT_ASSESSED = "not assessed"


RANK = {Verdict.LAGGING: 0, Verdict.ASPIRING: 1, Verdict.READY: 2}


class Role(StrEnum):
    REFUSE = "refuse"  # a harmful probe (leak, hijack, bogon, spoofed packet): must not get through
    CARRY = "carry"  # a legitimate route or flow: must still get through (no over-filtering)
    GATE = "gate"  # a precondition (sessions up, caches connected): not an action's evidence
    CONTEXT = "context"  # what a lab's story expects (a hijack that does take effect): neither
    # A registry rule (MANRS Actions 3 and 4) that the report also applies itself, with the same
    # code (`registry_rules`); where a lab grades it, a failed check keeps the action from ready.
    RULE = "rule"


# Check kind -> (MANRS action, role). By kind, not per check in lab.yaml: the kind says what was
# measured (a route probe, spoofed packets), so every lab gets a report without its author
# tagging anything, and a new check kind must be classified here (a unit test lists every
# registered kind). Route-origin validation (dropping RPKI-invalid routes) is Action 1: it
# keeps hijacks from propagating; Action 4 is publishing one's own data (ROAs, route objects),
# measured from the registry and the RTR cache, not from checks.
CHECK_KINDS: dict[str, tuple[int | None, Role]] = {
    # Action 1, harmful routes that must not be accepted or passed on
    "probe_filtered": (1, Role.REFUSE),
    "probe_not_accepted": (1, Role.REFUSE),
    "bad_route_dropped": (1, Role.REFUSE),
    "max_prefix_enforced": (1, Role.REFUSE),
    "leak_not_propagated": (1, Role.REFUSE),
    "leak_not_exported": (1, Role.REFUSE),
    "probe_not_exported": (1, Role.REFUSE),
    "rs_violation_dropped": (1, Role.REFUSE),
    "rs_prefix_limit": (1, Role.REFUSE),
    "rpki_invalid_dropped": (1, Role.REFUSE),
    "rpki_invalid_routes_absent": (1, Role.REFUSE),
    "hijack_invalid_by_roa": (1, Role.REFUSE),
    # `routes_from_learner` with `exact` (the default) fails on any route the neighbour should
    # not get from the learner: a leak detector. Without `exact` it only asks for legitimate
    # routes (see `classify`).
    "routes_from_learner": (1, Role.REFUSE),
    # Action 1, legitimate routes that must still flow
    "probe_received": (1, Role.CARRY),
    "good_route_accepted": (1, Role.CARRY),
    "probe_accepted": (1, Role.CARRY),
    "rs_route_accepted": (1, Role.CARRY),
    "max_prefix_not_reached": (1, Role.CARRY),
    "legit_routes_present": (1, Role.CARRY),
    "route_received": (1, Role.CARRY),
    "route_with_path": (1, Role.CARRY),
    "forwarding_paths": (1, Role.CARRY),
    # Action 2
    "spoofed_packets_dropped": (2, Role.REFUSE),
    "packets_delivered": (2, Role.CARRY),
    "ping_replies": (2, Role.CARRY),
    # gates
    "bgp_sessions_established": (None, Role.GATE),
    "bgp_sessions_alive": (None, Role.GATE),
    "rpki_cache_connected": (None, Role.GATE),
    "sessions_restored": (None, Role.GATE),
    "forwarding_ready": (None, Role.GATE),
    "rs_limit_reset": (None, Role.GATE),
    # Whether passing is good depends on the lab's story: hijack-anatomy's steps expect a
    # hijack to win (traffic ends at the attacker) before the learner stops it. Action 4's
    # "your prefix is RPKI-valid" is measured from the RTR cache itself (`validation_action`).
    "best_path_origin": (None, Role.CONTEXT),
    "covering_route_origin": (None, Role.CONTEXT),
    "traffic_ends_at": (None, Role.CONTEXT),
    "origin_announces_only": (None, Role.CONTEXT),
    "route_rpki_state": (None, Role.CONTEXT),
    # Registry content (the coordination lab): Actions 3 and 4 are measured from the registry
    # itself with the grader's own rules (`registry_rules`: `coordination_action`,
    # `validation_action`); in a lab that grades them, each failed check of these kinds also
    # keeps its action from ready, named in the evidence (the incident report is graded only).
    "incident_reported": (3, Role.RULE),
    "registry_contacts_resolve": (3, Role.RULE),
    "registry_abuse_contact": (3, Role.RULE),
    "originated_routes_registered": (4, Role.RULE),
    "route_objects_current": (4, Role.RULE),
    # The irr-and-roa and manrs-ready labs: a filter built from the registry is Action 1
    # filtering; the route objects and ROAs the learner publishes (its own, or a customer's
    # carved from its space) are Action 4 rules: a ROA the grade refuses (maxLength too loose)
    # keeps Action 4 from ready even though the prefix is RPKI-valid.
    "registry_answers": (None, Role.GATE),
    "filter_matches_registry": (1, Role.REFUSE),
    "registry_route_object": (4, Role.RULE),
    "roa_authorizes": (4, Role.RULE),
}


def classify(check: Check, neighbours: frozenset[str] | None = None) -> tuple[int | None, Role]:
    """The check's MANRS action and role. `neighbours`: the learner's; a probe announced by
    another node (an attacker two ASes away, grading whether the upstream drops a hijack of the
    learner's prefix) measures someone else's filtering, not the learner's: context."""
    try:
        action, role = CHECK_KINDS[check.check]
    except KeyError:
        raise LabError(
            f"check {check.id}: kind {check.check!r} has no MANRS action in "
            "manrs_lab.readiness.CHECK_KINDS"
        ) from None
    if check.check == "routes_from_learner" and check.params.get("exact", True) is False:
        role = Role.CARRY
    if (
        neighbours is not None
        and check.probe is not None
        and check.probe.announce.node not in neighbours
        and role in (Role.REFUSE, Role.CARRY)
    ):
        return None, Role.CONTEXT
    return action, role


def neighbours_of(lab: Lab) -> frozenset[str]:
    """The learner and the nodes on a link with it: probes from them enter its router."""
    learner = lab.spec.learner
    return frozenset({learner, *(remote.node for _, remote in lab.topology.links_of(learner))})


# -- the report ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """One measurement: a probe and what happened to it, or a registry / RPKI fact."""

    what: str
    outcome: str  # refused, got through, not measured, carried, lost, found, missing...
    good: bool | None  # None: neither (not measured)
    detail: str = ""
    check: str | None = None  # the grader's check id, when it comes from one


@dataclass(frozen=True)
class ActionReport:
    action: int
    name: str
    verdict: Verdict
    summary: str  # "15 of 18 probes refused"
    share: float | None = None  # refused / covered share, 0..1 (None: not assessed)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class ReadinessReport:
    lab: str
    instance: str
    asn: int
    router: str
    generated: str
    grade_seed: int
    grade_points: int
    grade_max_points: int
    grade_passed: bool
    registry: str | None
    actions: list[ActionReport]

    @property
    def ready(self) -> bool:
        """Every assessed action is ready (and at least one was assessed)."""
        assessed = [a for a in self.actions if a.verdict is not Verdict.NOT_ASSESSED]
        return bool(assessed) and all(a.verdict is Verdict.READY for a in assessed)

    def action(self, number: int) -> ActionReport:
        for a in self.actions:
            if a.action == number:
                return a
        raise KeyError(number)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ready"] = self.ready
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReadinessReport:
        fields = {k: v for k, v in data.items() if k not in ("actions", "ready")}
        actions = [
            ActionReport(
                **{
                    **{k: v for k, v in a.items() if k not in ("verdict", "evidence")},
                    "verdict": Verdict(a["verdict"]),
                    "evidence": [Evidence(**e) for e in a["evidence"]],
                }
            )
            for a in data["actions"]
        ]
        return cls(**fields, actions=actions)


# -- verdicts -----------------------------------------------------------------------------
def share_verdict(share: float) -> Verdict:
    if share >= 1.0:
        return Verdict.READY
    if share >= ASPIRING_SHARE:
        return Verdict.ASPIRING
    return Verdict.LAGGING


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


# Words for a harmful probe's fate: (failed, passed); an "exactly these routes" check's is a leak.
OUTCOMES = {False: ("got through", "refused"), True: ("leaked", "no leak")}

# What `routes_from_learner` says of a route the observer should not have (grader/checks/policy.py).
LEAK_WORDS = "routes it should not"


def _missing_only(result: CheckResult, chk: Check) -> bool:
    return (
        chk.check == "routes_from_learner"
        and not result.passed
        and not result.skipped
        and LEAK_WORDS not in result.message
    )


def _detail(result: CheckResult) -> str:
    return result.message if not result.passed else result.evidence


def probe_action(
    action: int, lab: Lab, grade: GradeReport, what: str, kind_of_probe: str
) -> ActionReport:
    """Action 1 or 2 from a grading run: `what` names the probes ("route probes")."""
    by_id = {c.id: c for c in lab.spec.checks}
    near = neighbours_of(lab)
    refuse: list[CheckResult] = []
    carry: list[CheckResult] = []
    for result in grade.checks:
        chk = by_id.get(result.id)
        if chk is None:
            continue
        act, role = classify(chk, near)
        if act != action:
            continue
        (refuse if role is Role.REFUSE else carry).append(result)
    # An "exactly these routes" check that failed only for missing routes leaked nothing: it
    # counts as refused, and as a legitimate route lost.
    missing_only = {r.id for r in refuse if _missing_only(r, by_id[r.id])}
    carry += [r for r in refuse if r.id in missing_only]
    name = ACTION_NAMES[action]
    evidence = []
    for r in refuse:
        if r.skipped:
            outcome = "not measured"
        elif r.id in missing_only:
            outcome = "no leak, routes missing"
        else:
            outcome = OUTCOMES[by_id[r.id].check == "routes_from_learner"][r.passed]
        good = None if r.skipped else r.passed
        evidence.append(Evidence(r.title, outcome, good, _detail(r), r.id))
    for r in carry:
        if r.id in missing_only:
            continue
        outcome = "not measured" if r.skipped else ("carried" if r.passed else "lost")
        good = None if r.skipped else r.passed
        evidence.append(Evidence(r.title, outcome, good, _detail(r), r.id))
    if not refuse:
        return ActionReport(
            action,
            name,
            Verdict.NOT_ASSESSED,
            f"not assessed: none of this lab's {kind_of_probe} go through your router",
        )
    measured = [r for r in refuse if not r.skipped]
    if not measured:
        why = refuse[0].message.removeprefix("skipped: ")
        return ActionReport(
            action,
            name,
            Verdict.NOT_ASSESSED,
            f"not measured: the grader could not send its {what} ({why})",
            evidence=evidence,
        )
    refused = [r for r in refuse if r.passed or r.id in missing_only]
    # Unmeasured probes count as not refused: "ready" needs every one measured.
    share = len(refused) / len(refuse)
    verdict = share_verdict(share)
    summary = f"{len(refused)} of {len(refuse)} {what} refused ({_percent(share)})"
    unmeasured = len(refuse) - len(measured)
    if unmeasured:
        summary += f"; {unmeasured} not measured"
    broken = [r for r in carry if not r.passed and not r.skipped]
    if broken:
        summary += f"; but {len(broken)} of {len(carry)} legitimate routes or flows lost too"
        if verdict is Verdict.READY:
            verdict = Verdict.ASPIRING
    gates = [
        r for r in grade.checks if r.id in by_id and classify(by_id[r.id], near)[1] is Role.GATE
    ]
    failed_gates = [g for g in gates if not g.passed]
    if failed_gates and verdict is Verdict.READY:
        verdict = Verdict.ASPIRING
        summary += f"; {failed_gates[0].title.lower()}: failed"
    return ActionReport(action, name, verdict, summary, share, evidence)


@dataclass(frozen=True)
class RegistryFacts:
    """What the lab's registry says about the AS, judged by the grader's rules
    (`registry_rules`; read by `registry_facts`)."""

    aut_num: bool
    last_modified: str = ""
    domain: str | None = None  # the AS's domain the mailboxes were judged against
    domain_from: str = ""  # where that domain comes from
    contact_problems: list[str] = field(default_factory=list)
    contacts_good: list[str] = field(default_factory=list)  # "tech-c X (role, mail)"
    abuse_problems: list[str] = field(default_factory=list)
    abuse_good: list[str] = field(default_factory=list)  # "irt X, abuse-mailbox M"
    route_origins: dict[str, list[int]] = field(default_factory=dict)  # prefix -> origins
    stale_route_objects: list[str] = field(default_factory=list)


def graded_rules(lab: Lab, grade: GradeReport, action: int) -> list[CheckResult]:
    """The grading run's results of the registry-rule checks of `action` (Role.RULE)."""
    by_id = {c.id: c for c in lab.spec.checks}
    return [
        r for r in grade.checks if r.id in by_id and classify(by_id[r.id]) == (action, Role.RULE)
    ]


def _graded_evidence(graded: list[CheckResult]) -> tuple[list[Evidence], list[CheckResult]]:
    """Evidence items for the graded rule checks, and those that did not pass."""
    evidence = []
    for r in graded:
        outcome = "not measured" if r.skipped else ("check passed" if r.passed else "check failed")
        good = None if r.skipped else r.passed
        evidence.append(Evidence(r.title, outcome, good, _detail(r), r.id))
    return evidence, [r for r in graded if not r.passed]


def _cap_by_grade(verdict: Verdict, summary: str, failed: list[CheckResult]) -> tuple[Verdict, str]:
    """Never kinder than the grade: a failed graded check of the action keeps it from ready."""
    if not failed:
        return verdict, summary
    if verdict is Verdict.READY:
        verdict = Verdict.ASPIRING
    names = ", ".join(r.id for r in failed)
    return verdict, f"{summary}; graded check{'s' if len(failed) > 1 else ''} failed: {names}"


def _good_item(text: str, outcome: str) -> Evidence:
    """`tech-c X (role, mail)` -> Evidence(what='tech-c X', detail='role, mail')."""
    what, _, rest = text.partition(" (")
    return Evidence(what, outcome, True, rest.removesuffix(")"))


def coordination_action(
    asn: int,
    registry: str | None,
    facts: RegistryFacts | None,
    graded: list[CheckResult] | None = None,
) -> ActionReport:
    """Action 3 by the coordination lab's rules (`registry_rules`): contacts that resolve, are
    the AS's own, reach its domain, a NOC role among tech-c; an irt abuse contact at its domain.
    `graded`: the lab's own checks of these rules, if it grades them."""
    name = ACTION_NAMES[3]
    if registry is None or facts is None:
        return ActionReport(3, name, Verdict.NOT_ASSESSED, "not assessed: this lab has no registry")
    checks, failed = _graded_evidence(graded or [])
    if not facts.aut_num:
        return ActionReport(
            3,
            name,
            Verdict.LAGGING,
            f"AS{asn} has no aut-num object in the registry: nobody can look up its contacts",
            0.0,
            [Evidence(f"aut-num AS{asn}", "missing", False, f"whois AS{asn}: no entries"), *checks],
        )
    evidence = [
        Evidence(
            f"aut-num AS{asn}",
            "found",
            True,
            f"last modified {facts.last_modified}" if facts.last_modified else "",
        )
    ]
    if facts.domain:
        evidence.append(Evidence("your domain", facts.domain, True, facts.domain_from))
    evidence += [_good_item(g, "reachable") for g in facts.contacts_good]
    evidence += [Evidence("contact", "problem", False, p) for p in facts.contact_problems]
    evidence += [
        Evidence(g.partition(",")[0], "reachable", True, g.partition(", ")[2])
        for g in facts.abuse_good
    ]
    evidence += [Evidence("abuse contact", "problem", False, p) for p in facts.abuse_problems]
    evidence += checks
    needs = [
        (
            "NOC contacts (admin-c, tech-c: yours, at your domain, a role)",
            not facts.contact_problems,
        ),
        (
            "an abuse contact (an irt with an abuse-mailbox at your domain)",
            not facts.abuse_problems,
        ),
    ]
    met = [n for n, ok in needs if ok]
    missing = [n for n, ok in needs if not ok]
    share = len(met) / len(needs)
    verdict = share_verdict(share) if met else Verdict.LAGGING
    if missing and met:
        verdict = Verdict.ASPIRING
    summary = f"aut-num AS{asn}" + (
        f"; missing: {'; '.join(missing)}" if missing else "; NOC and abuse contacts reachable"
    )
    verdict, summary = _cap_by_grade(verdict, summary, failed)
    return ActionReport(3, name, verdict, summary, share, evidence)


def validation_action(
    asn: int,
    *,
    originated: list[str],
    registry: str | None,
    facts: RegistryFacts | None,
    rpki: dict[str, tuple[str, str]] | None,
    no_rpki_reason: str = "this lab has no RPKI cache",
    graded: list[CheckResult] | None = None,
) -> ActionReport:
    """`rpki`: prefix -> (RPKI state, why) under the ROAs the lab's cache serves; None: no cache.
    The route-object half follows the coordination lab's rules (`registry_rules`): an exact
    route object with the AS as origin for every originated prefix, and no stale object;
    `graded`: the lab's own checks of these rules, if it grades them."""
    name = ACTION_NAMES[4]
    if not originated:
        return ActionReport(
            4, name, Verdict.NOT_ASSESSED, f"not assessed: AS{asn} originates no prefix"
        )
    evidence: list[Evidence] = []
    halves: list[tuple[str, float]] = []
    notes: list[str] = []
    if registry is None or facts is None:
        notes.append("route objects not assessed: this lab has no registry")
    else:
        covered = 0
        for prefix in originated:
            origins = facts.route_origins.get(prefix, [])
            ok = asn in origins
            covered += ok
            if ok:
                detail = f"route object with origin AS{asn}"
            elif origins:
                detail = "route object(s) with origin " + ", ".join(f"AS{o}" for o in origins)
            else:
                detail = "no route object for this exact prefix"
            evidence.append(
                Evidence(f"route object {prefix}", "found" if ok else "missing", ok, detail)
            )
        share = covered / len(originated)
        halves.append(("route objects", share))
        notes.append(f"{covered} of {len(originated)} prefixes with route objects")
        evidence += [Evidence("route object", "stale", False, p) for p in facts.stale_route_objects]
        if facts.stale_route_objects:
            notes.append(f"{len(facts.stale_route_objects)} stale route object(s)")
    if rpki is None:
        notes.append(f"ROAs not assessed: {no_rpki_reason}")
    else:
        valid = 0
        for prefix in originated:
            state, why = rpki.get(prefix, ("not found", "no ROA covers it"))
            ok = state == "valid"
            valid += ok
            evidence.append(Evidence(f"ROA for {prefix}", f"RPKI {state}", ok, why))
        share = valid / len(originated)
        halves.append(("ROAs", share))
        notes.append(f"{valid} of {len(originated)} prefixes RPKI-valid")
    if not halves:
        why = "; ".join(n.split(" not assessed: ")[1] for n in notes)
        return ActionReport(4, name, Verdict.NOT_ASSESSED, f"not assessed: {why}", None, evidence)
    checks, failed = _graded_evidence(graded or [])
    evidence += checks
    # The weaker half decides: an Observatory-style "ready" needs both registered.
    share = min(s for _, s in halves)
    verdict = share_verdict(share)
    if verdict is Verdict.READY and facts is not None and facts.stale_route_objects:
        verdict = Verdict.ASPIRING
    verdict, summary = _cap_by_grade(verdict, "; ".join(notes), failed)
    return ActionReport(4, name, verdict, summary, share, evidence)


def evaluate(
    lab: Lab,
    grade: GradeReport,
    *,
    asn: int,
    router: str,
    originated: list[str],
    registry: str | None,
    facts: RegistryFacts | None,
    rpki: dict[str, tuple[str, str]] | None,
    no_rpki_reason: str = "this lab has no RPKI cache",
    generated: str | None = None,
) -> ReadinessReport:
    """The report from measurements already made (pure: unit tests feed recorded ones)."""
    spec = lab.spec
    if grade.lab != spec.id:
        raise LabError(f"a grade report of {grade.lab}, not of {spec.id}")
    ids = {c.id for c in grade.checks}
    missing = [c.id for c in spec.checks if c.id not in ids]
    if missing:
        raise LabError(
            "the readiness report needs a check of every task (this one graded part of the lab: "
            f"{', '.join(missing[:3])}{'...' if len(missing) > 3 else ''} did not run)"
        )
    actions = [
        probe_action(1, lab, grade, "route probes", "route probes (leaks, hijacks, bogons)"),
        probe_action(2, lab, grade, "spoofed-packet probes", "spoofed packets"),
        coordination_action(asn, registry, facts, graded_rules(lab, grade, 3)),
        validation_action(
            asn,
            originated=originated,
            registry=registry,
            facts=facts,
            rpki=rpki,
            no_rpki_reason=no_rpki_reason,
            graded=graded_rules(lab, grade, 4),
        ),
    ]
    return ReadinessReport(
        lab=grade.lab,
        instance=grade.instance,
        asn=asn,
        router=router,
        generated=generated or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        grade_seed=grade.seed,
        grade_points=grade.points,
        grade_max_points=grade.max_points,
        grade_passed=grade.passed,
        registry=registry,
        actions=actions,
    )


def auto_shown(lab: Lab) -> bool:
    """Shown after every full check of labs whose probes measure two MANRS actions or more
    (the capstones); other labs show it on demand."""
    actions = set()
    near = neighbours_of(lab)
    for chk in lab.spec.checks:
        action, role = classify(chk, near)
        if action is not None and role is Role.REFUSE:
            actions.add(action)
    return len(actions) >= 2


# -- live state ---------------------------------------------------------------------------
# The kinds whose `domain` parameter is the AS's domain in a lab that grades contacts.
DOMAIN_KINDS = ("registry_contacts_resolve", "registry_abuse_contact")


def lab_domain(lab: Lab) -> str | None:
    """The AS's domain as the lab grades it (its contact checks' `domain`), if it does."""
    for chk in lab.spec.checks:
        if chk.check in DOMAIN_KINDS and isinstance(chk.params.get("domain"), str):
            return str(chk.params["domain"])
    return None


def registry_facts(
    registry: str,
    asn: int,
    prefixes: list[str],
    query: registry_rules.Query,
    *,
    domain: str | None = None,
    router: str = "your router",
) -> RegistryFacts:
    """Whois the registry as anyone would, and judge it by the grader's rules: the aut-num,
    each contact and irt it names, the route objects for each originated prefix (IRRd's
    `!r<prefix>,o`: origins of exact route objects), the AS's route objects (none stale).
    `domain`: the AS's domain (a lab's checks say it); else its maintainer's upd-to domain."""
    origins: dict[str, list[int]] = {}
    for prefix in prefixes:
        answer = query(registry, f"!r{prefix},o")
        found = []
        if answer.startswith("A"):
            found = [
                int(w.removeprefix("AS"))
                for w in answer.splitlines()[1].split()
                if w.upper().startswith("AS") and w[2:].isdigit()
            ]
        origins[prefix] = found
    aut = registry_rules.find_aut_num(registry, asn, query)
    if aut is None:
        return RegistryFacts(aut_num=False, route_origins=origins)
    domain_from = "the domain this lab grades contacts against"
    if domain is None:
        domain = registry_rules.maintainer_domain(registry, aut, query)
        domain_from = "the domain of your maintainer's upd-to (this lab names none)"
    if domain is None:
        unknown = [
            f"AS{asn}'s domain is unknown (this lab names none and its maintainer has no upd-to): "
            "no mailbox can be shown to reach your network."
        ]
        contact_problems, abuse_problems = unknown, unknown
        good: list[str] = []
        abuse_good: list[str] = []
    else:
        contact_problems, good = registry_rules.contact_problems(registry, aut, domain, query)
        abuse_problems, irts = registry_rules.abuse_problems(registry, aut, domain, query)
        abuse_good = [f"irt {c.irt}, abuse-mailbox {', '.join(c.mailboxes)}" for c in irts]
    objects = registry_rules.route_objects(registry, aut, asn, query)
    announced = {ip_network(p) for p in prefixes}
    stale = registry_rules.stale_route_objects(
        objects, asn, announced, router, "its BGP table originates no such route"
    )
    return RegistryFacts(
        aut_num=True,
        last_modified=aut.first("last-modified"),
        domain=domain,
        domain_from=domain_from if domain else "",
        contact_problems=contact_problems,
        contacts_good=good,
        abuse_problems=abuse_problems,
        abuse_good=abuse_good,
        route_origins=origins,
        stale_route_objects=stale,
    )


def originated_prefixes(running: RunningLab, node: str) -> list[str]:
    """Prefixes the router originates itself (routes with no peer), from its BGP table."""
    router = running.router(node)
    return sorted(
        {canonical_prefix(r.prefix) for r in router.routes() if r.peer is None},
        key=lambda p: (":" in p, p),
    )


def rpki_states(
    running: RunningLab, asn: int, prefixes: list[str]
) -> dict[str, tuple[str, str]] | None:
    """Each prefix's RPKI state under the ROAs the lab's cache serves; None without a cache."""
    caches = [n.name for n in running.lab.topology.nodes.values() if n.role is NodeRole.RTR]
    if not caches:
        return None
    vrps = [v for cache in caches for v in running.rtr(cache).vrps()]
    return {
        p: (str(roa.rov_state(p, asn, vrps)), roa.explain_state(p, asn, vrps)) for p in prefixes
    }


def assess(running: RunningLab, grade: GradeReport, registry: str | None = None) -> ReadinessReport:
    """The report for a running lab from a full grading run of it, with live registry and
    RPKI state. `registry`: the lab's registry name (default: the lab's own, if it has one)."""
    spec = running.lab.spec
    node = spec.learner
    asn = running.lab.topology.nodes[node].asn
    if asn is None:
        raise LabError(f"{node}, the learner's router, has no AS number")
    if registry is None:
        registry = getattr(running, "registry", None)
    try:
        originated = originated_prefixes(running, node)
        rpki = rpki_states(running, asn, originated)
    except ExecError as exc:
        raise LabError(f"could not read {node}'s state for the readiness report: {exc}") from exc
    facts = (
        registry_facts(
            registry,
            asn,
            originated,
            irr_registry.query,
            domain=lab_domain(running.lab),
            router=node,
        )
        if registry is not None
        else None
    )
    return evaluate(
        running.lab,
        grade,
        asn=asn,
        router=node,
        originated=originated,
        registry=registry,
        facts=facts,
        rpki=rpki,
    )


# -- text ---------------------------------------------------------------------------------
VERDICT_STYLE = {
    Verdict.READY: "green",
    Verdict.ASPIRING: "yellow",
    Verdict.LAGGING: "red",
    Verdict.NOT_ASSESSED: "dim",
}
MAX_SHOWN = 5  # problems listed per action in text (the JSON has them all)


def check_and_assess(
    name: str | None,
    progress: Progress,
    *,
    seed: int | None = None,
    registry: str | None = None,
) -> tuple[GradeReport, ReadinessReport]:
    """On demand: grade the whole lab (real probes), then read the registry and the RPKI, with
    the instance's lock held throughout (nobody changes it in between)."""
    from manrs_lab import operations  # noqa: PLC0415 - operations imports the grader, not us

    if registry is not None:
        irr_registry.load(registry)  # a registry that is not running: said before grading
    with operations.exclusive(name, "a readiness report", progress) as running:
        grade = operations.grade_exclusive(running, progress, seed=seed)
        progress.step("reading the registry and the RPKI state for the readiness report")
        return grade, assess(running, grade, registry)


def problems(action: ActionReport) -> list[Evidence]:
    """What keeps an action from ready: evidence that went wrong or was not measured."""
    return [e for e in action.evidence if e.good is not True]


def text_lines(report: ReadinessReport) -> list[tuple[str, str, str, str]]:
    """(action, verdict, share, summary) rows, for a table."""
    rows = []
    for a in report.actions:
        share = "-" if a.share is None else _percent(a.share)
        rows.append((f"{a.action}. {a.name}", str(a.verdict), share, a.summary))
    return rows


DETAIL_CHARS = 200  # text output: each problem's detail, cut (the JSON has it whole)


def shorten(text: str, limit: int = DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
