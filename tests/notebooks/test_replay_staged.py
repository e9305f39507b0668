"""Staged labs replay each task from the snapshot its grade cell saved, not the final state."""

from __future__ import annotations

from pathlib import Path

import pytest

from manrs_lab import operations
from manrs_lab.notebook import replay
from manrs_lab.progress import SilentProgress
from manrs_lab.spec.loader import load_lab

pytestmark = pytest.mark.daemons
LAB = "hijack-anatomy"


def test_each_task_is_replayed_from_its_own_snapshot(boot_lab, tmp_path: Path):
    lab = load_lab(LAB)
    running = boot_lab(LAB)
    for task in lab.spec.tasks:
        operations.solve(running.instance.name, SilentProgress(), task=task.id)
        replay.save_configs(running, tmp_path, task=task.id)  # what assert_task does
    replay.save_configs(running, tmp_path)  # the final state: task 3 done
    operations.down(running.instance.name, SilentProgress())
    operations.up(LAB, SilentProgress(), instance=running.instance.name)  # boot_lab removes it

    for task in lab.spec.tasks:
        outcome = replay.replay(lab, tmp_path, task=task.id, seed=1)
        assert outcome.report is not None, outcome.error
        assert [t.id for t in outcome.report.tasks] == [task.id]
        assert outcome.report.task(task.id).passed, outcome.report.failures(task.id)

    # Without task 1's snapshot, task 1 is graded on the final state, where it cannot pass.
    for path in replay.saved_dir(tmp_path, LAB, "exact-prefix").iterdir():
        path.unlink()
    outcome = replay.replay(lab, tmp_path, task="exact-prefix", seed=1)
    assert outcome.report is not None
    assert not outcome.report.task("exact-prefix").passed


def test_the_panel_checks_a_staged_lab_one_step_at_a_time(tmp_path: Path, kernel_env: str) -> None:
    """What the panel's Check does in a staged lab: only the current step is graded; it moves
    on when the step passes; a failed step's hints escalate."""
    from manrs_lab.notebook.session import Lab  # noqa: PLC0415 - needs the notebook extra

    lab = Lab(LAB, notebook_dir=tmp_path)  # not in a kernel: starts and waits
    steps = [t.id for t in lab.lab.spec.tasks]
    try:
        assert lab.current_step() == steps[0]
        for expected_hint in (0, 1):
            lab.check_in_background()
            lab.wait()
            report = lab.last_report
            assert report is not None
            assert [t.id for t in report.tasks] == [steps[0]]
            assert report.tasks[0].next_hint == lab.lab.spec.tasks[0].hints[expected_hint]
        lab.solve(task=steps[0])
        assert lab.report_stale
        lab.check_in_background()
        lab.wait()
        assert lab.last_report is not None
        assert lab.last_report.task(steps[0]).passed
        assert not lab.report_stale
        assert lab.current_step() == steps[1]
        assert lab.steps_passed() == [steps[0]]
    finally:
        lab.close()
        lab.stop()
