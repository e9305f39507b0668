"""Every shipped topology is a real containerlab file: valid against containerlab's schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from manrs_lab.errors import SpecError
from manrs_lab.runtime.netns import start_groups
from manrs_lab.spec.loader import lab_ids, load_lab
from manrs_lab.spec.topology import STARTUP_TARGETS, Role, load_topology

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
    # containerlab's YAML parser refuses a key given twice in one mapping (PyYAML keeps the last)
    yaml.load(path.read_text(), Loader=UniqueKeyLoader)


class UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        twice = sorted({str(k) for k in keys if keys.count(k) > 1})
        assert not twice, f"line {node.start_mark.line + 1}: keys given twice: {twice}"
        return super().construct_mapping(node, deep=deep)


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


def test_every_lab_topology_carries_its_starting_configs():
    """`containerlab deploy -t topologies/<lab>.clab.yml` needs nothing else: every node with a
    starting config binds the lab's own file (the one lab.yaml names: one source of truth),
    read-only, where its image reads it; no node is on a management network; routers forward."""
    for lab_id in lab_ids():
        lab = load_lab(lab_id)
        topo = lab.topology
        raw = yaml.safe_load(topo.path.read_text())["topology"]
        for name, node in topo.nodes.items():
            spec = raw["nodes"][name]
            assert spec["network-mode"] == "none", f"{topo.path.name}: {name}"
            config = lab.config_path(name)
            if config is None:
                assert node.startup_bind(topo.path.parent) is None
                continue
            (bind,) = [b for b in spec["binds"] if STARTUP_TARGETS[node.role] in b]
            assert bind.endswith(":ro"), bind
            assert not Path(bind.split(":")[0]).is_absolute(), bind
            assert node.startup_bind(topo.path.parent) == config.resolve()
            if node.role.is_router:
                assert dict(node.sysctls)["net.ipv4.ip_forward"] == "1"
        # defaults reach every node, as containerlab merges them
        assert all(
            dict(n.sysctls)["net.ipv6.conf.all.disable_ipv6"] == "0" for n in topo.nodes.values()
        )


def test_a_topology_binding_another_file_than_lab_yaml_is_refused(tmp_path: Path):
    shutil.copytree(REPO / "labs" / "customer-filtering", tmp_path / "labs" / "customer-filtering")
    shutil.copytree(REPO / "topologies", tmp_path / "topologies")
    path = tmp_path / "topologies" / "customer-filtering.clab.yml"
    text = path.read_text()
    path.write_text(text.replace("configs/cust2.conf:/etc/frr", "configs/transit.conf:/etc/frr"))
    with pytest.raises(SpecError) as info:
        load_lab(str(tmp_path / "labs" / "customer-filtering"))
    (problem,) = info.value.problems
    assert problem.startswith("nodes.cust2.config: ")
    assert "transit.conf" in problem
    assert "bind the same file" in problem


def test_defaults_merge_like_containerlab(tmp_path: Path):
    """Node sysctls override defaults; a node bind replaces a default with the same target."""
    path = tmp_path / "t.clab.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "t",
                "topology": {
                    "defaults": {
                        "sysctls": {"net.ipv4.ip_forward": 0, "net.ipv4.conf.all.rp_filter": 0},
                        "binds": ["a.conf:/etc/frr/frr.conf:ro", "x:/x"],
                    },
                    "nodes": {
                        "r1": {
                            "labels": {"manrs.role": "frr", "manrs.asn": "64500"},
                            "sysctls": {"net.ipv4.ip_forward": 1},
                            "binds": ["b.conf:/etc/frr/frr.conf:ro"],
                        }
                    },
                },
            }
        )
    )
    node = load_topology(path).nodes["r1"]
    assert dict(node.sysctls) == {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0"}
    assert node.binds == ("x:/x", "b.conf:/etc/frr/frr.conf:ro")
    assert node.startup_bind(tmp_path) == tmp_path / "b.conf"
