"""The lab panel in a real JupyterLab, driven by headless Chromium (Playwright).

JupyterLab is served on 127.0.0.1 (a free port, a token) from a copy of notebooks/; Debian's
Chromium opens the first lab's notebook and runs its setup cell. The lab starts on its own; the
test stops it and starts it again with the panel's buttons, waits until every node is up and the
topology shows the BGP sessions Established, clicks Check and waits for the results. Screenshots
go to artifacts/ (gitignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from nb_helpers import ARTIFACTS, CHROMIUM, REPO, copy_notebooks, nbformat, notebook_for

from manrs_lab.notebook.serve import Server, free_port
from manrs_lab.spec.loader import load_lab

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the notebook extra")

pytestmark = [
    pytest.mark.daemons,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
    ),
]
LAB = "customer-filtering"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 90_000


def start_jupyter(root: Path, home: Path) -> tuple[Server, subprocess.Popen[bytes]]:
    server = Server(root, free_port(0), secrets.token_hex(16), home / "lab-settings")
    server.write_settings()
    # Terminals keep their text in the page (xterm's screen-reader rows) for the test to read.
    overrides = server.settings_dir / "overrides.json"
    settings = json.loads(overrides.read_text())
    settings["@jupyterlab/terminal-extension:plugin"] = {"screenReaderMode": True}
    overrides.write_text(json.dumps(settings))
    env = server.env()
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
    ):
        env[var] = str(home / sub)
    log = (home / "jupyter.log").open("wb")
    proc = subprocess.Popen(
        server.argv(),
        env=env,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return server, proc


def stop_jupyter(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_the_learners_journey_in_jupyterlab(tmp_path: Path, kernel_env: str):
    """Start; a failed check shows hint 1, a second hint 2; a configuration cell marks the score
    stale; Stop asks first (and saves); Start offers the saved configuration and restores it;
    a check passes and names the next lab; a node's console button opens a terminal on it."""
    lab = load_lab(LAB)
    root = tmp_path / "notebooks"
    copy_notebooks(root)
    # The learner types the reference solution into the first task's work cell.
    path = root / notebook_for(LAB).name
    nb = nbformat.read(path, as_version=4)
    work = next(c for c in nb.cells if c.get("id") == "filter-cust1-work")
    work.source = "%%router_config edge\n" + lab.solution_path("edge").read_text()
    nbformat.write(nb, path)
    shutil.copy(REPO / "notebooks" / "build.py", root / "build.py")  # hidden from the learner
    home = tmp_path / "jupyter"
    home.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    server, proc = start_jupyter(root, home)
    try:
        server.wait_ready(proc)
        url = f"{server.base_url}/lab/tree/{path.name}?token={server.token}"
        with sync_api.sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1100},
            )
            try:
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                try:
                    journey(page, url, lab, root)
                except Exception:
                    page.screenshot(path=str(ARTIFACTS / "notebook-failure.png"), full_page=True)
                    raise
            finally:
                context.close()
    finally:
        stop_jupyter(proc)


def run_cell(page, cell) -> None:
    """Run a notebook cell and wait until the kernel took it ("[*]:" or "[n]:")."""
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    for _ in range(10):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        # JupyterLab may drop a run asked for while the kernel connection is being set up.
        try:
            page.wait_for_function(
                "([el, before]) => el.innerText !== before"
                " && /\\[(\\*|\\d+)\\]/.test(el.innerText)",
                arg=[prompt.element_handle(), before],
                timeout=5_000,
            )
            return
        except sync_api.TimeoutError:
            continue
    raise AssertionError("the cell never ran")


def check_and_wait(page, panel) -> None:
    results = panel.locator(".manrs-results")
    before = results.inner_text() if results.count() else ""
    panel.locator("button", has_text="Check").click()
    panel.locator(".manrs-phase[data-phase='checking']").wait_for()
    panel.locator(".manrs-phase[data-phase='running']").wait_for()
    page.wait_for_function(
        "before => { const r = document.querySelector('.manrs-lab-panel .manrs-results');"
        " return r && r.innerText !== before; }",
        arg=before,
    )


