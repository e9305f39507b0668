"""coordination (MANRS Action 3): the checks' parsing rules without daemons, and the lab on real
daemons and the real registry (IRRd, PostgreSQL, Redis, bgpq4): unsolved fails every task,
updates without the maintainer's password are refused, plausible wrong answers lose the right
task with the reason, the reference solution and a differently written correct one score full
marks.

The daemon tests share one instance (a registry takes ~4 s to start) and run in file order:
each submits the whole set of edge's objects it grades (an object sent replaces the old one);
route objects, which only a deletion removes, change in the order of the tests. About 25 s.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path

import pytest

from lab_reports import failed_ids, failed_tasks
from lab_support import leftovers, unique_instance
from manrs_lab import irr_registry, operations, readiness, registry_rules
from manrs_lab.grader.checks import contacts
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.irr_registry import updates
from manrs_lab.progress import SilentProgress
from manrs_lab.readiness import Verdict
from manrs_lab.running import RunningLab
from manrs_lab.runtime.netns import existing_namespaces

LAB = "coordination"
PASSWORD = "edge-lab-pw"
TASK_CHECKS = {
    "incident-reported",
    "contacts-resolve",
    "abuse-contact",
    "routes-registered",
    "no-stale-route-objects",
}
ABUSE = "routing-incidents@northwind.lab.invalid"


# -- parsing: no daemons -----------------------------------------------------------------------
WHOIS_ANSWER = """\
% This is the IRRd whois server.

aut-num:        AS64511
as-name:        NORTHWIND
remarks:        Abuse and security incidents
+               (hijacks): IRT-NORTHWIND
mnt-by:         MAINT-NORTHWIND, MAINT-OTHER
source:         LABIRR

role:           Northwind NOC
e-mail:         noc@northwind.lab.invalid
nic-hdl:        NW-NOC
"""


def test_whois_answers_parse_into_objects_with_continuations_and_lists():
    aut, role = registry_rules.parse_rpsl(WHOIS_ANSWER)
    assert (aut.cls, aut.key) == ("aut-num", "AS64511")
    assert aut.values("remarks") == ["Abuse and security incidents (hijacks): IRT-NORTHWIND"]
    assert aut.names("mnt-by") == ["MAINT-NORTHWIND", "MAINT-OTHER"]
    assert (role.cls, role.primary_key, role.key) == ("role", "NW-NOC", "Northwind NOC")


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("noc@edge.lab.invalid", True),
        ("first.last+tag@EDGE.lab.invalid", True),
        ("noc@edge.lab.invalid.example", False),  # another domain ending like ours
        ("noc@sub.edge.lab.invalid", False),  # not exactly the domain
        ("noc@gmail.example", False),
        ("noc.@edge.lab.invalid", False),  # not a valid local part
        ("no c@edge.lab.invalid", False),
        ("@edge.lab.invalid", False),
        ("edge.lab.invalid", False),
    ],
)
def test_a_contact_mailbox_is_a_valid_mailbox_at_exactly_the_domain(address, ok):
    assert registry_rules.mailbox_at(address, "edge.lab.invalid") is ok


def test_incident_lines_name_prefix_origin_and_mailbox():
    aut = registry_rules.parse_rpsl(
        "aut-num: AS64500\n"
        "remarks: Abuse: IRT-EDGE\n"
        "remarks: Incident: 198.18.0.0/25 (AS64511) -> Routing-Incidents@northwind.lab.invalid.\n"
        "remarks: incident 2001:db8::/49 from as64511 and AS64510\n"
    )[0]
    first, second = contacts.parse_reports(aut)
    assert first.prefixes == (ip_network("198.18.0.0/25"),)
    assert first.asns == (64511,)
    assert first.mailboxes == (ABUSE,)
    assert second.asns == (64511, 64510)
    assert second.mailboxes == ()


def test_updates_in_mail_format_split_passwords_changes_and_deletions():
    update = updates.parse_update(
        "password: one\n\n# a comment\nrole: R\nnic-hdl: R1\n\n"
        "route: 198.18.0.0/24\norigin: AS1\ndelete: stale\npassword: two\n"
    )
    assert update.passwords == ["one", "two"]
    assert update.changes == ["role: R\nnic-hdl: R1\n"]
    assert update.deletions == {"stale": ["route: 198.18.0.0/24\norigin: AS1\n"]}
    with pytest.raises(irr_registry.RegistryError, match="no RPSL objects"):
        updates.parse_update("password: x\n# nothing else\n")


# -- the lab on real daemons and the real registry ----------------------------------------------
MISSING = irr_registry.missing_programs()
registry_needed = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def running() -> Iterator[RunningLab]:
    name = unique_instance(LAB)
    result = operations.up(LAB, SilentProgress(), instance=name)
    try:
        yield result.running
    finally:
        operations.down(name, SilentProgress())
        problems = leftovers(name, list(result.running.lab.topology.nodes))
        if irr_registry.netns(name) in existing_namespaces():
            problems.append(f"namespace {irr_registry.netns(name)}")
        if irr_registry.registry_dir(name).exists():
            problems.append(str(irr_registry.registry_dir(name)))
        assert not problems, f"teardown left: {problems}"


@pytest.fixture(scope="module")
def saves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Notebook folders saved from the module's lab: `unsolved/` as it starts, `solved/` after
    the reference solution (lab.save()'s files: edge.conf and registry.rpsl)."""
    return tmp_path_factory.mktemp("saves")


