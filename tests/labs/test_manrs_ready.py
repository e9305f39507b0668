"""manrs-ready (all four MANRS actions on one network) on real daemons, the real registry (IRRd,
PostgreSQL, Redis, bgpq4) and the real RTR cache, one boot for every state, in order:

- unsolved: every task fails, and the readiness report (CLI, JSON) is lagging on all four;
- edge's routing policy without export filters: only the leak task (and the registry and ROA
  tasks) fail;
- the registry repaired except the stale route object, no ROA ("contacts fixed but no ROA"):
  contacts pass, route objects fail on the stale object, ROAs fail; the report says ready for
  coordination, lagging for global validation;
- ROAs published with a loose maxLength: the ROA task fails, naming the maxLength;
- the learner's own way to the end (the stale object deleted, the ROA replaced by a minimal
  one): full marks, ready on all four;
- the reference solution (`solve`: rpki.json, then edge.sh with its registry submission) from a
  notebook's Check: full marks, the readiness report comes with it, ready on all four.

The notebook's readiness HTML of the unsolved and solved states is rendered by headless Chromium
(when installed) into artifacts/readiness-manrs-ready-{unsolved,solved}.png: docs/images/ holds
copies (docs/readiness.md). About 45 s (one boot, six full checks).
"""

from __future__ import annotations

import json

import pytest
from test_readiness_capstone import screenshot

from lab_reports import failed_ids, failed_tasks
from lab_support import REPO
from manrs_lab import irr_registry, operations, readiness
from manrs_lab.cli import main
from manrs_lab.irr_registry import updates
from manrs_lab.notebook import Lab
from manrs_lab.progress import SilentProgress
from manrs_lab.readiness import Verdict

pytestmark = [
    pytest.mark.daemons,
    pytest.mark.skipif(
        irr_registry.missing_programs() is not None, reason=irr_registry.missing_programs() or ""
    ),
]
LAB = "manrs-ready"
SEED = 5
TASKS = {"route-filters", "no-leaks", "anti-spoofing", "contacts", "route-objects", "roas"}
SOLUTION = REPO / "labs" / LAB / "solution" / "edge.sh"

# A learner's registry update, written differently from the reference: other names, one role
# for both admin-c and tech-c plus an abuse desk, the irt; route objects for what edge
# announces, but the stale route object (origin AS64503) left in place.
REGISTRY_WITHOUT_CLEANUP = """\
password: edge-lab-pw

role:           Edge NOC team
address:        Lab Street 1, Lab City
phone:          +1 555 0200
e-mail:         NOC-Team@edge.lab.invalid
nic-hdl:        ENOC1-LAB
mnt-by:         MAINT-EDGE
source:         LABIRR

role:           Edge abuse handling
address:        Lab Street 1, Lab City
phone:          +1 555 0201
e-mail:         abuse@edge.lab.invalid
nic-hdl:        EABU1-LAB
mnt-by:         MAINT-EDGE
source:         LABIRR

irt:            IRT-EDGE-NETWORKS
address:        Lab Street 1, Lab City
e-mail:         csirt@edge.lab.invalid
abuse-mailbox:  abuse@edge.lab.invalid
admin-c:        ENOC1-LAB
tech-c:         ENOC1-LAB
mnt-by:         MAINT-EDGE
source:         LABIRR

aut-num:        AS64500
as-name:        EDGE-NETWORKS
descr:          Edge Networks
admin-c:        ENOC1-LAB
tech-c:         ENOC1-LAB
tech-c:         EABU1-LAB
remarks:        Report abuse to IRT-EDGE-NETWORKS
mnt-by:         MAINT-EDGE
source:         LABIRR

route:          198.18.0.0/24
descr:          Edge Networks (AS64500)
origin:         AS64500
mnt-by:         MAINT-EDGE
source:         LABIRR

route6:         2001:db8::/48
descr:          Edge Networks (AS64500)
origin:         AS64500
mnt-by:         MAINT-EDGE
source:         LABIRR
"""


STALE_DELETED = """\
password: edge-lab-pw

route:          198.18.0.0/24
descr:          Edge Networks, via upstream AS64503 (before AS64500)
origin:         AS64503
mnt-by:         MAINT-EDGE
source:         LABIRR
delete:         originated by AS64500 since 2019
"""


def router_part(script: str, *, exports: bool) -> str:
    """The reference script's routing policy and anti-spoofing (parts 1 and 2), without the
    registry update; `exports=False`: without the prefix lists towards transit and the peer."""
    text = script.split("# -- Part 3", maxsplit=1)[0]
    if not exports:
        text = "\n".join(line for line in text.splitlines() if "OURS-V" not in line)
    return text


def assess(name: str) -> tuple[set[str], readiness.ReadinessReport]:
    grade, report = readiness.check_and_assess(name, SilentProgress(), seed=SEED)
    return failed_tasks(grade), report


def verdicts(report: readiness.ReadinessReport) -> dict[int, Verdict]:
    return {a.action: a.verdict for a in report.actions}


