"""Replay carries packet filtering (nftables, rp_filter), not only the routing daemons' config."""

from __future__ import annotations

from pathlib import Path

import pytest

from manrs_lab import operations
from manrs_lab.notebook import replay
from manrs_lab.progress import SilentProgress
from manrs_lab.spec.loader import load_lab

pytestmark = pytest.mark.daemons
LAB = "anti-spoofing"


def test_anti_spoofing_fix_survives_replay(boot_lab, tmp_path: Path):
    lab = load_lab(LAB)
    running = boot_lab(LAB)
    replay.save_configs(running, tmp_path)
    filters = replay.saved_dir(tmp_path, LAB) / f"{lab.spec.learner}{replay.FILTER_SUFFIX}"
    assert not filters.exists()  # the starting state filters nothing

    operations.solve(running.instance.name, SilentProgress())
    replay.save_configs(running, tmp_path)
    script = filters.read_text()
    assert "nft -f -" in script
    assert "rp_filter" in script

    solved = replay.replay(lab, tmp_path, seed=2)
    assert solved.report is not None, solved.error
    assert solved.report.passed, solved.report.failures()

    filters.unlink()  # the daemon configs alone do not stop spoofing
    unsolved = replay.replay(lab, tmp_path, seed=2)
    assert unsolved.report is not None
    assert unsolved.report.points < unsolved.report.max_points
