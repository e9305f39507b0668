"""The containerlab runtime without containers: rendered files, the inspect parser, clear errors.

None of these needs Docker or root; they run everywhere (the schema tests skip where
../shared is absent).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from manrs_lab.drivers.daemons import BIRD_PROBES
from manrs_lab.errors import ConfigSyntaxError, LabError
from manrs_lab.instance import Instance
from manrs_lab.paths import STATE_ENV
from manrs_lab.progress import SilentProgress
from manrs_lab.runtime import clab_render
from manrs_lab.runtime.clab_inspect import parse_inspect
from manrs_lab.runtime.containerlab import ContainerlabRuntime
from manrs_lab.runtime.docker_exec import DockerExec
from manrs_lab.runtime.registry import RUNTIME_ENV, choose_runtime, make_runtime, runtime_names
from manrs_lab.spec.loader import Lab, lab_ids, load_lab
from manrs_lab.spec.topology import Role, load_topology

REPO = Path(__file__).resolve().parents[2]
CLAB_REF = REPO.parent / "shared" / "reference" / "containerlab"
LAB_DIRS = [REPO / "labs" / i for i in lab_ids()] + sorted(
    p.parent for p in (REPO / "tests" / "content" / "labs").glob("*/lab.yaml")
)
EXPECTED_BINDS = {
    Role.FRR: {"frr.conf:/etc/frr/frr.conf", "vtysh.conf:/etc/frr/vtysh.conf"},
    Role.BIRD: {"bird.conf:/etc/bird/bird.conf", f"{BIRD_PROBES}:/etc/bird/{BIRD_PROBES}"},
    Role.RTR: {"vrps.json:/etc/stayrtr/vrps.json"},
    Role.HOST: set(),
}


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture(scope="module")
def clab_schema() -> dict[str, Any]:
    path = CLAB_REF / "clab.schema.json"
    if not path.is_file():
        pytest.skip(f"containerlab's schema is not here ({path}: ../shared is absent)")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def new_instance(lab: Lab, name: str = "t-render") -> Instance:
    return Instance(
        name=name,
        lab=lab.id,
        runtime="containerlab",
        lab_folder=str(lab.folder),
        nodes={n: node.role.value for n, node in lab.topology.nodes.items()},
    )


def test_the_runtime_is_registered():
    assert "containerlab" in runtime_names()
    lab = load_lab(str(LAB_DIRS[0]))
    runtime = make_runtime("containerlab", lab)
    assert isinstance(runtime, ContainerlabRuntime)
    assert runtime.local_dir(new_instance(lab), lab.spec.learner) is None


@pytest.mark.parametrize("lab_dir", LAB_DIRS, ids=lambda p: p.name)
def test_rendered_file_is_valid_containerlab(
    lab_dir: Path, clab_schema: dict[str, Any], state: Path
):
    lab = load_lab(str(lab_dir))
    inst = new_instance(lab)
    path = ContainerlabRuntime(lab).render(inst)
    assert path == state / inst.name / f"{inst.name}.clab.yml"
    doc = yaml.safe_load(path.read_text())

    validator = jsonschema.validators.validator_for(clab_schema)(clab_schema)
    errors = [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(doc)
    ]
    assert not errors, f"{path} is not a valid containerlab file:\n" + "\n".join(errors)

    assert doc["name"] == inst.name
    assert (
        doc["topology"]["links"]
        == yaml.safe_load(lab.topology.path.read_text())["topology"]["links"]
    )
    again = load_topology(path)  # the project reads its own rendering like any topology
    assert set(again.nodes) == set(lab.topology.nodes)
    for name, node in lab.topology.nodes.items():
        spec = doc["topology"]["nodes"][name]
        assert spec["image"] == node.image
        assert spec["network-mode"] == "none"
        assert list(spec.get("exec", [])) == list(node.exec)
        binds = spec.get("binds", [])
        assert {b.removeprefix(f"{name}/") for b in binds} == EXPECTED_BINDS[node.role]
        for bind in binds:  # relative to the file's folder, as containerlab resolves them
            assert (path.parent / bind.split(":")[0]).is_file(), bind
        sysctls = spec["sysctls"]
        assert sysctls["net.ipv4.conf.all.rp_filter"] == "0"
        assert sysctls["net.ipv6.conf.all.disable_ipv6"] == "0"
        forwarding = "1" if node.role.is_router else None
        assert sysctls.get("net.ipv4.ip_forward") == forwarding
        assert sysctls.get("net.ipv6.conf.all.forwarding") == forwarding
        assert spec["labels"]["manrs.role"] == node.role.value
        assert spec["labels"]["manrs.instance"] == inst.name
        if node.role is Role.BIRD:
            conf = (inst.node_dir(name) / "bird.conf").read_text()
            assert conf.rstrip().endswith(f'include "{BIRD_PROBES}";')
            assert (inst.node_dir(name) / BIRD_PROBES).read_text() == ""
        config = lab.config_path(name)
        if node.role is Role.FRR and config is not None:
            assert (inst.node_dir(name) / "frr.conf").read_text() == config.read_text()


def test_rendering_keeps_the_topologys_own_keys(tmp_path: Path):
    """Extra containerlab keys survive; a node's own sysctls win; relative binds become absolute."""
    lab = load_lab("customer-filtering")
    topo = tmp_path / "topologies" / "extra.clab.yml"
    topo.parent.mkdir()
    raw = yaml.safe_load(lab.topology.path.read_text())
    raw["prefix"] = "other"
    raw["mgmt"] = {"network": "lab-mgmt"}
    raw["topology"]["nodes"]["transit"].update(
        {
            "sysctls": {"net.ipv4.conf.all.rp_filter": 1},
            "binds": ["extra/motd:/etc/motd:ro", "/abs/file:/etc/file", "x:/etc/frr/frr.conf"],
            "network-mode": "host",
            "env": {"A": "1"},
        }
    )
    topo.write_text(yaml.safe_dump(raw))
    lab = Lab(spec=lab.spec, folder=lab.folder, topology=load_topology(topo))
    inst = new_instance(lab, "t-extra")
    doc = yaml.safe_load(ContainerlabRuntime(lab).render(inst).read_text())
    assert "prefix" not in doc  # containers must be clab-<instance>-<node>
    assert doc["mgmt"] == {"network": "lab-mgmt"}
    transit = doc["topology"]["nodes"]["transit"]
    assert transit["sysctls"]["net.ipv4.conf.all.rp_filter"] == "1"
    assert transit["sysctls"]["net.ipv4.ip_forward"] == "1"
    assert transit["network-mode"] == "host"
    assert transit["env"] == {"A": "1"}
    assert transit["binds"] == [
        f"{topo.parent / 'extra' / 'motd'}:/etc/motd:ro",
        "/abs/file:/etc/file",
        "transit/frr.conf:/etc/frr/frr.conf",  # ours replaces the topology's own
        "transit/vtysh.conf:/etc/frr/vtysh.conf",
    ]


