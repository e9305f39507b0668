"""irr-and-roa on real daemons and the real registry (IRRd, PostgreSQL, Redis, bgpq4, whois):
unsolved fails every task, the reference solution passes, and the plausible wrong ways of doing
it fail the right task. Three boots (about 6 s each, the registry included); several states are
graded per boot, each grading only the tasks it is about. About 90 s in all.
"""

from __future__ import annotations

import pytest

from lab_reports import failed_ids, failed_tasks
from manrs_lab import irr_registry, operations, roa
from manrs_lab.cli import main
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.grader.engine import grade
from manrs_lab.grader.report import GradeReport
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab

MISSING = irr_registry.missing_programs()
pytestmark = [
    pytest.mark.daemons,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]
LAB = "irr-and-roa"
NEW = "198.18.0.128/25"

ROUTE_OBJECT = f"""\
route:          {NEW}
descr:          cust2, assigned from edge's 198.18.0.0/24
origin:         AS64502
mnt-by:         MAINT-CUST2
source:         LABIRR
"""
START_VRPS = [
    Vrp("198.18.0.0/24", 24, 64500),
    Vrp("198.18.1.0/24", 24, 64501),
    Vrp("198.18.2.0/24", 24, 64502),
    Vrp("198.18.10.0/24", 24, 64510),
]


def graded(running: RunningLab, *tasks: str) -> GradeReport:
    running.wait_converged(SilentProgress())
    return grade(running, SilentProgress(), seed=11, tasks=list(tasks) or None)


def messages(report: GradeReport) -> dict[str, str]:
    return {c.id: c.message for c in report.checks}


def register(running: RunningLab, text: str = ROUTE_OBJECT) -> irr_registry.SubmitResult:
    assert running.registry is not None
    return irr_registry.submit(running.registry, text, ["cust2-lab-pw", "edge-lab-pw"])


def publish(running: RunningLab, *extra: Vrp) -> None:
    roa.publish(running, [*START_VRPS, *extra], SilentProgress())


def generate_filter(running: RunningLab, as_set: str = "AS-CUST2") -> str:
    """What the learner runs on edge: bgpq4 against the lab registry, applied, soft clear."""
    host = irr_registry.LAB_WHOIS_HOST
    argv = ["bgpq4", "-h", host, "-S", "LABIRR", "-l", "CUST2-IN", as_set]
    text = running.handle("edge").exec_ok(argv)
    edge = running.router("edge")
    edge.apply_config(text)
    edge.bgpd_commands(["clear bgp ipv4 unicast 10.0.2.2 soft in"])
    return text


def hand_filter(running: RunningLab, config: str) -> None:
    edge = running.router("edge")
    edge.apply_config(config)
    edge.bgpd_commands(["clear bgp ipv4 unicast 10.0.2.2 soft in"])


def test_unsolved_fails_every_task_and_the_reference_passes(boot_lab):
    running = boot_lab(LAB)
    report = graded(running)
    assert failed_tasks(report) == {"register", "roa", "filter"}
    assert report.points == 0
    failed = failed_ids(report)
    assert {"route-object", "roa-minimal", "new-prefix-flows"} <= failed
    said = messages(report)
    assert "the registry has no route object for it" in said["route-object"]
    assert "RPKI invalid" in said["roa-minimal"]
    # The starting filter is the registry's (of cust2's first day): consistent, and it keeps
    # every unregistered probe out.
    assert "filter-is-registry" not in failed
    assert "cust2-only-its-own" not in failed
    operations.solve(running.instance.name, SilentProgress())
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert report.points == report.max_points == 7


def test_a_hand_written_filter_without_registering_fails(boot_lab):
    running = boot_lab(LAB)
    publish(running, Vrp(NEW, 25, 64502))
    hand_filter(running, f"ip prefix-list CUST2-IN seq 5 permit {NEW}\n")
    report = graded(running, "register", "filter")
    # The prefix flows (the ROA is there, the filter lets it in), but nothing is registered:
    # the filter is not what the registry says.
    assert "new-prefix-flows" not in failed_ids(report)
    assert failed_tasks(report) == {"register", "filter"}
    assert (
        f"edge accepts {NEW} from cust2, which the registry does not have"
        in (messages(report)["filter-is-registry"])
    )