def test_manrs_ready_unsolved_wrong_and_solved(boot_lab, capsys, tmp_path):
    running = boot_lab(LAB)
    name = running.instance.name
    assert running.registry == name

    # Unsolved, through the CLI: every task fails, every action lagging, exit status 1.
    capsys.readouterr()
    assert main(["readiness", name, "--json", "--seed", str(SEED)]) == 1
    data = json.loads(capsys.readouterr().out)
    unsolved = readiness.ReadinessReport.from_dict(data)
    assert data["grade_points"] == 0
    assert verdicts(unsolved) == dict.fromkeys((1, 2, 3, 4), Verdict.LAGGING)
    summary = unsolved.action(4).summary
    for said in (
        "0 of 2 prefixes with route objects",
        "1 stale route object",
        "0 of 2 prefixes RPKI-valid",
    ):
        assert said in summary, summary
    problems = " ".join(e.detail for e in unsolved.action(3).evidence if e.outcome == "problem")
    assert "AK7-LAB" in problems, problems  # admin-c and tech-c: deleted persons
    assert "JD9-LAB" in problems, problems
    grade, _ = readiness.check_and_assess(name, SilentProgress(), seed=SEED + 1)
    assert failed_tasks(grade) == TASKS
    screenshot(unsolved, "manrs-ready-unsolved")

    # Routing policy and anti-spoofing, but no export filters: a route leak, nothing else of
    # Actions 1 and 2 lost.
    script = SOLUTION.read_text()
    operations.run_shell_solution(running, "edge", router_part(script, exports=False))
    running.wait_converged(SilentProgress())
    failed, report = assess(name)
    assert failed == {"no-leaks", "contacts", "route-objects", "roas"}
    assert verdicts(report)[2] is Verdict.READY
    assert verdicts(report)[1] is not Verdict.READY  # the leak is the report's evidence too
    operations.run_shell_solution(running, "edge", router_part(script, exports=True))
    running.wait_converged(SilentProgress())

    # Contacts fixed and route objects added, but the stale route object kept and no ROA.
    updates.apply_update(name, REGISTRY_WITHOUT_CLEANUP)
    failed, report = assess(name)
    assert failed == {"route-objects", "roas"}
    assert (verdicts(report)[1], verdicts(report)[2], verdicts(report)[3]) == (
        Verdict.READY,
        Verdict.READY,
        Verdict.READY,
    )
    assert verdicts(report)[4] is Verdict.LAGGING
    summary = report.action(4).summary
    for said in ("2 of 2 prefixes with route objects", "1 stale", "0 of 2 prefixes RPKI-valid"):
        assert said in summary, summary

    # ROAs published through the portal, the IPv4 one with a loose maxLength.
    assert main(["roa", "-i", name, "add", "198.18.0.0/24", "--max-length", "28"]) == 0
    assert main(["roa", "-i", name, "add", "2001:db8::/48", "--max-length", "48"]) == 0
    capsys.readouterr()
    grade, loose = readiness.check_and_assess(name, SilentProgress(), seed=SEED)
    assert failed_tasks(grade) == {"route-objects", "roas"}
    assert failed_ids(grade) >= {"no-stale-route-objects", "roa-ipv4"}
    assert "roa-ipv6" not in failed_ids(grade)
    message = next(c.message for c in grade.checks if c.id == "roa-ipv4")
    assert "maxLength 24" in message
    # Every prefix is RPKI-valid now, yet the report is never kinder than the grade.
    assert verdicts(loose)[4] is not Verdict.READY
    assert "roa-ipv4" in loose.action(4).summary, loose.action(4).summary

    # The learner finishes in their own words: the stale object deleted, the ROA made minimal.
    updates.apply_update(name, STALE_DELETED)
    assert main(["roa", "-i", name, "remove", "198.18.0.0/24"]) == 0
    assert main(["roa", "-i", name, "add", "198.18.0.0/24", "--max-length", "24"]) == 0
    capsys.readouterr()
    failed, report = assess(name)
    assert failed == set()
    assert verdicts(report) == dict.fromkeys((1, 2, 3, 4), Verdict.READY)

    # The reference solution on top (it changes the objects, skips a deletion already made),
    # then a notebook's Check: full marks and the report with it.
    operations.solve(name, SilentProgress())
    lab = Lab(LAB, instance=name, start=False, notebook_dir=tmp_path)
    assert lab.check().passed
    solved = lab.last_readiness
    assert solved is not None, lab.readiness_error
    assert solved.grade_points == solved.grade_max_points == 13
    assert verdicts(solved) == dict.fromkeys((1, 2, 3, 4), Verdict.READY)
    assert solved.ready
    screenshot(solved, "manrs-ready-solved")

    # nbgrader's autograde, from what the Check saved beside the notebook: edge's
    # configuration and packet filter, the ROAs and MAINT-EDGE's registry objects, replayed
    # into a fresh lab (registry included) and graded: the same full marks, nothing refused.
    from manrs_lab.notebook import replay  # noqa: PLC0415 - the notebook layer's

    saved = replay.saved_dir(tmp_path, LAB)
    assert {p.name for p in saved.iterdir()} >= {"edge.conf", "rpki.conf", "registry.rpsl"}
    outcome = replay.replay(operations.load_lab(LAB), tmp_path, seed=SEED)
    assert outcome.error is None, outcome.error
    assert outcome.report is not None
    assert outcome.notes() == []
    assert outcome.report.points == outcome.report.max_points == 13
