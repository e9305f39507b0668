"""The readiness report's verdicts, on grading runs and whois answers recorded from the real
programs (tests/fixtures/capture_readiness.py: the capstone checked in five states, a lab
registry's answers), never on invented results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manrs_lab import readiness
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import LabError
from manrs_lab.grader.registry import check_names, get_check
from manrs_lab.grader.report import CheckResult, GradeReport, TaskResult
from manrs_lab.readiness import Verdict
from manrs_lab.roa import explain_state, rov_state
from manrs_lab.spec.loader import lab_ids, load_lab

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readiness"
CAPSTONE = load_lab("manrs-capstone")
EDGE_PREFIXES = ["198.18.0.0/24", "2001:db8::/48"]
STATES = ["unsolved", "solved", "peer-ipv6-spoofing", "peer-dropped", "no-spoofing-filters"]
WHOIS: dict[str, str] = json.loads((FIXTURES / "whois.json").read_text())


def recorded(state: str) -> GradeReport:
    data = json.loads((FIXTURES / f"manrs-capstone-{state}.json").read_text())
    return GradeReport(
        data["lab"],
        data["instance"],
        data["seed"],
        data["seconds"],
        [TaskResult(**t) for t in data["tasks"]],
        [CheckResult(**c) for c in data["checks"]],
    )


def replayed_whois(registry: str, text: str) -> str:
    assert registry == "lab-registry"
    return WHOIS[text]


def report(
    state: str, *, registry: bool = False, rpki: dict[str, tuple[str, str]] | None = None
) -> readiness.ReadinessReport:
    facts = (
        readiness.registry_facts("lab-registry", 64500, EDGE_PREFIXES, replayed_whois)
        if registry
        else None
    )
    return readiness.evaluate(
        CAPSTONE,
        recorded(state),
        asn=64500,
        router="edge",
        originated=EDGE_PREFIXES,
        registry="lab-registry" if registry else None,
        facts=facts,
        rpki=rpki,
    )


# -- classification -------------------------------------------------------------------------
def test_every_check_kind_has_a_manrs_action():
    # The project's own kinds (other unit tests register test-only ones in the same registry).
    builtin = [
        n for n in check_names() if get_check(n).fn.__module__.startswith("manrs_lab.grader.")
    ]
    assert sorted(readiness.CHECK_KINDS) == builtin


def test_every_labs_checks_classify_and_only_final_labs_show_it_after_a_check():
    shown = set()
    for lab_id in lab_ids():
        lab = load_lab(lab_id)
        near = readiness.neighbours_of(lab)
        for chk in lab.spec.checks:
            readiness.classify(chk, near)
        if readiness.auto_shown(lab):
            shown.add(lab_id)
    # The capstones (Actions 1 and 2) and manrs-ready (all four): their probes measure two
    # actions or more.
    assert shown == {"manrs-capstone", "manrs-capstone-bird", "manrs-ready"}


def test_a_probe_that_does_not_enter_the_learners_router_is_not_its_filtering():
    # roa-publishing: evil announces the learner's prefix to upstream1; upstream1's ROV drops
    # it (or not). The learner's filters are not what that measures.
    lab = load_lab("roa-publishing")
    near = readiness.neighbours_of(lab)
    probes = [c for c in lab.spec.checks if c.probe is not None]
    assert probes
    assert {readiness.classify(c, near)[1] for c in probes} == {readiness.Role.CONTEXT}


def test_exact_route_set_is_a_leak_probe_and_a_partial_one_legitimate_routes():
    checks = {c.id: c for c in CAPSTONE.spec.checks}
    assert readiness.classify(checks["transit-receives-ours-only"]) == (1, readiness.Role.REFUSE)
    assert readiness.classify(checks["customer-routes-reach-transit"]) == (
        1,
        readiness.Role.CARRY,
    )
    assert readiness.classify(checks["cust1-spoofed-dropped"]) == (2, readiness.Role.REFUSE)
    assert readiness.classify(checks["cust1-traffic-flows"]) == (2, readiness.Role.CARRY)
    assert readiness.classify(checks["sessions-up"]) == (None, readiness.Role.GATE)


# -- verdicts on the recorded capstone runs -------------------------------------------------
def test_unsolved_capstone_lags_on_filtering_and_anti_spoofing():
    r = report("unsolved")
    filtering, spoofing = r.action(1), r.action(2)
    assert filtering.verdict is Verdict.LAGGING
    # Only what BGP or the starting config refuse anyway: looped paths, and customers'
    # "exactly the full table" (nothing to leak to them).
    refused = {e.check for e in filtering.evidence if e.outcome in ("refused", "no leak")}
    assert refused == {
        "transit-looped-path-dropped",
        "peer-looped-path-dropped",
        "cust1-gets-full-table",
        "cust2-gets-full-table",
    }
    assert filtering.share == pytest.approx(4 / 20)
    leaked = {e.check for e in filtering.evidence if e.outcome in ("got through", "leaked")}
    assert {"transit-receives-ours-only", "peer-receives-ours-only"} <= leaked
    assert spoofing.verdict is Verdict.LAGGING
    assert spoofing.share == 0
    assert "0 of 8 spoofed-packet probes refused" in spoofing.summary
    assert not r.ready


def test_solved_capstone_is_ready_where_measured_and_says_what_it_could_not_measure():
    r = report("solved")
    assert r.action(1).verdict is Verdict.READY
    assert r.action(1).summary.startswith("20 of 20 route probes refused")
    assert r.action(2).verdict is Verdict.READY
    assert r.action(3).verdict is Verdict.NOT_ASSESSED
    assert r.action(3).summary == "not assessed: this lab has no registry"
    assert r.action(4).verdict is Verdict.NOT_ASSESSED
    assert "no registry" in r.action(4).summary
    assert "no RPKI cache" in r.action(4).summary
    assert r.ready  # every action it could assess


def test_most_spoofed_probes_refused_is_aspiring():
    r = report("peer-ipv6-spoofing")
    assert r.action(1).verdict is Verdict.READY
    spoofing = r.action(2)
    assert spoofing.verdict is Verdict.ASPIRING
    assert spoofing.share == pytest.approx(7 / 8)
    through = [e.check for e in spoofing.evidence if e.outcome == "got through"]
    assert through == ["peer-spoofed-ipv6-dropped"]


def test_no_anti_spoofing_lags_whatever_the_route_filters():
    r = report("no-spoofing-filters")
    assert r.action(1).verdict is Verdict.READY
    assert r.action(2).verdict is Verdict.LAGGING


def test_refusing_legitimate_routes_too_is_never_ready():
    """Dropping everything from the peer refuses every probe from it: the legitimate routes it
    loses keep the action from ready (the grade fails that task too)."""
    r = report("peer-dropped")
    filtering = r.action(1)
    assert filtering.verdict is Verdict.ASPIRING
    assert "legitimate routes or flows lost too" in filtering.summary
    outcomes = {e.check: e.outcome for e in filtering.evidence}
    # "cust1 receives exactly..." failed for missing routes only: no leak, but a loss.
    assert outcomes["cust1-gets-full-table"] == "no leak, routes missing"
    assert outcomes["peer-longest-accepted"] == "lost"
    assert not {"got through", "leaked"} & set(outcomes.values())
    # Traffic to the peer's hosts is lost with its routes: anti-spoofing is not ready either.
    assert r.action(2).verdict is Verdict.ASPIRING


@pytest.mark.parametrize("state", STATES)
def test_never_kinder_than_the_grade(state):
    """An action is ready only if every check the grader ran for it passed, and its tasks
    scored: the report is never weaker than the grade."""
    grade = recorded(state)
    r = report(state)
    by_id = {c.id: c for c in CAPSTONE.spec.checks}
    near = readiness.neighbours_of(CAPSTONE)
    for action in (1, 2):
        verdict = r.action(action).verdict
        mine = [c for c in grade.checks if readiness.classify(by_id[c.id], near)[0] == action]
        if verdict is Verdict.READY:
            assert all(c.passed for c in mine)
            tasks = {c.task for c in mine if c.task}
            assert all(grade.task(t).passed for t in tasks)
        if not all(c.passed for c in mine):
            assert verdict is not Verdict.READY


def test_a_partial_check_is_refused():
    grade = recorded("solved")
    partial = GradeReport(
        grade.lab,
        grade.instance,
        grade.seed,
        grade.seconds,
        grade.tasks[:1],
        [c for c in grade.checks if c.task in (None, "customer-filters")],
    )
    with pytest.raises(LabError, match="needs a check of every task"):
        readiness.evaluate(
            CAPSTONE,
            partial,
            asn=64500,
            router="edge",
            originated=EDGE_PREFIXES,
            registry=None,
            facts=None,
            rpki=None,
        )


def test_skipped_probes_are_not_measured_not_ready():
    grade = recorded("solved")
    gated = GradeReport(
        grade.lab,
        grade.instance,
        grade.seed,
        grade.seconds,
        grade.tasks,
        [
            c
            if c.task is None
            else CheckResult(
                c.id,
                c.title,
                c.task,
                False,
                True,
                "skipped: needs sessions-up to pass first",
                "",
                0,
            )
            for c in grade.checks
        ],
    )
    r = readiness.evaluate(
        CAPSTONE,
        gated,
        asn=64500,
        router="edge",
        originated=EDGE_PREFIXES,
        registry=None,
        facts=None,
        rpki=None,
    )
    assert r.action(1).verdict is Verdict.NOT_ASSESSED
    assert "needs sessions-up to pass first" in r.action(1).summary
    assert not r.ready


# -- registry and RPKI ----------------------------------------------------------------------
def test_coordination_from_the_registrys_answers():
    """The grader's rules (registry_rules): contacts of MAINT-EDGE at edge.lab.invalid (the
    domain of its maintainer's upd-to: the capstone grades no contacts), a role among tech-c,
    an irt named in a remarks line with an abuse-mailbox there."""
    r = report("solved", registry=True)
    coordination = r.action(3)
    assert coordination.verdict is Verdict.READY, coordination
    reachable = {e.what: e.detail for e in coordination.evidence if e.outcome == "reachable"}
    assert reachable == {
        "admin-c EDGE-NOC": "role, noc@edge.lab.invalid",
        "tech-c EDGE-NOC": "role, noc@edge.lab.invalid",
        "irt IRT-EDGE": "abuse-mailbox abuse@edge.lab.invalid",
    }
    domain = next(e for e in coordination.evidence if e.what == "your domain")
    assert domain.outcome == "edge.lab.invalid"
    assert "upd-to" in domain.detail


def test_a_customer_without_an_abuse_contact_is_aspiring_and_no_aut_num_lagging():
    cust1 = readiness.registry_facts("lab-registry", 64501, ["198.18.1.0/24"], replayed_whois)
    action = readiness.coordination_action(64501, "lab-registry", cust1)
    assert action.verdict is Verdict.ASPIRING
    assert "missing: an abuse contact" in action.summary
    assert any("publishes no abuse contact" in e.detail for e in action.evidence)
    nobody = readiness.registry_facts("lab-registry", 64599, [], replayed_whois)
    assert not nobody.aut_num
    assert readiness.coordination_action(64599, "lab-registry", nobody).verdict is Verdict.LAGGING


def test_the_report_applies_the_grader_s_domain_and_is_never_kinder_than_a_failed_check():
    """A lab that grades contacts against a domain: the report judges mailboxes against it, and
    a failed graded check of Action 3 keeps the action from ready, named in the evidence."""
    facts = readiness.registry_facts(
        "lab-registry", 64500, EDGE_PREFIXES, replayed_whois, domain="other.lab.invalid"
    )
    action = readiness.coordination_action(64500, "lab-registry", facts)
    assert action.verdict is Verdict.LAGGING
    assert any(
        "not a mailbox at your domain other.lab.invalid" in p for p in facts.contact_problems
    )
    good = readiness.registry_facts("lab-registry", 64500, EDGE_PREFIXES, replayed_whois)
    failed = CheckResult(
        id="incident-reported",
        title="Every route another AS originates in your space is reported",
        task="report-incident",
        passed=False,
        skipped=False,
        message="no incident report",
        evidence="",
        seconds=0.1,
    )
    capped = readiness.coordination_action(64500, "lab-registry", good, [failed])
    assert capped.verdict is Verdict.ASPIRING
    assert "graded check failed: incident-reported" in capped.summary
    named = [e for e in capped.evidence if e.check == "incident-reported"]
    assert named
    assert named[0].good is False
    assert named[0].detail == "no incident report"


def test_route_objects_and_roas_the_weaker_half_decides():
    # The lab world registers 198.18.0.0/24 for AS64500, and 2001:db8:500::/48 rather than
    # the capstone's 2001:db8::/48.
    vrps = [Vrp("198.18.0.0/24", 24, 64500), Vrp("2001:db8::/32", 48, 64500)]
    rpki = {
        p: (str(rov_state(p, 64500, vrps)), explain_state(p, 64500, vrps)) for p in EDGE_PREFIXES
    }
    r = report("solved", registry=True, rpki=rpki)
    validation = r.action(4)
    assert validation.summary == (
        "1 of 2 prefixes with route objects; 1 stale route object(s); 2 of 2 prefixes RPKI-valid"
    )
    assert validation.share == 0.5
    assert validation.verdict is Verdict.LAGGING
    missing = [e.what for e in validation.evidence if e.good is False]
    assert missing == ["route object 2001:db8::/48", "route object"]
    stale = [e.detail for e in validation.evidence if e.outcome == "stale"]
    assert len(stale) == 1
    assert "route6 2001:db8:500::/48 origin AS64500" in stale[0]


def test_rpki_alone_without_a_registry():
    vrps = [Vrp("198.18.0.0/24", 24, 64500), Vrp("2001:db8::/48", 48, 64501)]
    rpki = {
        p: (str(rov_state(p, 64500, vrps)), explain_state(p, 64500, vrps)) for p in EDGE_PREFIXES
    }
    validation = report("solved", rpki=rpki).action(4)
    assert validation.verdict is Verdict.LAGGING
    assert "route objects not assessed: this lab has no registry" in validation.summary
    states = {e.what: e.outcome for e in validation.evidence}
    assert states == {
        "ROA for 198.18.0.0/24": "RPKI valid",
        "ROA for 2001:db8::/48": "RPKI invalid",
    }


def test_json_round_trip():
    r = report("peer-dropped", registry=True)
    data = json.loads(r.to_json())
    assert data["ready"] is False
    assert [a["verdict"] for a in data["actions"]] == ["aspiring", "aspiring", "ready", "lagging"]
    assert readiness.ReadinessReport.from_dict(data) == r


def test_contact_handles_are_never_sent_as_query_commands():
    """The learner writes its aut-num: a "handle" that is a whois command is not queried."""
    asked: list[str] = []
    key = "-r -T aut-num AS64500"
    aut_num = WHOIS[key].replace("tech-c:         EDGE-NOC", "tech-c:         !gAS64500")

    def whois(registry: str, text: str) -> str:
        asked.append(text)
        return aut_num if text == key else replayed_whois(registry, text)

    facts = readiness.registry_facts("lab-registry", 64500, EDGE_PREFIXES, whois)
    assert not any("!g" in a for a in asked)
    assert any(
        "tech-c !GAS64500 of AS64500 resolves to nothing" in p for p in facts.contact_problems
    )
    assert readiness.coordination_action(64500, "lab-registry", facts).verdict is Verdict.ASPIRING