def test_config_overrides_are_what_gets_mounted(tmp_path: Path):
    lab = load_lab("customer-filtering")
    saved = tmp_path / "edge-saved.conf"
    saved.write_text("frr defaults traditional\nhostname edge\n")
    inst = new_instance(lab)
    inst.config_overrides = {"edge": str(saved)}
    ContainerlabRuntime(lab).render(inst)
    assert (inst.node_dir("edge") / "frr.conf").read_text() == saved.read_text()


def test_a_broken_vrp_file_is_refused_while_rendering(tmp_path: Path):
    lab = load_lab(str(REPO / "tests" / "content" / "labs" / "driver-sandbox"))
    bad = tmp_path / "vrps.json"
    bad.write_text('{"roas": [{"prefix": "198.18.0.0/24", "maxLength": 8, "asn": "AS1"}]}')
    inst = new_instance(lab)
    inst.config_overrides = {"rpki": str(bad)}
    with pytest.raises(ConfigSyntaxError, match="maxLength"):
        ContainerlabRuntime(lab).render(inst)


def test_inspect_parser_reads_containerlabs_example():
    path = CLAB_REF / "inspect-example.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not next to this checkout)")
    containers = parse_inspect(path.read_text())
    assert [(c.lab_name, c.node, c.name, c.state) for c in containers] == [
        ("vlan", "client1", "clab-vlan-client1", "running"),
        ("vlan", "client2", "clab-vlan-client2", "running"),
    ]
    first = containers[0]
    assert first.running
    assert first.container_id == "2c70173f3f41"
    assert first.image == "ghcr.io/srl-labs/alpine"
    assert first.kind == "linux"
    assert first.status == "Up 4 hours"
    assert first.ipv4_address == "172.20.20.4/24"
    assert first.ipv6_address == "3fff:172:20:20::4/64"
    assert first.lab_path == "/root/projects/srlinux-vlan-handling-lab/vlan.clab.yml"
    assert first.owner == "root"


