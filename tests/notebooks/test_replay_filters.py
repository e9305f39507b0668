"""Replay carries packet filtering (nftables, rp_filter) as data, not only the daemons' config."""

from __future__ import annotations

from pathlib import Path

import pytest

from manrs_lab import operations
from manrs_lab.notebook import replay
from manrs_lab.progress import SilentProgress
from manrs_lab.spec.loader import load_lab
from manrs_lab.submission import NFT_SUFFIX, SYSCTL_SUFFIX

pytestmark = pytest.mark.daemons
LAB = "anti-spoofing"


def test_anti_spoofing_fix_survives_replay(boot_lab, tmp_path: Path):
    lab = load_lab(LAB)
    running = boot_lab(LAB)
    folder = replay.saved_dir(tmp_path, LAB)
    replay.save_configs(running, tmp_path)
    ruleset = folder / f"{lab.spec.learner}{NFT_SUFFIX}"
    sysctls = folder / f"{lab.spec.learner}{SYSCTL_SUFFIX}"
    assert not ruleset.exists()  # the starting state filters nothing
    assert not sysctls.exists()

    operations.solve(running.instance.name, SilentProgress())
    replay.save_configs(running, tmp_path)
    assert ruleset.read_text().startswith("table inet bcp38 {")
    assert sysctls.read_text() == "net.ipv4.conf.eth1.rp_filter = 1\n"
    assert not list(folder.glob("*.sh"))  # nothing saved is a script

    solved = replay.replay(lab, tmp_path, seed=2)
    assert solved.report is not None, solved.error
    assert solved.refused == []
    assert solved.report.passed, solved.report.failures()

    ruleset.unlink()  # the daemon configs alone do not stop spoofing
    sysctls.unlink()
    unsolved = replay.replay(lab, tmp_path, seed=2)
    assert unsolved.report is not None
    assert unsolved.report.points < unsolved.report.max_points
