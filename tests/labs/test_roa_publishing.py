"""roa-publishing: the ROA portal's rules, and the lab on real daemons (unsolved fails, the
reference passes, wrong ROAs fail with the reason)."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any, cast

import pytest

from lab_reports import failed_ids
from manrs_lab import cli, operations, roa
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import LabError
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.state import RpkiState

LAB = "roa-publishing"
daemons = pytest.mark.daemons
ROA_IPV4 = Vrp("198.18.0.0/24", 24, 64500)
ROA_IPV6 = Vrp("2001:db8::/48", 48, 64500)


# -- what a ROA means (RFC 6811) and what the portal refuses: no daemons -------------------
VRPS = [Vrp("198.18.0.0/24", 24, 64500), Vrp("198.18.10.0/24", 26, 64510)]


@pytest.mark.parametrize(
    ("prefix", "origin", "state"),
    [
        ("198.18.0.0/24", 64500, RpkiState.VALID),
        ("198.18.0.0/24", 65551, RpkiState.INVALID),  # origin
        ("198.18.0.0/25", 64500, RpkiState.INVALID),  # length: forged origin, minimal ROA
        ("198.18.10.64/26", 64510, RpkiState.VALID),  # within maxLength 26
        ("198.18.10.64/27", 64510, RpkiState.INVALID),
        ("198.18.30.0/24", 64530, RpkiState.NOT_FOUND),
        ("198.18.0.0/23", 64500, RpkiState.NOT_FOUND),  # less specific: not covered
        ("2001:db8::/48", 64500, RpkiState.NOT_FOUND),  # another family
    ],
)
def test_rov_state_follows_rfc_6811(prefix, origin, state):
    assert roa.rov_state(prefix, origin, VRPS) is state


def test_explanations_name_the_roa_and_the_reason():
    assert roa.explain_state("198.18.0.0/24", 65551, VRPS) == (
        "the ROA 198.18.0.0/24 maxLength 24 AS64500 does not authorize AS65551"
    )
    assert roa.explain_state("198.18.0.0/26", 64500, VRPS) == (
        "the ROA 198.18.0.0/24 maxLength 24 AS64500 allows up to /24, not /26"
    )
    assert roa.explain_state("198.18.30.0/24", 1, VRPS) == "no ROA covers it"


def test_address_plan_gives_each_lab_as_its_prefixes():
    assert [str(n) for n in roa.registered_prefixes(64500)] == ["198.18.0.0/24", "2001:db8::/48"]
    assert [str(n) for n in roa.registered_prefixes(64511)] == [
        "198.18.11.0/24",
        "2001:db8:11::/48",
    ]
    with pytest.raises(LabError, match="gives no prefixes to AS65551"):
        roa.registered_prefixes(65551)


PORTAL = roa.Portal(
    running=cast(Any, None),
    asn=64500,
    holdings=[ip_network("198.18.0.0/24"), ip_network("2001:db8::/48")],
    cache="rpki",
)


def test_portal_accepts_roas_within_the_learners_space():
    assert roa.parse_roa(PORTAL, "198.18.0.0/24", 24, None) == ROA_IPV4
    assert roa.parse_roa(PORTAL, "198.18.0.128/25", 25, 0) == Vrp("198.18.0.128/25", 25, 0)
    assert roa.parse_roa(PORTAL, "2001:db8::/48", 48, 64500) == ROA_IPV6


@pytest.mark.parametrize(
    ("prefix", "max_length", "asn", "error"),
    [
        ("198.18.1.0/24", 24, None, "198.18.1.0/24 is not your address space: AS64500 holds"),
        ("198.18.0.0/23", 23, None, "is not your address space"),
        ("2001:db8:1::/48", 48, None, "is not your address space"),
        ("198.18.0.1/24", 24, None, "did you mean 198.18.0.0/24"),
        ("not-a-prefix", 24, None, "is not a prefix"),
        ("198.18.0.0/24", 23, None, "--max-length 23 is impossible for 198.18.0.0/24"),
        ("198.18.0.0/24", 33, None, "between 24 (only 198.18.0.0/24 itself) and 32"),
        ("2001:db8::/48", 129, None, "and 128"),
        ("198.18.0.0/24", 24, 2**32, "is not an AS number"),
    ],
)
def test_portal_refuses_with_the_reason(prefix, max_length, asn, error):
    with pytest.raises(LabError, match=error.replace("(", r"\(").replace(")", r"\)")):
        roa.parse_roa(PORTAL, prefix, max_length, asn)


def test_reference_solution_file_is_the_start_plus_two_minimal_roas():
    lab = operations.load_lab(LAB)
    start = roa.parse_vrp_file(lab.config_path("rpki").read_text())  # type: ignore[union-attr]
    solution = roa.parse_vrp_file(lab.solution_path("rpki").read_text())
    assert set(solution) - set(start) == {ROA_IPV4, ROA_IPV6}


# -- the lab on real daemons ---------------------------------------------------------------
TASK_CHECKS = {
    "own-ipv4-valid",
    "exact-hijack-ipv4",
    "more-specific-hijack-ipv4",
    "own-ipv6-valid",
    "exact-hijack-ipv6",
    "more-specific-hijack-ipv6",
    "forged-origin-ipv4",
    "forged-origin-ipv6",
}


def graded(running: RunningLab) -> GradeReport:
    return grade(running, SilentProgress(), seed=3)


def publish(running: RunningLab, *roas: Vrp) -> None:
    portal = roa.portal(running)
    for vrp in roas:
        roa.add(portal, vrp, SilentProgress())


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


@daemons
def test_unsolved_lab_fails_every_task_with_what_upstream_accepted(boot_lab):
    report = graded(boot_lab(LAB))
    assert failed_ids(report) == TASK_CHECKS
    assert report.points == 0
    text = messages(report)
    assert (
        "upstream1 holds 198.18.0.0/24 from AS64500 with RPKI state not found"
        in (text["own-ipv4-valid"])
    )
    assert "upstream1 accepted 198.18.0.0/24 with AS path 65551" in text["exact-hijack-ipv4"]
    assert "no ROA covers it" in text["exact-hijack-ipv4"]
    forged = text["forged-origin-ipv4"]
    assert "with AS path 65551 64500 (origin AS64500, sent by evil (AS65551))" in forged


@daemons
def test_reference_solution_gets_full_marks(boot_lab):
    running = boot_lab(LAB)
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 6
    assert report.seconds < 8  # the gate waits for a fresh RTR session (~3 s on FRR)


@daemons
def test_the_same_roas_made_with_the_roa_command_pass(boot_lab, capsys):
    running = boot_lab(LAB)
    name = running.instance.name
    assert cli.main(["roa", "-i", name, "add", "2001:db8::/48", "--max-length", "48"]) == 0
    assert cli.main(["roa", "-i", name, "add", "198.18.0.0/24", "--max-length", "24",
                     "--asn", "64500"]) == 0  # fmt: skip
    assert cli.main(["roa", "-i", name, "list"]) == 0
    listing = capsys.readouterr().out
    assert "198.18.0.0/24 AS64500 │ valid" in listing
    assert cli.main(["roa", "-i", name, "add", "198.18.1.0/24", "--max-length", "24"]) == 2
    assert "is not your address space" in capsys.readouterr().err
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]


@daemons
def test_loose_max_length_fails_the_minimal_roa_task_and_says_why(boot_lab):
    running = boot_lab(LAB)
    publish(running, Vrp("198.18.0.0/24", 28, 64500), Vrp("2001:db8::/48", 64, 64500))
    report = graded(running)
    assert failed_ids(report) == {"forged-origin-ipv4", "forged-origin-ipv6"}
    assert report.task("roa-ipv4").points == report.task("roa-ipv6").points == 2
    assert report.task("roa-minimal").points == 0
    forged = messages(report)["forged-origin-ipv4"]
    assert "upstream1 accepted 198.18.0." in forged
    assert "with AS path 65551 64500" in forged
    assert "RPKI valid, the ROA 198.18.0.0/24 maxLength 28 AS64500 authorizes it" in forged
    assert "maxLength equal to the announced length, RFC 9319" in forged


@daemons
def test_roa_for_the_wrong_origin_drops_your_route_until_fixed(boot_lab):
    running = boot_lab(LAB)
    publish(running, Vrp("198.18.0.0/24", 24, 64503), ROA_IPV6)  # the upstream's AS, not ours
    report = graded(running)
    assert "own-ipv4-valid" in failed_ids(report)
    assert "exact-hijack-ipv4" not in failed_ids(report)  # evil is invalid too, but so are we
    assert (
        "upstream1 has no route for 198.18.0.0/24 from AS64500 (no route at all): it is "
        "RPKI-invalid (the ROA 198.18.0.0/24 maxLength 24 AS64503 does not authorize AS64500)"
    ) in messages(report)["own-ipv4-valid"]
    # Fixed through the portal: upstream1 re-validates, our route comes back as valid.
    portal = roa.portal(running)
    roa.remove(portal, "198.18.0.0/24", 64503, SilentProgress())
    publish(running, ROA_IPV4)
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]


@daemons
def test_ipv4_roa_only_fails_the_ipv6_task(boot_lab):
    running = boot_lab(LAB)
    publish(running, ROA_IPV4)
    report = graded(running)
    assert failed_ids(report) == {
        "own-ipv6-valid", "exact-hijack-ipv6", "more-specific-hijack-ipv6", "forged-origin-ipv6",
    }  # fmt: skip
    assert report.task("roa-ipv4").points == 2
    assert (
        "2001:db8::/48 from AS64500 with RPKI state not found"
        in (messages(report)["own-ipv6-valid"])
    )


@daemons
def test_max_length_one_past_the_announced_length_fails_the_minimal_task(boot_lab):
    running = boot_lab(LAB)
    publish(running, Vrp("198.18.0.0/24", 25, 64500), Vrp("2001:db8::/48", 49, 64500))
    report = graded(running)
    assert failed_ids(report) == {"forged-origin-ipv4", "forged-origin-ipv6"}
    assert "maxLength 25 AS64500 authorizes it" in messages(report)["forged-origin-ipv4"]


@daemons
def test_roas_for_the_halves_instead_of_the_prefix_fail(boot_lab):
    running = boot_lab(LAB)
    publish(
        running,
        Vrp("198.18.0.0/25", 25, 64500),
        Vrp("198.18.0.128/25", 25, 64500),
        ROA_IPV6,
    )
    report = graded(running)
    assert {"own-ipv4-valid", "exact-hijack-ipv4", "forged-origin-ipv4"} <= failed_ids(report)
    assert report.task("roa-ipv6").points == 2


@daemons
def test_an_as0_roa_beside_the_minimal_ones_passes(boot_lab):
    # Also correct (RFC 6483): AS0 ROAs over the whole space, "nobody may originate", next to
    # the minimal ROAs for what is announced.
    running = boot_lab(LAB)
    publish(
        running,
        Vrp("198.18.0.0/24", 32, 0),
        Vrp("2001:db8::/48", 128, 0),
        ROA_IPV4,
        ROA_IPV6,
    )
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
