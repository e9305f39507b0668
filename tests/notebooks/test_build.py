"""Notebooks, diagrams and saved configurations without daemons: fast, no root needed.

Every lab in labs/ has its generated notebook, up to date, without outputs, with one nbgrader
grade cell per task worth the task's points.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from nb_helpers import NOTEBOOKS, REPO, nbformat

from manrs_lab.notebook import build
from manrs_lab.notebook.replay import bootable_bird, bootable_frr, editable_nodes
from manrs_lab.notebook.serve import trust_shipped
from manrs_lab.notebook.topology import LinkState, TopologyState, layout, link_states, render_svg
from manrs_lab.spec.loader import lab_ids, load_lab
from manrs_lab.state import BgpSession

LABS = lab_ids()


def test_every_lab_has_an_up_to_date_notebook() -> None:
    assert LABS, "no labs found"
    built, stale = build.plan(NOTEBOOKS, REPO / "grader")
    missing = [str(b.path.relative_to(REPO)) for b in built if not b.path.is_file()]
    changed = [
        str(b.path.relative_to(REPO))
        for b in built
        if b.path.is_file() and b.path.read_text() != b.text
    ]
    problems = missing + changed + [str(p) for p in stale]
    assert not problems, f"run `python notebooks/build.py`: {problems}"


@pytest.mark.parametrize("lab_id", LABS)
def test_notebook_has_a_locked_grade_cell_per_task_and_no_outputs(lab_id: str) -> None:
    lab = load_lab(lab_id)
    [path] = NOTEBOOKS.glob(f"[0-9][0-9]-{lab_id}.ipynb")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in nb.cells
        if c.cell_type == "code"
    )
    grades = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [(c.metadata.nbgrader.grade_id, c.metadata.nbgrader.points) for c in grades] == [
        (t.id, t.points) for t in lab.spec.tasks
    ]
    for cell in grades:
        meta = cell.metadata
        assert meta.nbgrader.locked
        assert meta.editable is False
        assert meta.deletable is False
        assert cell.source.endswith(f'lab.assert_task("{cell.metadata.nbgrader.grade_id}")')
    setup = next(c for c in nb.cells if c.get("id") == "setup")
    assert f'Lab("{lab_id}")' in setup.source
    work = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(work) == len(lab.spec.tasks)
    # The learner configures their router, or (a registry lab) updates the lab's registry.
    # manrs-ready mixes both: its registry tasks' cells are registry updates.
    for cell in work:
        task = cell.metadata.nbgrader.grade_id.removesuffix("-work")
        registry = build._registry_work(lab) or build.registry_task(lab, task)
        assert cell.source.startswith("%%registry_update" if registry else "%%router_config ")
    if lab.spec.registry is not None:
        assert any(c.source.startswith("%whois AS") for c in nb.cells)


def test_instructor_source_differs_only_by_the_solution_region() -> None:
    lab = load_lab("customer-filtering")
    learner = build.build_notebook(lab, 1)
    source = build.build_notebook(lab, 1, instructor=True)
    for a, b in zip(learner.cells, source.cells, strict=True):
        if a.source != b.source:
            assert "### BEGIN SOLUTION" in b.source
            region = re.sub(
                r"### BEGIN SOLUTION.*### END SOLUTION", build.CODE_STUB, b.source, flags=re.S
            )
            assert region == a.source
    answer = "ip prefix-list CUST2-IN seq 10 permit"
    assert answer in "".join(c.source for c in source.cells)
    assert answer not in "".join(c.source for c in learner.cells)


def test_numbers_are_kept_and_new_labs_follow_the_curriculum() -> None:
    numbers = build.assign_numbers(
        ["customer-filtering", "hijack-anatomy", "zz-new"], ["01-customer-filtering.ipynb"]
    )
    assert numbers == {"customer-filtering": 1, "hijack-anatomy": 2, "zz-new": 3}


@pytest.mark.parametrize("lab_id", LABS)
def test_topology_picture_places_every_node_without_overlap(lab_id: str) -> None:
    lab = load_lab(lab_id)
    pos = layout(lab.topology, lab.spec.learner)
    assert set(pos) == set(lab.topology.nodes)
    names = list(pos)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            dx, dy = abs(pos[a][0] - pos[b][0]), abs(pos[a][1] - pos[b][1])
            assert dx >= 116 or dy >= 64, f"{a} and {b} overlap"
    svg = render_svg(lab.topology, lab.spec.learner)
    assert svg.startswith("<svg")
    assert svg.count('class="node"') == len(names)
    assert "<script" not in svg


def test_session_state_colours_the_link_it_runs_over() -> None:
    lab = load_lab("customer-filtering")
    sessions = {
        "edge": [
            BgpSession("10.0.1.2", 64501, "Established", 1),
            BgpSession("10.0.2.2", 64502, "Active"),
        ],
    }
    states = link_states(lab.topology, sessions)
    by_peer = {lab.topology.links[i].b.node: s for i, s in states.items()}
    assert by_peer == {"cust1": [LinkState("Established", 1)], "cust2": [LinkState("Active")]}
    svg = render_svg(lab.topology, "edge", TopologyState({"edge": True, "cust2": False}, states))
    assert "Established · 1 pfx" in svg
    assert ">Active<" in svg
    assert 'data-node="cust2" data-up="false"' in svg


def test_saved_configurations_boot_again() -> None:
    frr = (
        "Building configuration...\n\nCurrent configuration:\n"
        "!\nfrr version 8.4\nhostname x\n!\nend\n"
    )
    assert bootable_frr(frr) == "!\nfrr version 8.4\nhostname x\n!\nend\n"
    bird = (
        'router id 1.2.3.4;\n\n# added by manrs-lab: grader probes\ninclude "manrs-probes.conf";\n'
    )
    assert bootable_bird(bird) == "router id 1.2.3.4;\n"
    assert editable_nodes(load_lab("customer-filtering")) == ["edge"]


def test_a_dual_stack_link_shows_each_family_and_positions_come_from_the_topology_file() -> None:
    lab = load_lab("manrs-capstone")
    sessions = {
        "edge": [
            BgpSession("10.0.1.2", 64501, "Established", 2),
            BgpSession("fd00:0:1::2", 64501, "Active"),
        ],
    }
    states = link_states(lab.topology, sessions)
    cust1 = next(i for i, link in enumerate(lab.topology.links) if link.b.node == "cust1")
    assert states[cust1] == [
        LinkState("Established", 2, "IPv4"),
        LinkState("Active", None, "IPv6"),
    ]
    svg = render_svg(lab.topology, "edge", TopologyState({}, states))
    assert ">IPv4 Established · 2<" in svg
    assert ">IPv6 Active<" in svg
    pos = layout(lab.topology, "edge")
    # As the guide draws it: customers left of edge, transit and the peer right; cust1 above cust2.
    assert pos["cust1"][0] < 0 < pos["transit"][0]
    assert pos["cust1"][1] < pos["cust2"][1]
    assert pos["transit"][1] < pos["peer"][1]


def test_served_notebooks_are_trusted_only_as_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve-notebooks signs the shipped notebooks (so the panel's console buttons run without
    JupyterLab asking), never a copy that differs from them."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    root = tmp_path / "nb"
    root.mkdir()
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))[:2]
    for name in names:
        shutil.copy(NOTEBOOKS / name, root / name)
    edited = nbformat.read(root / names[1], as_version=4)
    edited.cells[0].source += "\nedited"
    nbformat.write(edited, root / names[1])
    assert trust_shipped(root) == [names[0]]
    notary = nbformat.sign.NotebookNotary()
    assert notary.check_signature(nbformat.read(root / names[0], as_version=4))
    assert not notary.check_signature(nbformat.read(root / names[1], as_version=4))
