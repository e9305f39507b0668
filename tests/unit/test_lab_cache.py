"""A kernel that checks again reuses the loaded lab, and sees every change to its files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from manrs_lab.errors import SpecError
from manrs_lab.spec.loader import load_lab

REPO = Path(__file__).resolve().parents[2]
LAB = "customer-filtering"


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "labs" / LAB, tmp_path / "labs" / LAB)
    shutil.copytree(REPO / "topologies", tmp_path / "topologies")
    return tmp_path / "labs" / LAB


def test_unchanged_lab_is_the_same_object(lab_dir: Path):
    assert load_lab(str(lab_dir)) is load_lab(str(lab_dir))


def test_an_edit_of_the_same_size_within_the_same_tick_is_seen(lab_dir: Path):
    first = load_lab(str(lab_dir))
    spec = lab_dir / "lab.yaml"
    spec.write_text(
        spec.read_text().replace(
            "title: Customer prefix filtering", "title: Customer prefix filterinG"
        )
    )
    again = load_lab(str(lab_dir))
    assert again is not first
    assert again.spec.title == "Customer prefix filterinG"


def test_a_broken_edit_fails_and_a_fixed_one_loads(lab_dir: Path):
    spec = lab_dir / "lab.yaml"
    good = spec.read_text()
    load_lab(str(lab_dir))
    spec.write_text(good.replace("learner:", "learnr:", 1))
    with pytest.raises(SpecError):
        load_lab(str(lab_dir))
    spec.write_text(good)
    assert load_lab(str(lab_dir)).spec.learner


def test_topology_and_config_edits_are_seen(lab_dir: Path):
    first = load_lab(str(lab_dir))
    topology = lab_dir.parents[1] / "topologies" / f"{LAB}.clab.yml"
    topology.write_text(topology.read_text() + "\n# edited\n")
    second = load_lab(str(lab_dir))
    assert second is not first
    config = lab_dir / "configs" / "edge.conf"
    config.write_text(config.read_text() + "!\n")
    assert load_lab(str(lab_dir)) is not second
    config.unlink()  # a file the lab names goes: the lab no longer loads
    with pytest.raises(SpecError, match="does not exist"):
        load_lab(str(lab_dir))


def test_a_file_shared_from_a_sibling_lab_is_watched(tmp_path: Path):
    for lab in ("manrs-capstone", "manrs-capstone-bird"):
        shutil.copytree(REPO / "labs" / lab, tmp_path / "labs" / lab)
    shutil.copytree(REPO / "topologies", tmp_path / "topologies")
    variant = tmp_path / "labs" / "manrs-capstone-bird"
    first = load_lab(str(variant))
    shared = tmp_path / "labs" / "manrs-capstone" / "configs" / "cust1.conf"
    shared.write_text(shared.read_text() + "!\n")
    assert load_lab(str(variant)) is not first