def save(running: RunningLab, folder: Path) -> dict[str, Path]:
    from manrs_lab.notebook import replay  # noqa: PLC0415 - the notebook layer's

    return replay.save_configs(running, folder)


def graded(running: RunningLab) -> GradeReport:
    return grade(running, SilentProgress(), seed=5)


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


def submit(running: RunningLab, text: str, *passwords: str, delete: str | None = None):
    assert running.registry
    return irr_registry.submit(running.registry, text, list(passwords), delete_reason=delete)


def whois(running: RunningLab, query: str) -> str:
    assert running.registry
    return irr_registry.query(running.registry, query)


ROLE = """\
role:           {name}
address:        Lab Street 1, Lab City
phone:          +1 555 0101
e-mail:         {mail}
admin-c:        EE1-LAB
tech-c:         EE1-LAB
nic-hdl:        {handle}
mnt-by:         MAINT-EDGE
source:         LABIRR
"""
PERSON = """\
person:         Erin Edge
address:        Lab Street 1, Lab City
phone:          +1 555 0100
e-mail:         {mail}
nic-hdl:        EE1-LAB
mnt-by:         MAINT-EDGE
source:         LABIRR
"""
IRT = """\
irt:            {name}
address:        Lab Street 1, Lab City
e-mail:         security@edge.lab.invalid
abuse-mailbox:  {mail}
admin-c:        EE1-LAB
tech-c:         EE1-LAB
mnt-by:         MAINT-EDGE
source:         LABIRR
"""
AUT_NUM = """\
aut-num:        AS64500
as-name:        EDGE-NETWORKS
descr:          Edge Networks, Lab City
admin-c:        {admin}
tech-c:         {tech}
{remarks}mnt-by:         MAINT-EDGE
source:         LABIRR
"""


REPORT_V4 = f"incident 198.18.0.0/25 originated by AS64511 reported to {ABUSE}"
REPORT_V6 = f"incident 2001:db8::/49 originated by AS64511 reported to {ABUSE}"


def edge_objects(
    *,
    report: str = REPORT_V4,
    report_v6: str = REPORT_V6,
    tech: str = "EDGE-NOC",
    admin: str = "EE1-LAB",
    irt_mail: str = "abuse@edge.lab.invalid",
    role_mail: str = "noc@edge.lab.invalid",
    extra_remarks: tuple[str, ...] = (),
) -> str:
    remarks = "".join(
        f"remarks:        {line}\n"
        for line in ("Abuse and security incidents: IRT-EDGE", report, report_v6, *extra_remarks)
        if line
    )
    return "\n".join(
        [
            ROLE.format(name="Edge Networks NOC", mail=role_mail, handle="EDGE-NOC"),
            PERSON.format(mail="erin@edge.lab.invalid"),
            IRT.format(name="IRT-EDGE", mail=irt_mail),
            AUT_NUM.format(admin=admin, tech=tech, remarks=remarks),
        ]
    )


def assert_only_fails(report: GradeReport, checks: set[str]) -> None:
    assert failed_ids(report) == checks, [(c.id, c.message) for c in report.checks if not c.passed]


