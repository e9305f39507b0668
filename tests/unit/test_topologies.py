"""Every shipped topology is a real containerlab file: valid against containerlab's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from manrs_lab.spec.topology import load_topology

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO.parent / "shared" / "reference" / "containerlab" / "clab.schema.json"
TOPOLOGIES = sorted(
    [*(REPO / "topologies").glob("*.clab.yml"), *(REPO / "tests" / "content").glob("*/*.clab.yml")]
)


@pytest.fixture(scope="module")
def clab_schema() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.skip(f"containerlab's schema is not here ({SCHEMA}: ../shared is absent)")
    schema: dict[str, Any] = json.loads(SCHEMA.read_text())
    return schema


def test_there_are_topologies():
    assert any(p.parent.name == "topologies" for p in TOPOLOGIES)


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.name)
def test_topology_validates_against_containerlab_schema(path: Path, clab_schema: dict[str, Any]):
    validator = jsonschema.validators.validator_for(clab_schema)(clab_schema)
    errors = [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(yaml.safe_load(path.read_text()))
    ]
    assert not errors, f"{path} is not a valid containerlab file:\n" + "\n".join(errors)
    assert load_topology(path).nodes  # and the project reads it
