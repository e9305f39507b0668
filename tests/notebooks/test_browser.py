"""The lab panel in a real JupyterLab, driven by headless Chromium (Playwright).

JupyterLab is served on 127.0.0.1 (a free port, a token) from a copy of notebooks/; Debian's
Chromium opens the first lab's notebook and runs its setup cell. The lab starts on its own; the
test stops it and starts it again with the panel's buttons, waits until every node is up and the
topology shows the BGP sessions Established, clicks Check and waits for the results. Screenshots
go to artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
from pathlib import Path

import pytest
from nb_helpers import ARTIFACTS, CHROMIUM, copy_notebooks, notebook_for

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


def test_panel_starts_stops_and_checks_the_lab_in_jupyterlab(tmp_path: Path, kernel_env: str):
    lab = load_lab(LAB)
    root = tmp_path / "notebooks"
    copy_notebooks(root)
    home = tmp_path / "jupyter"
    home.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    server, proc = start_jupyter(root, home)
    try:
        server.wait_ready(proc)
        url = f"{server.base_url}/lab/tree/{notebook_for(LAB).name}?token={server.token}"
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
                    drive_the_panel(page, url, lab)
                except Exception:
                    page.screenshot(path=str(ARTIFACTS / "notebook-failure.png"), full_page=True)
                    raise
            finally:
                context.close()
    finally:
        stop_jupyter(proc)


def drive_the_panel(page, url: str, lab) -> None:
    page.goto(url)
    # The status bar names the kernel once it is connected and idle.
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for()
    setup = page.locator(".jp-CodeCell", has_text="lab.panel()").first
    prompt = setup.locator(".jp-InputPrompt")
    for _ in range(10):
        setup.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        # "[*]:" while running, "[1]:" after: the cell did execute (JupyterLab may drop a run
        # asked for while the kernel connection is still being set up).
        try:
            prompt.filter(has_text=re.compile(r"\[(\*|\d+)\]")).wait_for(timeout=5_000)
            break
        except sync_api.TimeoutError:
            continue
    panel = page.locator(".manrs-lab-panel")
    panel.wait_for()

    # The lab starts by itself; Stop and Start drive it through the panel.
    running = panel.locator(".manrs-phase[data-phase='running']")
    running.wait_for()
    panel.locator("button", has_text="Stop").click()
    panel.locator(".manrs-phase[data-phase='stopped']").wait_for()
    assert panel.locator(".manrs-node-state", has_text="stopped").count() == len(lab.topology.nodes)
    panel.locator("button", has_text="Start").click()
    panel.locator(".manrs-phase[data-phase='starting']").wait_for()
    running.wait_for()
    ready = panel.locator(".manrs-node-state", has_text="ready")
    assert ready.count() == len(lab.topology.nodes)
    bgp_links = [
        link
        for link in lab.topology.links
        if lab.topology.nodes[link.a.node].role.is_router
        and lab.topology.nodes[link.b.node].role.is_router
    ]
    page.wait_for_function(
        "n => document.querySelectorAll('.manrs-topology text.session').length >= n"
        " && [...document.querySelectorAll('.manrs-topology text.session')]"
        ".every(t => t.textContent.startsWith('Established'))",
        arg=len(bgp_links),
    )
    panel.screenshot(path=str(ARTIFACTS / "notebook-panel-running.png"))

    panel.locator("button", has_text="Check").click()
    score = panel.locator(".manrs-results .manrs-score")
    score.wait_for()
    total = sum(t.points for t in lab.spec.tasks)
    assert score.inner_text() == f"0/{total}"
    tasks = panel.locator(".manrs-task")
    assert tasks.count() == len(lab.spec.tasks)
    assert panel.locator(".manrs-results", has_text="Hint:").count() == 1
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(ARTIFACTS / "notebook-panel-checked.png"))
    page.screenshot(path=str(ARTIFACTS / "notebook-page.png"))
