"""The MANRS readiness report of a running manrs-capstone on real daemons, one boot for both
states: unsolved (filtering and anti-spoofing lagging, from the grader's real probes), then
solved with the reference (ready), through the CLI's JSON export and the notebook's view.

The notebook's HTML of each state is rendered by headless Chromium (when installed) into
artifacts/readiness-{unsolved,solved}.png: docs/images/ holds copies (docs/readiness.md).
About 12 s (two full checks of the capstone, one boot).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab_support import REPO
from manrs_lab import operations, readiness
from manrs_lab.cli import main
from manrs_lab.notebook import Lab
from manrs_lab.notebook.views import ReadinessView, readiness_html
from manrs_lab.progress import SilentProgress
from manrs_lab.readiness import Verdict

pytestmark = pytest.mark.daemons
SEED = 5
WIDTH = 940  # px: a notebook's output area (tests/notebooks/test_diagrams.py)
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


def screenshot(report: readiness.ReadinessReport, state: str) -> None:
    """The panel's readiness section as the browser draws it, the first action's evidence
    opened (six items of it: the docs' picture stays small)."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        return
    if not CHROMIUM.exists():
        return
    html = readiness_html(report, evidence=6).replace("<details", "<details open", 1)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH + 40, "height": 600})
            page.set_content(
                "<html><body style='margin:12px;font-family:sans-serif;font-size:13px'>"
                f"<div style='width:{WIDTH}px'>{html}</div></body></html>"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("div.manrs-readiness").screenshot(
                path=str(ARTIFACTS / f"readiness-{state}.png")
            )
        finally:
            browser.close()


def test_capstone_readiness_unsolved_then_solved(boot_lab, capsys, tmp_path):
    running = boot_lab("manrs-capstone")
    name = running.instance.name

    # Unsolved, through the CLI: the JSON export, exit status 1 (not ready).
    capsys.readouterr()
    assert main(["readiness", name, "--json", "--seed", str(SEED)]) == 1
    data = json.loads(capsys.readouterr().out)
    unsolved = readiness.ReadinessReport.from_dict(data)
    assert data["ready"] is False
    assert (data["asn"], data["router"], data["grade_seed"]) == (64500, "edge", SEED)
    assert data["grade_points"] == 0
    verdicts = {a["action"]: a["verdict"] for a in data["actions"]}
    assert verdicts == {1: "lagging", 2: "lagging", 3: "not assessed", 4: "not assessed"}
    filtering = unsolved.action(1)
    leaked = {e.check for e in filtering.evidence if e.outcome in ("got through", "leaked")}
    assert {"transit-receives-ours-only", "cust1-others-space-dropped"} <= leaked
    assert all(e.detail for e in filtering.evidence)  # the grader's own words, as evidence
    spoofing = unsolved.action(2)
    assert spoofing.share == 0
    assert {e.outcome for e in spoofing.evidence if e.check and "spoofed" in e.check} == {
        "got through"
    }
    assert unsolved.action(3).summary == "not assessed: this lab has no registry"
    screenshot(unsolved, "unsolved")

    # Solved, from a notebook: Check grades every task of a capstone, and the readiness
    # report comes with it, in the panel under the score.
    operations.solve(name, SilentProgress())
    lab = Lab("manrs-capstone", instance=name, start=False, notebook_dir=tmp_path)
    assert lab.check().passed
    solved = lab.last_readiness
    assert solved is not None, lab.readiness_error
    assert solved.grade_points == solved.grade_max_points == 10
    assert solved.action(1).verdict is Verdict.READY
    assert solved.action(1).share == 1.0
    assert solved.action(2).verdict is Verdict.READY
    assert solved.action(4).verdict is Verdict.NOT_ASSESSED
    assert solved.ready
    view = ReadinessView(solved)
    assert view.verdict(1) == "ready"
    assert json.loads(view.to_json())["ready"] is True
    html = panel_results(lab)
    if html is not None:
        assert "MANRS readiness of AS64500" in html
        assert "data-verdict='ready'" in html
        assert "Download as JSON" in html
    screenshot(solved, "solved")


def panel_results(lab: Lab) -> str | None:
    """The panel's results area (None without ipywidgets)."""
    try:
        from manrs_lab.notebook.panel import LabPanel  # noqa: PLC0415
    except ImportError:
        return None
    panel = LabPanel(lab, refresh_seconds=60)
    try:
        return str(panel.results.value)
    finally:
        panel.close()
