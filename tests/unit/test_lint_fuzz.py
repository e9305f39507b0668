"""The fuzz corpus (tests/fuzz/corpus.py): every broken lab or topology is rejected by `lint`,
with the file and the field named, never with a traceback, and `lint` leaves nothing behind."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from fuzz.corpus import ALL_CASES, LAB, Case
from manrs_lab import operations
from manrs_lab.cli import main
from manrs_lab.errors import SpecError
from manrs_lab.runtime.netns import existing_namespaces

REPO = Path(__file__).resolve().parents[2]


def broken_copy(tmp_path: Path, case: Case) -> Path:
    shutil.copytree(REPO / "labs" / LAB, tmp_path / "labs" / LAB)
    shutil.copytree(REPO / "topologies", tmp_path / "topologies")
    case.apply(tmp_path)
    return tmp_path / "labs" / LAB


def _daemons_missing() -> str | None:
    for binary in ("vtysh", "bird"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed"
    return None


PARAMS = [
    pytest.param(
        case,
        id=case.id,
        marks=[pytest.mark.skipif(_daemons_missing() is not None, reason="daemons")]
        if case.daemons
        else [],
    )
    for case in ALL_CASES
]


@pytest.mark.parametrize("case", PARAMS)
def test_lint_rejects_the_case_naming_file_and_field(tmp_path: Path, case: Case, capsys):
    lab_dir = broken_copy(tmp_path, case)
    namespaces = {ns for ns in existing_namespaces() if ns.startswith(f"ml-{LAB}--")}
    lint_dirs = set(Path(tempfile.gettempdir()).glob("manrs-lab-lint-*"))
    with pytest.raises(SpecError) as info:
        operations.lint(str(lab_dir))
    assert (
        info.value.path == (tmp_path / case.file).resolve()
        or info.value.path == tmp_path / case.file
    )
    text = "\n".join(info.value.problems)
    assert case.field in text, text
    # The CLI: exit 1, the same message, no traceback (an exception would fail this test).
    assert main(["lint", str(lab_dir)]) == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert " ".join(case.field.split()) in printed or case.field in text
    assert "Traceback" not in printed
    # Nothing deployed, nothing left.
    # (lint deploys nothing; a lab's default instance name is its id)
    assert {ns for ns in existing_namespaces() if ns.startswith(f"ml-{LAB}--")} <= namespaces
    assert set(Path(tempfile.gettempdir()).glob("manrs-lab-lint-*")) <= lint_dirs


def test_the_corpus_covers_every_class():
    ids = " ".join(c.id for c in ALL_CASES)
    for kind in (
        "observer",
        "probe-node",
        "lengths",
        "config-absolute",
        "solution",
        "latin1",
        "utf16",
        "sysctl-shell",
        "exec-shell",
        "frr-syntax",
        "bird-syntax",
        "not-yaml",
    ):
        assert kind in ids, kind
    assert len(ALL_CASES) >= 50


def test_an_unbroken_copy_passes_lint(tmp_path: Path):
    lab_dir = broken_copy(tmp_path, Case("none", "", "", lambda root: None))
    assert operations.lint(str(lab_dir)).id == LAB
