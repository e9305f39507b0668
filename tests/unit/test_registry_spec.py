"""lab.yaml `registry:`: the RPSL file must exist and lie inside the lab's own folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from manrs_lab.errors import SpecError
from manrs_lab.spec.loader import load_lab

REPO = Path(__file__).resolve().parents[2]


def lab_with(tmp: Path, registry: str) -> Path:
    lab = tmp / "labs" / "customer-filtering"
    shutil.copytree(REPO / "labs" / "customer-filtering", lab)
    (tmp / "topologies").mkdir()
    shutil.copy(REPO / "topologies" / "customer-filtering.clab.yml", tmp / "topologies")
    (lab / "irr").mkdir()
    (lab / "irr" / "world.rpsl").write_text("as-set: AS-X\nsource: LABIRR\n")
    (tmp / "labs" / "other").mkdir()
    (tmp / "labs" / "other" / "world.rpsl").write_text("as-set: AS-X\nsource: LABIRR\n")
    spec = lab / "lab.yaml"
    spec.write_text(spec.read_text() + f"\nregistry: {registry}\n")
    return lab


def test_a_registry_file_inside_the_lab_loads(tmp_path):
    lab = load_lab(str(lab_with(tmp_path, "{data: irr/world.rpsl}")))
    assert lab.registry_data == lab.folder / "irr" / "world.rpsl"


def test_the_learner_maintainer_is_a_mntner_of_the_data(tmp_path):
    lab = lab_with(tmp_path, "{data: irr/world.rpsl, learner_mntner: MAINT-X, learner_password: p}")
    (lab / "irr" / "world.rpsl").write_text("mntner:  MAINT-X\nsource: LABIRR\n")
    assert load_lab(str(lab)).spec.registry.learner_mntner == "MAINT-X"  # type: ignore[union-attr]


def test_a_lab_without_registry_has_none():
    assert load_lab("customer-filtering").registry_data is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{data: irr/missing.rpsl}", "registry.data: .*missing.rpsl does not exist"),
        ("{data: ../other/world.rpsl}", "registry.data: '../other/world.rpsl' is outside"),
        ("{data: /etc/passwd}", "registry.data: '/etc/passwd' is an absolute path"),
        ("{file: irr/world.rpsl}", "registry"),
        ("irr/world.rpsl", "registry"),
        ("{data: irr/world.rpsl, learner_mntner: MAINT-X}", "learner_password go together"),
        ("{data: irr/world.rpsl, learner_password: pw}", "learner_password go together"),
        ("{data: irr/world.rpsl, learner_mntner: 'MAINT X', learner_password: pw}", "pattern"),
        (
            "{data: irr/world.rpsl, learner_mntner: MAINT-X, learner_password: pw}",
            "registry.learner_mntner: irr/world.rpsl holds no mntner MAINT-X",
        ),
    ],
)
def test_a_bad_registry_entry_names_the_field(tmp_path, value, message):
    with pytest.raises(SpecError, match=message) as caught:
        load_lab(str(lab_with(tmp_path, value)))
    assert "lab.yaml" in str(caught.value)