def test_the_steps_out_of_order_and_wrong_fail_the_right_task(boot_lab):
    running = boot_lab(LAB)
    # Regenerating without registering: bgpq4 finds nothing new, the prefix does not flow.
    publish(running, Vrp(NEW, 25, 64502))
    assert NEW not in generate_filter(running)
    report = graded(running, "filter")
    assert "new-prefix-flows" in failed_ids(report)
    assert "filter-is-registry" not in failed_ids(report)
    # Registering without regenerating: the registry has it, edge's filter does not.
    result = register(running)
    assert result.ok, result.report
    report = graded(running, "register", "filter")
    assert failed_tasks(report) == {"filter"}
    assert {"filter-is-registry", "new-prefix-flows"} <= failed_ids(report)
    assert "generate the filter again" in messages(report)["filter-is-registry"]
    # Generated from all of edge's customers (AS-EDGE-CUSTOMERS) instead of cust2's own
    # as-set: cust2 may announce cust1's prefix.
    generate_filter(running, "AS-EDGE-CUSTOMERS")
    report = graded(running, "filter")
    assert failed_ids(report) == {"cust2-only-its-own"}
    # Generated from AS-CUST2 with more-specifics allowed (what `le 32` would do).
    hand_filter(
        running,
        "no ip prefix-list CUST2-IN\n"
        f"ip prefix-list CUST2-IN permit {NEW} le 32\n"
        "ip prefix-list CUST2-IN permit 198.18.2.0/24 le 32\n",
    )
    report = graded(running, "filter")
    assert failed_ids(report) == {"cust2-registered-exactly"}
    # Right filter, but the ROA authorizes any more-specific: forged origins are valid.
    generate_filter(running)
    publish(running, Vrp(NEW, 32, 64502))
    report = graded(running, "roa", "filter")
    assert failed_tasks(report) == {"roa"}
    assert {"roa-minimal", "forged-more-specifics"} <= failed_ids(report)
    # A ROA for the wrong origin (the learner's own AS): the prefix stays invalid.
    publish(running, Vrp(NEW, 25, 64500))
    report = graded(running, "roa", "filter")
    assert failed_tasks(report) == {"roa", "filter"}
    assert "new-prefix-flows" in failed_ids(report)


def test_the_registry_refuses_the_object_without_the_parents_maintainer(boot_lab):
    running = boot_lab(LAB)
    assert running.registry is not None
    refused = irr_registry.submit(running.registry, ROUTE_OBJECT, ["cust2-lab-pw"])
    assert not refused.ok
    assert "MAINT-EDGE" in refused.report
    # A route object with the wrong origin (edge's own AS) does not register cust2's prefix.
    wrong = ROUTE_OBJECT.replace("AS64502", "AS64500").replace("MAINT-CUST2", "MAINT-EDGE")
    assert irr_registry.submit(running.registry, wrong, ["edge-lab-pw"]).ok
    report = graded(running, "register")
    assert failed_ids(report) == {"route-object"}
    assert "origin AS64500 only" in messages(report)["route-object"]


def test_the_terminal_way_with_a_route_map_passes(boot_lab, tmp_path, capsys):
    """Correct, done differently: the object submitted with `manrs-lab registry submit`, the
    ROA through the portal (`manrs-lab roa add`), the filter from `manrs-lab irr --registry`
    on the terminal, applied as a route-map under another name."""
    running = boot_lab(LAB)
    name = running.instance.name
    obj = tmp_path / "route.txt"
    obj.write_text(ROUTE_OBJECT)
    argv = ["registry", "submit", name, str(obj), "--password", "cust2-lab-pw"]
    assert main([*argv, "--password", "edge-lab-pw"]) == 0
    assert main(["roa", "-i", name, "add", NEW, "--max-length", "25", "--asn", "64502"]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "irr",
                "--registry",
                name,
                "--as-set",
                "AS-CUST2",
                "--format",
                "frr",
                "--name",
                "FROM-REG",
            ]
        )
        == 0
    )
    prefix_list = capsys.readouterr().out
    assert NEW in prefix_list
    hand_filter(
        running,
        prefix_list + "route-map CUST2-FROM-REGISTRY permit 10\n"
        " match ip address prefix-list FROM-REG\n"
        "exit\n"
        "router bgp 64500\n"
        " address-family ipv4 unicast\n"
        "  no neighbor 10.0.2.2 prefix-list CUST2-IN in\n"
        "  neighbor 10.0.2.2 route-map CUST2-FROM-REGISTRY in\n"
        " exit-address-family\n"
        "exit\n",
    )
    report = graded(running)
    assert report.passed, [c.message for c in report.checks if not c.passed]