def journey(page, url: str, lab, root: Path) -> None:
    page.goto(url)
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for()
    page.locator(".jp-DirListing-item", has_text="01-").first.wait_for()
    assert page.locator(".jp-DirListing-item", has_text="build.py").count() == 0
    run_cell(page, page.locator(".jp-CodeCell", has_text="lab.panel()").first)
    panel = page.locator(".manrs-lab-panel")
    panel.wait_for()
    running = panel.locator(".manrs-phase[data-phase='running']")
    running.wait_for()  # the lab starts by itself
    # nbgrader's instructor tools are not in the learner's JupyterLab.
    assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 0
    assert page.locator(".jp-Toolbar button", has_text="Validate").count() == 0
    assert page.get_by_text("Create Assignment").count() == 0
    page.wait_for_function(
        "() => [...document.querySelectorAll('.manrs-topology text.session')]"
        ".some(t => t.textContent.startsWith('Established'))"
    )

    # Two failed checks: hint 1 of the first task, then hint 2.
    task = lab.spec.tasks[0]
    hint = panel.locator(f".manrs-hint[data-task='{task.id}']")
    check_and_wait(page, panel)
    total = sum(t.points for t in lab.spec.tasks)
    assert panel.locator(".manrs-score").inner_text() == f"0/{total}"
    assert hint.get_attribute("data-hint") == "1"
    assert "Hint 1 of 3" in hint.inner_text()
    assert task.hints[0].replace("`", "") in hint.inner_text()
    check_and_wait(page, panel)
    assert hint.get_attribute("data-hint") == "2"
    assert "Hint 2 of 3" in hint.inner_text()
    assert task.hints[1].replace("`", "") in hint.inner_text()
    panel.screenshot(path=str(ARTIFACTS / "journey-hint-2.png"))

    # The learner's configuration cell: the score shown is stale from then on.
    run_cell(page, page.locator(".jp-CodeCell", has_text="prefix-list CUST1-IN").first)
    page.locator(".jp-OutputArea-output", has_text="applied to edge").first.wait_for()
    panel.locator(".manrs-stale-note").wait_for()

    # Stop asks first; the second click saves the configuration and stops.
    stop = panel.locator("button", has_text="Stop")
    stop.click()
    panel.locator("button", has_text="Really stop?").wait_for()
    assert panel.locator(".manrs-phase").get_attribute("data-phase") == "running"
    panel.locator("button", has_text="Really stop?").click()
    panel.locator(".manrs-phase[data-phase='stopped']").wait_for()
    assert (root / ".manrs-lab" / lab.id / "edge.conf").is_file()
    assert "CUST1-IN" in (root / ".manrs-lab" / lab.id / "edge.conf").read_text()

    # Start offers the saved configuration; restoring it boots edge from it.
    panel.locator("button", has_text="Start").first.click()
    panel.locator(".manrs-offer-text").wait_for()
    panel.locator(".manrs-restore button, button.manrs-restore").first.click()
    running.wait_for()
    panel.locator(".manrs-message", has_text="restored your saved configuration").wait_for()
    assert panel.locator(".manrs-stale-note").count() == 1

    # A check passes: the stale mark goes, full marks say what comes next.
    check_and_wait(page, panel)
    assert panel.locator(".manrs-score").inner_text() == f"{total}/{total}"
    assert panel.locator(".manrs-stale-note").count() == 0
    assert "Next lab" in panel.locator(".manrs-next").inner_text()
    panel.screenshot(path=str(ARTIFACTS / "journey-full-marks.png"))

    # edge's console button opens a JupyterLab terminal on edge's vtysh.
    panel.locator(".manrs-console[data-node='edge']").click()
    # JupyterLab asks before a link in an untrusted notebook runs one of its commands.
    run_once = page.locator(".jp-Dialog button", has_text="Run Once")
    with contextlib.suppress(sync_api.TimeoutError):
        run_once.click(timeout=5_000)
    terminal = page.locator(".jp-Terminal").last
    terminal.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal .xterm-accessibility-tree, "
        ".jp-Terminal .xterm-rows')].some(e => /\\bedge# ?/.test(e.textContent))"
    )
    page.screenshot(path=str(ARTIFACTS / "journey-console.png"))