@registry_needed
@pytest.mark.daemons
def test_unsolved_lab_fails_every_task_with_what_is_stale(running, saves):
    save(running, saves / "unsolved")
    report = graded(running)
    assert_only_fails(report, TASK_CHECKS)
    assert report.points == 0
    text = messages(report)
    assert "transit holds 198.18.0.0/25 from AS64511" in text["incident-reported"]
    assert (
        "erin@oldhosting.lab.invalid: not a mailbox at your domain edge.lab.invalid"
        in (text["contacts-resolve"])
    )
    assert "tech-c JD9-LAB of AS64500 resolves to nothing" in text["contacts-resolve"]
    assert "AS64500 publishes no abuse contact" in text["abuse-contact"]
    assert "edge announces 2001:db8::/48, but `bgpq4 AS64500`" in text["routes-registered"]
    assert "route 198.18.0.0/24 with origin AS64503" in text["no-stale-route-objects"]

    # The readiness report judges by the same rules, and names the failed graded checks.
    ready = readiness.assess(running, report)
    coordination = ready.action(3)
    assert coordination.verdict is Verdict.LAGGING, coordination
    problems = " ".join(e.detail for e in coordination.evidence if e.good is False)
    assert "erin@oldhosting.lab.invalid: not a mailbox at your domain edge.lab.invalid" in problems
    assert "AS64500 publishes no abuse contact" in problems
    failed = {e.check for e in coordination.evidence if e.check and e.good is False}
    assert failed == {"incident-reported", "contacts-resolve", "abuse-contact"}
    validation = ready.action(4)
    assert validation.verdict is Verdict.LAGGING, validation
    assert validation.summary.startswith("1 of 2 prefixes with route objects; 1 stale")
    assert "graded checks failed: routes-registered, no-stale-route-objects" in validation.summary
    assert any(
        "route 198.18.0.0/24 with origin AS64503" in e.detail
        for e in validation.evidence
        if e.outcome == "stale"
    )


@registry_needed
@pytest.mark.daemons
def test_updates_without_the_maintainers_password_are_refused(running):
    before = whois(running, "-r AS64500")
    changed = AUT_NUM.format(admin="EE1-LAB", tech="EE1-LAB", remarks="")
    for passwords in ((), ("wrong-password",), ("transit-lab-pw",)):
        result = submit(running, changed, *passwords)
        assert not result.ok
        assert "Authorisation for aut-num AS64500 failed" in result.report
    # Edge's password does not open another network's objects either.
    theirs = whois(running, "-r AS64511").replace("IRT-NORTHWIND", "IRT-EDGE")
    theirs = "\n".join(line for line in theirs.splitlines() if not line.startswith("last-"))
    result = submit(running, theirs, PASSWORD)
    assert not result.ok
    assert "must be authenticated by one of: MAINT-NORTHWIND" in result.report
    assert whois(running, "-r AS64500") == before
    assert "IRT-NORTHWIND" in whois(running, "-r AS64511")


@registry_needed
@pytest.mark.daemons
def test_a_report_to_the_noc_instead_of_the_abuse_mailbox_fails_task_1(running):
    wrong = "incident 198.18.0.0/25 originated by AS64511 reported to noc@northwind.lab.invalid"
    assert submit(running, edge_objects(report=wrong), PASSWORD).ok
    report = graded(running)
    assert failed_tasks(report) == {"report-incident", "register-routes"}
    text = messages(report)["incident-reported"]
    assert "goes to noc@northwind.lab.invalid, its tech-c (role Northwind NOC) of AS64511" in text
    assert "the abuse-mailbox of the irt object" in text
    assert report.task("publish-contacts").points == 4


@registry_needed
@pytest.mark.daemons
def test_reporting_only_the_ipv4_hijack_fails_task_1(running):
    assert submit(running, edge_objects(report_v6=""), PASSWORD).ok
    report = graded(running)
    assert failed_tasks(report) == {"report-incident", "register-routes"}
    text = messages(report)["incident-reported"]
    assert "transit holds 2001:db8::/49 from AS64511, and no incident line" in text


@registry_needed
@pytest.mark.daemons
def test_blaming_a_network_that_did_nothing_or_the_wrong_prefix_fails_task_1(running):
    false_blame = (
        "incident 198.18.0.0/25 originated by AS64510 reported to abuse@carrier10.lab.invalid"
    )
    assert submit(running, edge_objects(extra_remarks=(false_blame,)), PASSWORD).ok
    text = messages(graded(running))["incident-reported"]
    assert "blames AS64510, but transit holds no route for your space from AS64510" in text
    assert submit(
        running, edge_objects(report=f"incident 198.18.0.0/24 AS64511 {ABUSE}"), PASSWORD
    ).ok
    text = messages(graded(running))["incident-reported"]
    assert "names 198.18.0.0/24, but what transit holds from AS64511 in your space is" in text


