"""The neighbour tables' limits are raised for many labs at once, never lowered."""

from __future__ import annotations

from pathlib import Path

from manrs_lab.runtime.host_limits import NEIGHBOUR_ROOM, ensure_neighbour_room


def fake_proc(tmp_path: Path, value: int) -> Path:
    for family in ("ipv4", "ipv6"):
        folder = tmp_path / family / "neigh" / "default"
        folder.mkdir(parents=True)
        for name in ("gc_thresh1", *NEIGHBOUR_ROOM):
            (folder / name).write_text(f"{value}\n")
    return tmp_path


def test_low_limits_are_raised_and_said(tmp_path: Path):
    base = fake_proc(tmp_path, 1024)
    raised = ensure_neighbour_room(base=base)
    assert "ipv4 gc_thresh3 1024 -> 32768" in raised
    assert len(raised) == 4
    assert (base / "ipv6/neigh/default/gc_thresh2").read_text().strip() == "16384"
    assert (base / "ipv4/neigh/default/gc_thresh1").read_text().strip() == "1024"  # untouched


def test_higher_limits_stay_and_missing_files_are_no_error(tmp_path: Path):
    base = fake_proc(tmp_path, 100000)
    assert ensure_neighbour_room(base=base) == []
    assert (base / "ipv4/neigh/default/gc_thresh3").read_text().strip() == "100000"
    assert ensure_neighbour_room(base=tmp_path / "nothing") == []
