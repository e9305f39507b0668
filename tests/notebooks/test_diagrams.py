"""Every lab's topology picture, rendered by headless Chromium at a notebook's width: every
label at least 11 px on screen, no label over another or over a box, each link labelled with
each address family's session. Screenshots go to artifacts/diagram-<lab>.png (docs/images/ holds
the capstone's).

No lab runs: the session states are made up (every session Established, IPv6 too where the lab
is dual-stack), the longest labels the panel shows. About 5 s for all labs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nb_helpers import ARTIFACTS, CHROMIUM

from manrs_lab.notebook.topology import TopologyState, link_states, render_svg
from manrs_lab.spec.loader import Lab, lab_ids, load_lab
from manrs_lab.state import BgpSession

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the notebook extra")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
)

NOTEBOOK_WIDTH = 940  # px: a notebook's output area in a 1400 px window, file browser open
MIN_LABEL_PX = 11.0

MEASURE = """
() => {
  const svg = document.querySelector('svg.manrs-topology');
  const scale = svg.getScreenCTM().a;
  const box = r => ({x0: r.left, y0: r.top, x1: r.right, y1: r.bottom});
  const texts = [...svg.querySelectorAll('text')].map(t => ({
    text: t.textContent,
    px: parseFloat(t.getAttribute('font-size')) * scale,
    node: t.closest('g.node') ? t.closest('g.node').dataset.node : null,
    session: t.classList.contains('session'),
    family: t.dataset.family || null,
    ...box(t.getBoundingClientRect()),
  }));
  const nodes = [...svg.querySelectorAll('g.node')].map(g => ({
    node: g.dataset.node, ...box(g.querySelector('rect').getBoundingClientRect()),
  }));
  return {texts, nodes, width: svg.getBoundingClientRect().width};
}
"""


def dual_stack(lab: Lab) -> bool:
    return any(
        "fd00:" in (lab.config_path(n) or Path("/nonexistent")).read_text()
        for n in lab.spec.nodes
        if lab.config_path(n) is not None
    )


def busy_state(lab: Lab) -> TopologyState:
    """Every router link carries an Established session (both families on dual-stack labs)."""
    topo = lab.topology
    sessions: dict[str, list[BgpSession]] = {}
    for link in topo.links:
        a, b = topo.nodes[link.a.node], topo.nodes[link.b.node]
        if not (a.role.is_router and b.role.is_router) or b.asn is None:
            continue
        found = sessions.setdefault(a.name, [])
        found.append(BgpSession("10.0.0.2", b.asn, "Established", 12))
        if dual_stack(lab):
            found.append(BgpSession("fd00::2", b.asn, "Established", 12))
    return TopologyState(dict.fromkeys(topo.nodes, True), link_states(topo, sessions))


def overlap(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (
        a["x0"] + slack < b["x1"]
        and b["x0"] + slack < a["x1"]
        and a["y0"] + slack < b["y1"]
        and b["y0"] + slack < a["y1"]
    )


@pytest.fixture(scope="module")
def page():
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser.new_page(viewport={"width": NOTEBOOK_WIDTH + 40, "height": 900})
        finally:
            browser.close()


@pytest.mark.parametrize("lab_id", lab_ids())
def test_diagram_labels_are_readable_and_never_overlap(page, lab_id: str) -> None:
    lab = load_lab(lab_id)
    state = busy_state(lab)
    svg = render_svg(lab.topology, lab.spec.learner, state)
    page.set_content(
        "<html><body style='margin:20px;font-family:sans-serif'>"
        f"<div id='out' style='width:{NOTEBOOK_WIDTH}px'>{svg}</div></body></html>"
    )
    found = page.evaluate(MEASURE)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("svg.manrs-topology").screenshot(path=str(ARTIFACTS / f"diagram-{lab_id}.png"))

    small = [
        (t["text"], round(t["px"], 1)) for t in found["texts"] if t["px"] < MIN_LABEL_PX - 0.01
    ]
    assert not small, f"labels under {MIN_LABEL_PX} px on screen: {small}"
    texts = found["texts"]
    clashes = [
        (a["text"], b["text"]) for i, a in enumerate(texts) for b in texts[i + 1 :] if overlap(a, b)
    ]
    assert not clashes, f"labels over each other: {clashes}"
    over_boxes = [
        (t["text"], n["node"])
        for t in texts
        for n in found["nodes"]
        if t["node"] != n["node"] and overlap(t, n)
    ]
    assert not over_boxes, f"labels over a box: {over_boxes}"
    # One session label per address family on every link between routers.
    families = 2 if dual_stack(lab) else 1
    router_links = sum(
        1
        for link in lab.topology.links
        if lab.topology.nodes[link.a.node].role.is_router
        and lab.topology.nodes[link.b.node].role.is_router
    )
    assert sum(t["session"] for t in texts) == families * router_links