@registry_needed
@pytest.mark.daemons
def test_persons_only_or_mailboxes_elsewhere_fail_task_2(running):
    # tech-c a person (no NOC role), the abuse mailbox at a free-mail provider.
    objects = edge_objects(tech="EE1-LAB", irt_mail="edge-abuse@freemail.example")
    assert submit(running, objects, PASSWORD).ok
    report = graded(running)
    assert_only_fails(
        report, {"contacts-resolve", "abuse-contact", "routes-registered", "no-stale-route-objects"}
    )
    text = messages(report)
    assert "tech-c names only persons: publish your NOC as a role" in text["contacts-resolve"]
    assert (
        "abuse-mailbox edge-abuse@freemail.example: not a mailbox at your domain"
        in (text["abuse-contact"])
    )
    # A role whose mailbox is at a domain ending like ours is not ours either.
    objects = edge_objects(role_mail="noc@edge.lab.invalid.example")
    assert submit(running, objects, PASSWORD).ok
    report = graded(running)
    assert "abuse-contact" not in failed_ids(report)
    text = messages(report)["contacts-resolve"]
    assert "noc@edge.lab.invalid.example: not a mailbox at your domain" in text


@registry_needed
@pytest.mark.daemons
def test_route_objects_must_match_what_edge_originates(running):
    assert submit(running, edge_objects(), PASSWORD).ok
    wrong_origin = (
        "route6: 2001:db8::/48\ndescr: Edge\norigin: AS64510\nmnt-by: MAINT-EDGE\nsource: LABIRR\n"
    )
    assert submit(running, wrong_origin, PASSWORD).ok
    report = graded(running)
    assert failed_tasks(report) == {"register-routes"}
    text = messages(report)
    assert "edge announces 2001:db8::/48" in text["routes-registered"]
    assert "route6 2001:db8::/48 with origin AS64510" in text["no-stale-route-objects"]
    assert submit(running, wrong_origin, PASSWORD, delete="wrong origin").ok
    right = wrong_origin.replace("AS64510", "AS64500")
    unannounced = right.replace("2001:db8::/48", "2001:db8:0:8000::/49")
    assert submit(running, right + "\n" + unannounced, PASSWORD).ok
    report = graded(running)
    assert_only_fails(report, {"no-stale-route-objects"})
    text = messages(report)["no-stale-route-objects"]
    assert "route 198.18.0.0/24 with origin AS64503" in text
    assert "route6 2001:db8:0:8000::/49 origin AS64500 is registered, but edge does not" in text
    assert submit(running, unannounced, PASSWORD, delete="not announced").ok


@registry_needed
@pytest.mark.daemons
def test_reference_solution_gets_full_marks(running, saves):
    operations.solve(running.instance.name, SilentProgress())
    files = save(running, saves / "solved")
    assert set(files) == {"edge", "registry"}
    saved = files["registry"].read_text()
    # Exactly MAINT-EDGE's objects, no maintainer (its auth is filtered), no generated dates.
    objects = registry_rules.parse_rpsl(saved)
    assert {o.cls for o in objects} == {"aut-num", "role", "person", "irt", "route", "route6"}
    assert all(o.names("mnt-by") == ["MAINT-EDGE"] for o in objects)
    assert "last-modified" not in saved
    assert "AS64503" not in saved  # deleted by the solution
    report = graded(running)
    assert report.passed, [(c.id, c.message) for c in report.checks if not c.passed]
    assert report.points == report.max_points == 10
    assert "route 198.18.0.0/24" not in whois(running, "-r -T route -i origin AS64503")
    ready = readiness.assess(running, report)
    assert ready.action(3).verdict is Verdict.READY, ready.action(3)
    assert ready.action(4).verdict is Verdict.READY, ready.action(4)
    assert ready.action(4).summary.startswith("2 of 2 prefixes with route objects")
    assert ready.ready


