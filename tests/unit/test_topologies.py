"""Every shipped topology is a real containerlab file: valid against containerlab's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from manrs_lab.runtime.netns import start_groups
from manrs_lab.spec.topology import Role, load_topology

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


def test_start_order_opens_every_session_from_an_early_end():
    """start_groups: BIRD and RTR nodes first, then FRR routers that cover every FRR pair that
    can peer (directly or across an IXP switch), then the rest; every node exactly once."""
    by_lab = {}
    for path in (REPO / "topologies").glob("*.clab.yml"):
        topo = load_topology(path)
        groups = start_groups(topo)
        assert sorted(n for g in groups for n in g) == sorted(topo.nodes)
        by_lab[path.name.removesuffix(".clab.yml")] = groups
        early = {n for g in groups[:-1] for n in g}
        frr = {n for n, node in topo.nodes.items() if node.role is Role.FRR}
        for link in topo.links:
            if {link.a.node, link.b.node} <= frr:
                assert early & {link.a.node, link.b.node}, f"{path.name}: {link}"
    assert by_lab["customer-filtering"] == [["cust1"], ["edge"], ["cust2", "transit"]]
    assert by_lab["ixp-route-server"][0] == ["rs", "rpki", "access"]  # BIRD RS and member, RTR
    assert by_lab["ixp-route-server"][1] == ["content"]  # regional peers with it over the switch
