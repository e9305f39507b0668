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
