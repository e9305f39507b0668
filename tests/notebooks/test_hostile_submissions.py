"""Hostile submissions, replayed on real routers: each graded as if its forged part were absent.

Every case starts from files saved from a real lab (the reference solution, or the starting
configuration), adds what a learner who wants the marks (or root's files) would add, replays,
and checks both the grade and that nothing happened outside the grading sandbox: marker files
the forged part would create do not exist, and a root-only file's content appears nowhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from manrs_lab import operations
from manrs_lab.notebook import replay
from manrs_lab.progress import SilentProgress
from manrs_lab.spec.loader import load_lab
from manrs_lab.submission import MAX_FILE_BYTES

pytestmark = pytest.mark.daemons
FRR_LAB = "customer-filtering"
BIRD_LAB = "rpki-rov-bird"
TOKEN = "tok3n-from-a-root-only-file"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the forged parts point: files they would create or read, outside the lab."""
    outside = tmp_path / "outside"
    outside.mkdir()
    private = tmp_path / "private-copies"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # replay's private config copies
    return outside


def saved_from(boot_lab, lab_id: str, folder: Path, *, solved: bool) -> Path:
    """The editable nodes' files as a learner's notebook saves them (solved or untouched)."""
    running = boot_lab(lab_id)
    if solved:
        operations.solve(running.instance.name, SilentProgress())
    replay.save_configs(running, folder)
    operations.down(running.instance.name, SilentProgress())
    operations.up(lab_id, SilentProgress(), instance=running.instance.name)  # boot_lab removes it
    return replay.saved_dir(folder, lab_id)


def graded(lab_id: str, folder: Path) -> tuple[int, int, str]:
    """(points, max, everything the replay says) for the submission in `folder`."""
    outcome = replay.replay(load_lab(lab_id), folder, seed=5)
    assert outcome.report is not None, outcome.error
    said = outcome.report.to_json() + "\n".join(outcome.notes())
    return outcome.report.points, outcome.report.max_points, said


def copy_submission(source: Path, target: Path) -> Path:
    shutil.copytree(source.parent, target / replay.SAVE_DIR)
    return target / replay.SAVE_DIR / source.name


def test_frr_corpus(boot_lab, tmp_path: Path, sandbox: Path):
    lab = load_lab(FRR_LAB)
    solved = saved_from(boot_lab, FRR_LAB, tmp_path / "solved", solved=True)
    untouched = saved_from(boot_lab, FRR_LAB, tmp_path / "untouched", solved=False)
    full, max_points, _ = graded(FRR_LAB, tmp_path / "solved")
    zero, _, _ = graded(FRR_LAB, tmp_path / "untouched")
    assert (full, zero) == (max_points, 0)
    answer = lab.solution_path("edge").read_text()
    secret = sandbox / "root-only.conf"
    secret.write_text((solved / "edge.conf").read_text() + f"! {TOKEN}\nbogus {TOKEN}\n")
    secret.chmod(0o600)

    def shell_filter(folder: Path) -> None:  # the unsolved config, "fixed" by a script
        script = f"touch {sandbox}/ran\nvtysh -c 'conf t' -c '{answer}'\n"
        (folder / "edge.filter.sh").write_text(script)

    def symlinked_config(folder: Path) -> None:  # points at a root-only, solved config
        (folder / "edge.conf").unlink()
        (folder / "edge.conf").symlink_to(secret)

    def huge_file(folder: Path) -> None:  # the solution, padded past the size limit
        text = (solved / "edge.conf").read_text()
        (folder / "edge.conf").write_text("!" * MAX_FILE_BYTES + "\n" + text)

    def non_utf8(folder: Path) -> None:  # the solution with bytes that are not UTF-8
        text = (solved / "edge.conf").read_bytes()
        (folder / "edge.conf").write_bytes(b"! caf\xe9\n" + text)

    def shell_in_nft(folder: Path) -> None:  # a "ruleset" that is a script
        (folder / "edge.nft").write_text(f'include "{secret}"\ntable ip x {{ }}\n')
        (folder / "edge.sysctl").write_text(f"kernel.core_pattern = |{sandbox}/core\n")

    for forge, expected in [
        (shell_filter, 0),
        (symlinked_config, 0),
        (huge_file, 0),
        (non_utf8, 0),
        (shell_in_nft, 0),
    ]:
        folder = tmp_path / forge.__name__
        saved = copy_submission(untouched, folder)
        forge(saved)
        points, _, said = graded(FRR_LAB, folder)
        assert points == expected, (forge.__name__, said)
        assert TOKEN not in said, forge.__name__
        assert "not graded: " in said, forge.__name__
    assert not (sandbox / "ran").exists()

    def frr_escapes(folder: Path) -> None:  # the solution plus lines that act on the machine
        conf = folder / "edge.conf"
        extra = (
            f"log file {sandbox}/frr.log\ndump bgp all {sandbox}/dump\n"
            "do write file\nend\nwrite memory\n"
        )
        conf.write_text(conf.read_text().replace("end\n", "") + extra + "end\n")

    def odd_names(folder: Path) -> None:  # the solution plus files the grader never reads
        Path(os.fsdecode(os.fsencode(folder) + b"/edge\n\xff.conf")).write_text("hostname x\n")
        (folder / "transit.conf").write_text("hostname transit\n")
        (folder / "edge.conf.bak").symlink_to(secret)

    for forge in (frr_escapes, odd_names):
        folder = tmp_path / forge.__name__
        forge(copy_submission(solved, folder))
        points, _, said = graded(FRR_LAB, folder)
        assert points == max_points, (forge.__name__, said)
        assert TOKEN not in said
        assert "not graded: " in said
    assert sorted(p.name for p in sandbox.iterdir()) == ["root-only.conf"]
    assert list(Path(tempfile.gettempdir()).iterdir()) == []  # private copies removed


def test_bird_include_and_log_are_left_out(boot_lab, tmp_path: Path, sandbox: Path):
    solved = saved_from(boot_lab, BIRD_LAB, tmp_path / "solved", solved=True)
    full, max_points, _ = graded(BIRD_LAB, tmp_path / "solved")
    assert full == max_points
    secret = sandbox / "root-only"
    secret.write_text(f"{TOKEN} this is not BIRD syntax;\n")
    secret.chmod(0o600)
    folder = tmp_path / "forged"
    conf = copy_submission(solved, folder) / "edge.conf"
    forged = (
        f'log "{sandbox}/bird.log" all;\n'
        f'include "{secret}";\n'
        f'mrtdump "{sandbox}/mrt";\n'
        f'protocol mrt dump {{ table master4; filename "{sandbox}/table.mrt"; period 1; }}\n'
    )
    conf.write_text(forged + conf.read_text())
    points, _, said = graded(BIRD_LAB, folder)
    assert points == max_points, said
    assert TOKEN not in said
    assert said.count("not graded: ") == 4, said
    assert sorted(p.name for p in sandbox.iterdir()) == ["root-only"]
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


def test_bird_runs_without_root(boot_lab):
    running = boot_lab(BIRD_LAB)
    folder = running.handle("edge").local_dir
    assert folder is not None
    pid = int((folder / "bird.pid").read_text())
    status = Path(f"/proc/{pid}/status").read_text()
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert uid != "0"
    assert running.router("edge").sessions()