@registry_needed
@pytest.mark.daemons
def test_a_correct_solution_written_differently_passes(running):
    # Other names, a role as admin-c too, the report worded otherwise, whois from edge.
    out = running.handle("edge").exec(["whois", "-h", irr_registry.LAB_WHOIS_HOST, "AS64511"])
    assert "IRT-NORTHWIND" in out.stdout
    objects = "\n".join(
        [
            ROLE.format(name="Edge Ops", mail="ops-team@edge.lab.invalid", handle="EDGEOPS-LAB"),
            IRT.format(name="IRT-EDGE-CERT", mail="cert@EDGE.lab.invalid"),
            AUT_NUM.format(
                admin="EDGEOPS-LAB",
                tech="EDGEOPS-LAB",
                remarks=(
                    "remarks:        report abuse to IRT-EDGE-CERT please\n"
                    f"remarks:        Incident: 198.18.0.0/25 (AS64511) -> {ABUSE.upper()}\n"
                    f"remarks:        INCIDENT 2001:db8:0::/49 AS64511 <{ABUSE}>\n"
                ),
            ),
        ]
    )
    assert submit(running, objects, PASSWORD).ok
    report = graded(running)
    assert report.passed, [(c.id, c.message) for c in report.checks if not c.passed]


@registry_needed
@pytest.mark.daemons
def test_the_notebooks_whois_and_registry_update_magics(running, tmp_path, capsys):
    from IPython.core.error import UsageError  # noqa: PLC0415 - the notebook layer's

    from manrs_lab.notebook import magics  # noqa: PLC0415
    from manrs_lab.notebook.session import Lab  # noqa: PLC0415

    Lab(LAB, instance=running.instance.name, start=False, notebook_dir=tmp_path)
    magics.whois("-r AS64511")
    assert "remarks:        Abuse and security incidents (hijacks, leaks, spam): IRT-NORTHWIND" in (
        capsys.readouterr().out
    )
    magics.registry_update("", "# YOUR CONFIGURATION HERE\n")
    assert "nothing sent to the registry" in capsys.readouterr().out
    role = ROLE.format(name="Edge Ops", mail="ops-team@edge.lab.invalid", handle="EDGEOPS-LAB")
    with pytest.raises(UsageError, match="Authorisation for role EDGEOPS-LAB failed"):
        magics.registry_update("", "password: not-edges\n\n" + role)
    magics.registry_update("", f"password: {PASSWORD}\n\n" + role.replace("Edge Ops", "Ops"))
    assert "role EDGEOPS-LAB: modify accepted" in capsys.readouterr().out
    assert graded(running).passed


def test_the_guide_and_hints_never_give_the_graded_answers():
    lab = operations.load_lab(LAB)
    guide = (lab.folder / "README.md").read_text()
    hints = " ".join(h for task in lab.spec.tasks for h in task.hints)
    for text in (guide, hints):
        assert ABUSE not in text  # the offender's abuse mailbox: found with whois only
        assert "AS64511 reported" not in text
        assert "198.18.0.0/25" not in text
        assert "2001:db8::/49" not in text
        assert "IRT-NORTHWIND" not in text


def replayed(folder: Path):
    from manrs_lab.notebook import replay  # noqa: PLC0415 - the notebook layer's

    outcome = replay.replay(operations.load_lab(LAB), folder, seed=5)
    assert outcome.error is None
    assert outcome.report is not None
    # Nothing left behind: no grading instance, registry or namespace.
    assert not [r for r in irr_registry.running() if "g-coordination" in r]
    assert not [n for n in existing_namespaces() if "g-coordination" in n]
    return outcome


@registry_needed
@pytest.mark.daemons
def test_autograde_replays_the_saved_registry_objects(saves):
    """nbgrader's replay: the registry starts from the lab's data, the saved objects of
    MAINT-EDGE are submitted with its password (deletions too), then graded."""
    unsolved = replayed(saves / "unsolved")
    assert failed_ids(unsolved.report) == TASK_CHECKS
    assert unsolved.report.points == 0
    assert unsolved.notes() == []
    solved = replayed(saves / "solved")
    assert solved.report.passed, solved.notes()
    assert solved.report.points == solved.report.max_points == 10
    assert solved.notes() == []


