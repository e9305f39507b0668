"""Lab specs and topologies: every mistake is reported with its file and field."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest
import yaml

from manrs_lab.cli import main
from manrs_lab.errors import SpecError
from manrs_lab.spec.lab import LabSpecFile, MoreSpecific
from manrs_lab.spec.loader import lab_ids, load_lab
from manrs_lab.spec.topology import Role, load_topology

REPO = Path(__file__).resolve().parents[2]
LAB = "customer-filtering"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A writable copy of the content root with the customer-filtering lab."""
    shutil.copytree(REPO / "labs" / LAB, tmp_path / "labs" / LAB)
    shutil.copytree(REPO / "topologies", tmp_path / "topologies")
    return tmp_path


def edit_yaml(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def problems(lab_dir: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_lab(str(lab_dir))
    assert info.value.path.name in {"lab.yaml", f"{LAB}.clab.yml"}
    return info.value.problems


def test_every_shipped_lab_loads():
    assert LAB in lab_ids()
    for lab_id in lab_ids():
        lab = load_lab(lab_id)
        assert lab.spec.id == lab_id
        assert lab.topology.nodes[lab.spec.learner].role.is_router


def test_misspelt_field_is_named(content: Path):
    lab_dir = content / "labs" / LAB
    edit_yaml(lab_dir / "lab.yaml", lambda d: d["checks"][1].update(wiat=3))
    assert problems(lab_dir) == ["checks.1.wiat: unknown field (check the spelling)"]


def test_unknown_check_and_bad_parameters_are_named(content: Path):
    lab_dir = content / "labs" / LAB

    ids = [c["id"] for c in yaml.safe_load((lab_dir / "lab.yaml").read_text())["checks"]]
    c1, c3 = ids.index("cust1-reaches-transit"), ids.index("cust2-reaches-transit")

    def change(d: dict) -> None:
        d["checks"][c1]["check"] = "route_recieved"
        d["checks"][c3]["with"]["origin_as"] = "sixty-four"
        d["checks"][c1 + 1]["with"] = {"observers": ["edge", "nowhere"]}

    edit_yaml(lab_dir / "lab.yaml", change)
    found = problems(lab_dir)
    assert any(
        p.startswith(f"checks[{c1}] (cust1-reaches-transit).check: unknown check 'route_recieved'")
        for p in found
    )
    assert any(p.startswith(f"checks[{c3}] (cust2-reaches-transit).with.origin_as:") for p in found)
    assert any("'nowhere' is not a router" in p for p in found)


def _first_probe(d: dict) -> int:
    return next(i for i, c in enumerate(d["checks"]) if "probe" in c)


def test_cross_file_mistakes(content: Path):
    lab_dir = content / "labs" / LAB

    def change(d: dict) -> None:
        d["learner"] = "cust9"
        d["nodes"]["cust1"]["config"] = "configs/missing.conf"
        d["checks"][1]["requires"] = ["later-check"]
        d["checks"][_first_probe(d)]["task"] = "no-such-task"
        d["checks"][_first_probe(d)]["probe"]["announce"]["node"] = "ghost"

    edit_yaml(lab_dir / "lab.yaml", change)
    found = "\n".join(problems(lab_dir))
    assert "learner: 'cust9' is not a router" in found
    assert "nodes.cust1.config:" in found
    assert "missing.conf does not exist" in found
    assert "requires: 'later-check' is not an earlier check" in found
    assert "task: no task 'no-such-task'" in found
    assert "probe.announce.node: not a router" in found


def test_probe_check_without_probe(content: Path):
    lab_dir = content / "labs" / LAB
    edit_yaml(lab_dir / "lab.yaml", lambda d: d["checks"][_first_probe(d)].pop("probe"))
    assert any("grades what a probe does" in p for p in problems(lab_dir))


def test_schema_version_is_required(content: Path):
    lab_dir = content / "labs" / LAB
    edit_yaml(lab_dir / "lab.yaml", lambda d: d.update(schema=2))
    assert any(p.startswith("schema:") for p in problems(lab_dir))


def test_topology_mistakes_name_node_and_label(content: Path):
    path = content / "topologies" / f"{LAB}.clab.yml"

    def change(d: dict) -> None:
        d["topology"]["nodes"]["cust1"]["labels"]["manrs.role"] = "juniper"
        d["topology"]["nodes"]["transit"]["labels"].pop("manrs.asn")
        d["topology"]["links"].append({"endpoints": ["edge:eth1", "nowhere:eth1"]})

    edit_yaml(path, change)
    with pytest.raises(SpecError) as info:
        load_topology(path)
    found = "\n".join(info.value.problems)
    assert "topology.nodes.cust1.labels.manrs.role: 'juniper' is not one of" in found
    assert "topology.nodes.transit.labels.manrs.asn: a router needs its AS number" in found
    assert "unknown node 'nowhere'" in found
    assert "edge:eth1 is used twice" in found


def test_topology_roles_and_links():
    topo = load_topology(REPO / "topologies" / f"{LAB}.clab.yml")
    assert topo.nodes["cust1"].role is Role.BIRD
    assert topo.nodes["edge"].asn == 64500
    assert [(a.iface, b.node) for a, b in topo.links_of("edge")] == [
        ("eth1", "cust1"),
        ("eth2", "cust2"),
        ("eth3", "transit"),
    ]


def test_lint_command_reports_file_and_field(content: Path, capsys: pytest.CaptureFixture[str]):
    lab_dir = content / "labs" / LAB
    edit_yaml(lab_dir / "lab.yaml", lambda d: d["tasks"][0].update(point=2))
    assert main(["lint", str(lab_dir)]) == 1
    out = capsys.readouterr().out.replace("\n", "")
    assert "lab.yaml" in out
    assert "tasks.0.point: unknown field" in out
    assert main(["lint", LAB]) == 0


def test_exported_json_schema_is_current():
    committed = json.loads((REPO / "docs" / "lab.schema.json").read_text())
    assert committed == LabSpecFile.model_json_schema(by_alias=True), (
        "regenerate: manrs-lab schema > docs/lab.schema.json"
    )


def test_more_specific_draws_stay_inside_and_vary():
    draw = MoreSpecific(more_specific_of="198.18.1.0/24", lengths=(25, 28))
    rng = random.Random(3)
    drawn = {draw.draw(rng) for _ in range(50)}
    assert len(drawn) > 5
    for prefix in drawn:
        net_text, length = prefix.split("/")
        assert 25 <= int(length) <= 28
        assert net_text.startswith("198.18.1.")


@pytest.mark.parametrize(
    ("parent", "lengths", "host"),
    [("198.18.1.0/24", (25, 28), "198.18.1.10"), ("2001:db8:1::/48", (49, 64), "2001:db8:1::10")],
)
def test_more_specific_draws_never_cover_an_avoided_host(parent, lengths, host):
    free = MoreSpecific(more_specific_of=parent, lengths=lengths)
    avoiding = MoreSpecific(more_specific_of=parent, lengths=lengths, avoid=[host])
    rng = random.Random(7)
    assert any(ip_address(host) in ip_network(free.draw(rng)) for _ in range(400))
    drawn = [avoiding.draw(rng) for _ in range(400)]
    assert not any(ip_address(host) in ip_network(p) for p in drawn)
    assert all(ip_network(p).subnet_of(ip_network(parent)) for p in drawn)  # type: ignore[arg-type]
    assert len(set(drawn)) > 20


def test_a_draw_with_every_prefix_avoided_is_an_error():
    both_halves = MoreSpecific(
        more_specific_of="198.18.1.0/24", lengths=(25, 25), avoid=["198.18.1.1", "198.18.1.129"]
    )
    with pytest.raises(ValueError, match="covers an address to avoid"):
        both_halves.draw(random.Random(1))


def test_staged_labs_need_a_solution_for_every_task(content: Path):
    lab_dir = content / "labs" / LAB
    edit_yaml(
        lab_dir / "lab.yaml",
        lambda d: d["tasks"][0].update(solution={"edge": "solution/edge.conf"}),
    )
    assert any("give every task a `solution` or none" in p for p in problems(lab_dir))

    def both(d: dict) -> None:
        d["tasks"][0]["solution"] = {"edge": "solution/edge.conf"}
        d["tasks"][1]["solution"] = {"edge": "solution/missing.conf"}

    edit_yaml(lab_dir / "lab.yaml", both)
    assert any(
        p.startswith("tasks.filter-cust2.solution.edge:") and "does not exist" in p
        for p in problems(lab_dir)
    )


def test_staged_lab_exposes_each_tasks_solution():
    lab = load_lab("hijack-anatomy")
    assert lab.staged
    assert not load_lab(LAB).staged
    assert lab.task_solution_paths("exact-prefix")["evil"].name == "1-exact-prefix.conf"


def test_a_fixed_prefix_probed_from_two_nodes_past_the_learner_needs_an_order(tmp_path: Path):
    """Route-server checks are graded at members: one member's probe route, if best at the
    route server, hides another's for the same prefix. Unordered, neither exclusive: named."""
    lab = "ixp-route-server"
    shutil.copytree(REPO / "labs" / lab, tmp_path / "labs" / lab)
    shutil.copytree(REPO / "topologies", tmp_path / "topologies")
    lab_dir = tmp_path / "labs" / lab
    assert load_lab(str(lab_dir)).spec.id == lab  # as shipped: exclusive where it is needed

    def change(d: dict) -> None:
        check = next(c for c in d["checks"] if c["id"] == "content-foreign-64512-dropped")
        check["probe"].pop("exclusive")

    edit_yaml(lab_dir / "lab.yaml", change)
    found = problems(lab_dir)
    assert len(found) == 2, found
    assert all("announces 198.18.12.0/24 from regional" in p for p in found)
    assert "(regional-invalid-dropped).probe" in found[0]
    assert "(regional-next-hop-dropped).probe" in found[1]
    assert "give it `after: [content-foreign-64512-dropped]` or `exclusive: true`" in found[0]
