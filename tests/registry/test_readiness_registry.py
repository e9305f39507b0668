"""The readiness report's registry and RPKI halves, against a real lab registry (IRRd,
PostgreSQL, Redis started by the project with the lab world's RPSL) and a running roa-publishing
lab (its RTR cache serves the ROAs): coordination from the aut-num's contacts, global
validation from route objects and ROAs, and both changing when the learner changes them as an
operator does (a route6 object and an aut-num submitted with the maintainer's password, ROAs
published). About 20 s: a registry (~5 s), a boot, two full checks, ROA publication.
"""

from __future__ import annotations

import uuid

import pytest

from lab_support import DAEMONS_MISSING
from manrs_lab import irr_registry, readiness, roa
from manrs_lab.progress import SilentProgress
from manrs_lab.readiness import Verdict

MISSING = irr_registry.missing_programs() or DAEMONS_MISSING
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

EDGE_PASSWORD = "edge-lab-pw"  # the lab world's MAINT-EDGE (data/world.rpsl)
ROUTE6 = """\
route6:         2001:db8::/48
descr:          edge
origin:         AS64500
mnt-by:         MAINT-EDGE
source:         LABIRR
"""
# The lab world's route6 for AS64500 that edge does not announce here: stale.
STALE_ROUTE6 = """\
route6:         2001:db8:500::/48
descr:          edge
origin:         AS64500
mnt-by:         MAINT-EDGE
source:         LABIRR
"""
# AS64500's aut-num without its abuse contact (the remarks line naming IRT-EDGE; IRRd refuses
# abuse-c in submissions anyway).
AUT_NUM_NO_ABUSE = """\
aut-num:        AS64500
as-name:        AS-EDGE-NET
descr:          edge, the learner's network
admin-c:        EDGE-NOC
tech-c:         EDGE-NOC
mnt-by:         MAINT-EDGE
source:         LABIRR
"""


@pytest.fixture
def registry():
    name = f"t{uuid.uuid4().hex[:6]}r"
    reg = irr_registry.start(name)
    try:
        yield reg
    finally:
        irr_registry.stop(name)


def test_registry_and_rpki_evidence_follow_what_the_learner_registers(boot_lab, registry):
    running = boot_lab("roa-publishing")
    name, progress = running.instance.name, SilentProgress()

    _, before = readiness.check_and_assess(name, progress, registry=registry.name)
    assert before.registry == registry.name
    # Probes in roa-publishing go to upstream1, not through the learner's router.
    assert before.action(1).verdict is Verdict.NOT_ASSESSED
    coordination = before.action(3)
    assert coordination.verdict is Verdict.READY
    reachable = {e.what for e in coordination.evidence if e.outcome == "reachable"}
    assert reachable == {"admin-c EDGE-NOC", "tech-c EDGE-NOC", "irt IRT-EDGE"}
    validation = before.action(4)
    # The lab world registers 198.18.0.0/24 and 2001:db8:500::/48 for AS64500; edge
    # originates 198.18.0.0/24 and 2001:db8::/48. No ROA is published yet.
    assert validation.summary == (
        "1 of 2 prefixes with route objects; 1 stale route object(s); 0 of 2 prefixes RPKI-valid"
    )
    assert validation.verdict is Verdict.LAGGING

    # The learner registers the missing route6, deletes the stale one and publishes ROAs; a
    # stale aut-num loses its abuse contact.
    assert not irr_registry.submit(registry.name, ROUTE6, ["wrong-password"]).ok
    assert irr_registry.submit(registry.name, ROUTE6, [EDGE_PASSWORD]).ok
    gone = irr_registry.submit(registry.name, STALE_ROUTE6, [EDGE_PASSWORD], "not announced")
    assert gone.ok, gone.report
    assert irr_registry.submit(registry.name, AUT_NUM_NO_ABUSE, [EDGE_PASSWORD]).ok
    portal = roa.portal(running)
    for prefix, length in (("198.18.0.0/24", 24), ("2001:db8::/48", 48)):
        roa.add(portal, roa.parse_roa(portal, prefix, length, None), progress)

    grade, after = readiness.check_and_assess(name, progress, registry=registry.name)
    validation = after.action(4)
    assert validation.summary == "2 of 2 prefixes with route objects; 2 of 2 prefixes RPKI-valid"
    assert validation.verdict is Verdict.READY
    assert {e.outcome for e in validation.evidence} == {"found", "RPKI valid"}
    coordination = after.action(3)
    assert coordination.verdict is Verdict.ASPIRING
    assert "missing: an abuse contact" in coordination.summary
    assert grade.passed  # the ROAs are what roa-publishing grades
    assert not after.ready