@registry_needed
@pytest.mark.daemons
def test_autograde_refuses_saved_objects_the_learner_could_not_have_made(saves, tmp_path):
    """A hostile saved file: the incident reported to a mailbox of the learner's choosing, and
    Northwind's irt changed to match it. Northwind's object is refused by the registry (edge's
    password does not maintain it), so task 1 fails; credentials, a mntner, other classes and
    text that is not RPSL are refused by the reader, named."""
    folder = tmp_path / ".manrs-lab" / LAB
    shutil.copytree(saves / "solved" / ".manrs-lab" / LAB, folder)
    mine = "hijack-desk@edge.lab.invalid"
    text = (folder / "registry.rpsl").read_text().replace(ABUSE, mine)
    text += f"""
irt:            IRT-NORTHWIND
address:        Northwind Way 11, Lab City
e-mail:         security@northwind.lab.invalid
abuse-mailbox:  {mine}
admin-c:        NW-NOC
tech-c:         NW-NOC
mnt-by:         MAINT-NORTHWIND
source:         LABIRR

role:           Sneaky
password:       edge-lab-pw
nic-hdl:        SNEAKY-LAB
mnt-by:         MAINT-EDGE
source:         LABIRR

mntner:         MAINT-EDGE
auth:           MD5-PW $1$x$y
mnt-by:         MAINT-EDGE
source:         LABIRR

inet-rtr:       rtr.edge.lab.invalid
source:         LABIRR

this is not rpsl
"""
    (folder / "registry.rpsl").write_text(text)
    outcome = replayed(tmp_path)
    assert failed_ids(outcome.report) == {"incident-reported"}
    assert outcome.report.points == 7
    notes = "\n".join(outcome.notes())
    assert "irt IRT-NORTHWIND: change refused by the registry" in notes
    assert "`password:` is never replayed" in notes
    assert "mntner objects are not replayed" in notes
    assert "inet-rtr objects are not replayed" in notes
    assert "is not RPSL" in notes
    assert len(outcome.notes()) == 5, notes


def test_a_saved_registry_file_is_data_with_limits(tmp_path):
    """No daemons: the reader's limits (size, object count, links) on the saved file."""
    from manrs_lab import registry_replay  # noqa: PLC0415

    lab = operations.load_lab(LAB)
    folder = tmp_path / ".manrs-lab" / LAB
    folder.mkdir(parents=True)
    path = folder / "registry.rpsl"
    path.write_text("x" * (300 * 1024))
    assert "at most" in str(registry_replay.read_saved(lab, tmp_path).refused[0])
    path.write_text("\n".join(f"role: R{i}\nnic-hdl: R{i}-LAB\n" for i in range(201)))
    saved = registry_replay.read_saved(lab, tmp_path)
    assert saved.objects == []
    assert "(at most 200): none replayed" in str(saved.refused[0])
    path.unlink()
    path.symlink_to("/etc/passwd")
    saved = registry_replay.read_saved(lab, tmp_path)
    assert saved.objects is None
    assert "symbolic link" in str(saved.refused[0])


def test_the_replay_sends_what_changed_and_deletes_what_the_learner_deleted():
    """No daemons: the plan from the lab's data to the saved objects."""
    from manrs_lab import registry_replay  # noqa: PLC0415

    data = (
        "mntner: MAINT-EDGE\nmnt-by: MAINT-EDGE\nsource: LABIRR\n\n"
        "route6: 2001:DB8::/48\norigin: AS64500\nmnt-by: MAINT-EDGE\nsource: LABIRR\n\n"
        "route: 198.18.0.0/24\norigin: AS64503\nmnt-by: MAINT-EDGE\nsource: LABIRR\n\n"
        "person: Erin\nnic-hdl: EE1-LAB\nmnt-by: MAINT-EDGE\nsource: LABIRR\n\n"
        "aut-num: AS64511\nmnt-by: MAINT-NORTHWIND\nsource: LABIRR\n"
    )
    saved = registry_rules.parse_rpsl(
        # as whois shows them: prefix written canonically, dates added
        "route6:  2001:db8::/48\norigin:  AS64500\nmnt-by:  MAINT-EDGE\nsource:  LABIRR\n"
        "last-modified: 2026-12-06T12:00:00Z\n\n"
        "person:  Erin Edge\nnic-hdl: EE1-LAB\nmnt-by:  MAINT-EDGE\nsource:  LABIRR\n"
    )
    changes, deletions = registry_replay.plan(data, saved, "MAINT-EDGE")
    # The route6 written otherwise is sent again (a no-op for the registry), never deleted.
    assert [o.describe() for o in changes] == ["route6 2001:db8::/48", "person Erin Edge"]
    # Not the mntner, not Northwind's aut-num, not the route6.
    assert [o.describe() for o in deletions] == ["route 198.18.0.0/24"]
    assert "last-modified" not in registry_replay.render(saved[0])
