"""The lab's control panel in a notebook (ipywidgets).

Buttons run operations in a background thread, so the kernel stays free; operations report into
the lab's `Board` (the Progress protocol), which redraws the per-node progress bars. A second
thread re-reads the live state every few seconds (node processes, BGP sessions) and redraws the
topology when it changed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped, unused-ignore]

from manrs_lab.notebook import console
from manrs_lab.notebook.topology import LEGEND, picture_width
from manrs_lab.notebook.views import readiness_html, report_html
from manrs_lab.paths import state_root

if TYPE_CHECKING:
    from manrs_lab.notebook.session import Lab, Snapshot

REFRESH_SECONDS = 2.0
CONFIRM_SECONDS = 5.0
PHASE_COLOURS = {
    "running": "#15803d",
    "stopped": "#6b7280",
    "degraded": "#b45309",
    "error": "#b91c1c",
}
BUSY_COLOUR = "#1d4ed8"
CONFIRM = {
    # button: (label while asking, tooltip while asking, label, tooltip, style)
    "stop": (
        "Really stop?",
        "click again within 5 s: the routers stop (your configuration is saved first, and "
        "Start offers it back)",
        "Stop",
        "save your configuration, then stop every router and remove the lab",
        "",
    ),
    "reset": (
        "Really reset?",
        "click again within 5 s: your configuration will be lost (the saved copy stays)",
        "Reset",
        "rebuild the lab with the starting configurations",
        "warning",
    ),
}


class LabPanel:
    """Start / Reset / Stop / Check, per-node progress, live topology and check results."""

    def __init__(self, lab: Lab, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.lab = lab
        self.refresh_seconds = refresh_seconds
        spec = lab.lab.spec
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._draw_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._shown_report: object = None
        self._confirm_until: dict[str, float] = {}
        self._settled = 0.0  # when the last operation finished (older snapshots do not count)
        self._was_busy = lab.board.busy

        self.title = widgets.HTML(
            f"<div style='font-size:15px'><b>{escape(spec.title)}</b> "
            f"<span style='color:#6b7280'>lab <code>{escape(lab.id)}</code>, instance "
            f"<code>{escape(lab.instance)}</code>, runtime "
            f"<code>{escape(lab.runtime_in_use)}</code></span></div>"
        )
        self.phase = widgets.HTML()
        self.status = widgets.HTML()
        self.message = widgets.HTML()
        self.buttons = {
            "start": widgets.Button(description="Start", icon="play", button_style="success"),
            "reset": widgets.Button(description="Reset", icon="undo", button_style="warning"),
            "stop": widgets.Button(description="Stop", icon="stop", button_style=""),
            "check": widgets.Button(description="Check", icon="check", button_style="primary"),
            "readiness": self._readiness_button(),
        }
        for key, button in self.buttons.items():
            button.layout = widgets.Layout(width="104px" if key == "readiness" else "80px")
        self.buttons["start"].tooltip = "start the lab (or find it running)"
        self.buttons["check"].tooltip = "grade every task (and save your configuration)"
        for key in CONFIRM:
            self._unconfirm(key)
        self.buttons["start"].on_click(self._on_start)
        self.buttons["stop"].on_click(lambda _: self._confirmed("stop", lab.stop))
        self.buttons["reset"].on_click(lambda _: self._confirmed("reset", lab.reset))
        self.buttons["check"].on_click(lambda _: lab.check_in_background())
        self.offer_text = widgets.HTML()
        self.offer = self._make_offer()
        self.steps = widgets.HTML()

        self.rows: dict[str, tuple[Any, Any]] = {}
        row_widgets = []
        for name, node in lab.lab.topology.nodes.items():
            asn = f"AS{node.asn}" if node.asn is not None else ""
            label = widgets.HTML(
                f"<b>{escape(name)}</b> <span style='color:#6b7280'>{node.role.value} {asn}</span>",
                layout=widgets.Layout(width="150px"),
            )
            bar = widgets.IntProgress(
                value=0, min=0, max=lab.board.stages(name), layout=widgets.Layout(width="110px")
            )
            state = widgets.HTML(layout=widgets.Layout(width="100px"))
            self.rows[name] = (bar, state)
            row_widgets.append(widgets.HBox([label, bar, state, self._console_button(name)]))
        self.check_bar = widgets.IntProgress(
            value=0, min=0, max=1, description="checks", layout=widgets.Layout(width="300px")
        )
        self.check_bar.layout.visibility = "hidden"
        self.topology = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.legend = widgets.HTML(LEGEND)
        self.results = widgets.HTML()

        controls = widgets.VBox(
            [
                widgets.HBox(list(self.buttons.values())),
                self.offer,
                self.phase,
                self.message,
                widgets.VBox(row_widgets),
                self.check_bar,
                self.steps,
            ],
            layout=widgets.Layout(width="450px"),
        )
        # As wide as the picture's own size: it goes under the controls rather than shrink.
        natural = picture_width(lab.lab.topology, lab.lab.spec.learner)
        picture = widgets.VBox(
            [self.topology, self.legend, self.status],
            layout=widgets.Layout(flex=f"1 1 {natural:.0f}px"),
        )
        self.widget = widgets.VBox(
            [
                self.title,
                widgets.HBox([controls, picture], layout=widgets.Layout(flex_flow="row wrap")),
                self.results,
            ],
            layout=widgets.Layout(border="1px solid #d1d5db", padding="8px"),
        )
        self.widget.add_class("manrs-lab-panel")

        self._draw_progress()
        self._draw_live(lab.snapshot())
        lab.board.subscribe(self._on_board)
        self._thread = threading.Thread(
            target=self._refresh_loop, name="manrs-lab panel", daemon=True
        )
        self._thread.start()

    # -- display ----------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Stop refreshing (the widgets stay on screen, frozen)."""
        self._closed.set()
        self._wake.set()
        self.lab.board.unsubscribe(self._on_board)

    def refresh_soon(self) -> None:
        self._wake.set()

    # -- events -----------------------------------------------------------------------------
    def _make_offer(self) -> Any:
        """Start when a configuration is saved beside the notebook: restore it, or start fresh."""
        restore = widgets.Button(description="Restore saved", icon="upload", button_style="info")
        fresh = widgets.Button(description="Start fresh", icon="play")
        restore.add_class("manrs-restore")
        fresh.add_class("manrs-fresh")
        restore.on_click(lambda _: self._start(restore=True))
        fresh.on_click(lambda _: self._start(restore=False))
        offer = widgets.VBox([self.offer_text, widgets.HBox([restore, fresh])])
        offer.add_class("manrs-offer")
        offer.layout.display = "none"
        return offer

    def _on_start(self, _: object) -> None:
        saved = self.lab.saved_configuration()
        snap = self._snapshot
        if saved and not (snap is not None and snap.all_running):
            self.offer_text.value = (
                f"<span class='manrs-offer-text'>Your configuration of {escape(', '.join(saved))}"
                " is saved beside this notebook. Start with it, or from the lab's starting "
                "configuration?</span>"
            )
            self.offer.layout.display = ""
            return
        self._start(restore=False)

    def _start(self, *, restore: bool) -> None:
        self.offer.layout.display = "none"
        self.lab.start(wait=False, restore=restore)

    def _confirmed(self, key: str, action: Any) -> None:
        """Run `action` on the second click within CONFIRM_SECONDS (the first one asks)."""
        now = time.monotonic()
        button = self.buttons[key]
        if now > self._confirm_until.get(key, 0.0):
            asking, tip, *_ = CONFIRM[key]
            self._confirm_until[key] = now + CONFIRM_SECONDS
            button.description = asking
            button.button_style = "danger"
            button.tooltip = tip
            timer = threading.Timer(CONFIRM_SECONDS, self._unconfirm, args=(key,))
            timer.daemon = True
            timer.start()
            return
        self._unconfirm(key)
        action(wait=False)

    def _unconfirm(self, key: str) -> None:
        self._confirm_until[key] = 0.0
        _, _, label, tip, style = CONFIRM[key]
        button = self.buttons[key]
        button.description = label
        button.button_style = style
        button.tooltip = tip

    def _console_button(self, node: str) -> Any:
        """A button that opens a JupyterLab terminal on the node's console (vtysh, birdc or a
        shell): JupyterLab's command linker runs `terminal:create-new` in the folder holding the
        console request, and the terminal's shell (`manrs_lab.notebook.console`) opens it."""
        lab = self.lab
        role = lab.lab.topology.nodes[node].role.value
        request = console.ConsoleRequest(
            lab.instance, node, role, str(state_root().resolve()), str(lab.notebook_dir)
        )
        tool = " ".join(console.TOOLS.get(role, ["bash"]))
        typed = f"manrs-lab exec -i {lab.instance} {node} -- {tool}"
        try:
            cwd = console.server_relative(console.write_request(lab.notebook_dir, request))
        except OSError:
            cwd = None
        if cwd is None:
            return widgets.HTML(
                f"<span class='manrs-console' title='in a terminal: {escape(typed)}'>"
                f"<code>{escape(tool)}</code></span>"
            )
        args = json.dumps({"name": console.terminal_name(lab.instance, node), "cwd": cwd})
        return widgets.HTML(
            f"<button class='manrs-console jp-Button' data-node='{escape(node)}' "
            "data-commandlinker-command='terminal:create-new' "
            f"data-commandlinker-args='{escape(args)}' "
            f"title='open {escape(node)}&#39;s console ({escape(tool)}) in a terminal' "
            "style='font-size:11px;padding:1px 6px;cursor:pointer'>"
            f"&#9654; {escape(tool)}</button>",
            layout=widgets.Layout(width="80px"),
        )

    def _on_board(self) -> None:
        busy = self.lab.board.busy
        if self._was_busy and not busy:
            self._settled = time.time()
            self.refresh_soon()
        self._was_busy = busy
        self._draw_progress()

    # -- drawing ----------------------------------------------------------------------------
    def _phase_text(self) -> tuple[str, str]:
        board = self.lab.board
        if board.busy:
            return board.phase, BUSY_COLOUR
        if board.phase == "error":
            return "error", PHASE_COLOURS["error"]
        snap = self._snapshot
        if snap is not None and snap.taken < self._settled and board.phase in PHASE_COLOURS:
            # Read while the operation ran: no "degraded" flash before the next look.
            return board.phase, PHASE_COLOURS[board.phase]
        if snap is None or not snap.exists:
            return "stopped", PHASE_COLOURS["stopped"]
        if snap.all_running:
            return "running", PHASE_COLOURS["running"]
        return "degraded", PHASE_COLOURS["degraded"]

    def _draw_progress(self) -> None:
        board = self.lab.board
        with self._draw_lock:
            phase, colour = self._phase_text()
            self.phase.value = (
                f"<span class='manrs-phase' data-phase='{phase}' style='color:{colour};"
                f"font-weight:600'>&#9679; {escape(phase)}</span>"
            )
            message_colour = "#b91c1c" if board.error else "#374151"
            self.message.value = (
                f"<span class='manrs-message' style='color:{message_colour}'>"
                f"{escape(board.message)}</span>"
            )
            for name, (bar, state) in self.rows.items():
                bar.value = board.node_done[name]
                full = board.node_done[name] >= board.stages(name)
                bar.bar_style = "success" if full else ("info" if board.busy else "")
                state.value = (
                    f"<span class='manrs-node-state' data-node='{escape(name)}'>"
                    f"{escape(board.node_state[name])}</span>"
                )
            for button in self.buttons.values():
                button.disabled = board.busy
            if board.phase == "checking" and board.busy:
                self.check_bar.max = max(board.checks_total, 1)
                self.check_bar.value = min(board.checks_done, self.check_bar.max)
                self.check_bar.layout.visibility = "visible"
            else:
                self.check_bar.layout.visibility = "hidden"
            self._draw_steps()
            report = self.lab.last_report
            shown = (report, self.lab.report_stale, self.lab.last_readiness)
            if report is not None and shown != self._shown_report:
                self._shown_report = shown
                html = report_html(report) + self._readiness_html()
                if self.lab.report_stale:
                    html = (
                        "<div class='manrs-stale' style='opacity:0.55'>"
                        "<div class='manrs-stale-note' style='color:#a16207;font-weight:600'>"
                        "Stale: the lab changed since this check. Click Check for a new score."
                        f"</div>{html}</div>"
                    )
                self.results.value = html

    def _readiness_button(self) -> Any:
        button = widgets.Button(description="Readiness", button_style="info")
        button.tooltip = (
            "MANRS readiness report of your AS: grades every task, then reads the registry and "
            "the RPKI (after each Check of a capstone, it comes by itself)"
        )
        button.on_click(lambda _: self.lab.readiness_in_background())
        return button

    def _readiness_html(self) -> str:
        """The readiness report of the check shown (none after a check of one step)."""
        lab = self.lab
        if lab.last_readiness is not None:
            return readiness_html(lab.last_readiness)
        if lab.readiness_error:
            return (
                "<div class='manrs-readiness-error' style='color:#a16207'>No readiness report: "
                f"{escape(lab.readiness_error)}</div>"
            )
        return ""

    def _draw_steps(self) -> None:
        """A staged lab's steps: passed, the one Check grades now, the ones after."""
        lab = self.lab
        if not lab.lab.staged:
            return
        current = lab.current_step()
        passed = lab.steps_passed()
        items = []
        for task in lab.lab.spec.tasks:
            if task.id in passed:
                mark, style = "&#10003;", "color:#15803d"
            elif task.id == current:
                mark, style = "&#9654;", "font-weight:600"
            else:
                mark, style = "&#9675;", "color:#6b7280"
            state = "passed" if task.id in passed else "current" if task.id == current else "later"
            items.append(
                f"<li class='manrs-step' data-task='{escape(task.id)}' data-state='{state}' "
                f"style='{style}'>{mark} {escape(task.title)}</li>"
            )
        note = (
            "Check grades the current step; it moves on when the step passes."
            if current
            else "Every step passed: Check grades them all."
        )
        self.steps.value = (
            f"<div class='manrs-steps' style='font-size:12px'><b>Steps</b> "
            f"<span style='color:#6b7280'>{note}</span>"
            "<ul style='margin:2px 0;padding-left:16px;list-style:none'>"
            f"{''.join(items)}</ul></div>"
        )
        index = next((i for i, t in enumerate(lab.lab.spec.tasks, 1) if t.id == current), None)
        self.buttons["check"].description = f"Check {index}" if index else "Check"
        self.buttons["check"].tooltip = (
            f"grade step {index} (and save your configuration)" if index else "grade every step"
        )

    def _draw_live(self, snap: Snapshot) -> None:
        self._snapshot = snap
        lab = self.lab
        # Replaced or removed from elsewhere (`manrs-lab reset` in a terminal): stale too.
        replaced = not snap.exists or (
            lab.checked_instance is not None and snap.created != lab.checked_instance
        )
        if lab.last_report is not None and not lab.board.busy and replaced:
            lab.mark_changed()
        svg = snap.svg()
        stamp = time.strftime("%H:%M:%S", time.localtime(snap.taken))
        status = (
            f"<span class='manrs-status' style='color:#374151'>{escape(snap.summary())} "
            f"<span style='color:#9ca3af'>(live, {stamp})</span></span>"
        )
        if self.topology.value != svg:
            self.topology.value = svg
        self.status.value = status
        if not self.lab.board.busy:
            board = self.lab.board
            if snap.exists:
                for view in snap.nodes:
                    if not view.running and board.node_state[view.name] == "ready":
                        board.node_state[view.name] = "not running"
                        board.node_done[view.name] = 0
            elif board.phase != "error":
                board.all_stopped()
        self._draw_progress()

    def _refresh_loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.refresh_seconds)
            self._wake.clear()
            if self._closed.is_set():
                return
            with contextlib.suppress(Exception):
                self._draw_live(self.lab.snapshot())