def test_inspect_parser_reads_older_and_empty_output():
    old = {
        "containers": [
            {
                "lab_name": "lab1",
                "name": "clab-lab1-r1",
                "container_id": "abc",
                "image": "manrs-lab/frr:latest",
                "kind": "linux",
                "state": "exited",
                "status": "Exited (1) 2 seconds ago",
                "ipv4_address": "N/A",
                "ipv6_address": "N/A",
                "labels": {"clab-node-name": "r1"},
            }
        ]
    }
    (only,) = parse_inspect(json.dumps(old))
    assert (only.lab_name, only.node, only.running) == ("lab1", "r1", False)
    assert parse_inspect("") == []
    assert parse_inspect("{}") == []
    assert parse_inspect("[]") == []
    assert [c.node for c in parse_inspect(json.dumps(old["containers"]))] == ["r1"]
    with pytest.raises(LabError, match="did not print JSON"):
        parse_inspect("INFO no containers found")


def test_missing_containerlab_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no containerlab (nor anything else) here
    lab = load_lab("customer-filtering")
    inst = new_instance(lab)
    with pytest.raises(LabError, match=r"containerlab is not installed.*containerlab\.dev/install"):
        ContainerlabRuntime(lab).deploy(inst, SilentProgress())
    assert not inst.folder.exists()  # nothing was created


def test_missing_docker_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # `import docker` raises ImportError
    with pytest.raises(LabError, match="pip install docker"):
        DockerExec().client()


def test_unreachable_docker_engine_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(LabError, match=r"Docker engine does not answer.*install Docker"):
        DockerExec().client()


def test_container_names_follow_containerlab():
    assert clab_render.container_name("cf", "edge") == "clab-cf-edge"


def test_notebooks_choose_the_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """`Lab(..., runtime=)` wins; else $MANRS_LAB_RUNTIME, where containerlab falls back to netns
    when its binary is absent; else netns. Unknown names are refused, naming the known ones."""
    monkeypatch.delenv(RUNTIME_ENV, raising=False)
    assert choose_runtime() == "netns"
    assert choose_runtime("containerlab") == "containerlab"
    with pytest.raises(LabError, match="known runtimes: containerlab, netns"):
        choose_runtime("docker")
    monkeypatch.setenv("PATH", str(tmp_path))  # no containerlab here
    monkeypatch.setenv(RUNTIME_ENV, "containerlab")
    assert choose_runtime() == "netns"
    (tmp_path / "containerlab").write_text("#!/bin/sh\n")
    (tmp_path / "containerlab").chmod(0o755)
    assert choose_runtime() == "containerlab"
    monkeypatch.setenv(RUNTIME_ENV, "kvm")
    with pytest.raises(LabError, match="MANRS_LAB_RUNTIME='kvm' is not a runtime"):
        choose_runtime()
