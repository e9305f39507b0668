"""The lab's control panel in a notebook (ipywidgets).

Buttons run operations in a background thread, so the kernel stays free; operations report into
the lab's `Board` (the Progress protocol), which redraws the per-node progress bars. A second
thread re-reads the live state every few seconds (node processes, BGP sessions) and redraws the
topology when it changed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped, unused-ignore]

from manrs_lab.notebook.topology import LEGEND
from manrs_lab.notebook.views import report_html

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
        self._confirm_until = 0.0

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
        }
        for button in self.buttons.values():
            button.layout = widgets.Layout(width="96px")
        self.buttons["start"].tooltip = "start the lab (or find it running)"
        self.buttons["reset"].tooltip = "rebuild the lab with the starting configurations"
        self.buttons["stop"].tooltip = "stop every router and remove the lab"
        self.buttons["check"].tooltip = "grade every task (and save your configuration)"
        self.buttons["start"].on_click(lambda _: lab.start(wait=False))
        self.buttons["stop"].on_click(lambda _: lab.stop(wait=False))
        self.buttons["reset"].on_click(self._on_reset)
        self.buttons["check"].on_click(lambda _: lab.check_in_background())

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
            state = widgets.HTML(layout=widgets.Layout(width="130px"))
            self.rows[name] = (bar, state)
            row_widgets.append(widgets.HBox([label, bar, state]))
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
                self.phase,
                self.message,
                widgets.VBox(row_widgets),
                self.check_bar,
            ],
            layout=widgets.Layout(width="410px"),
        )
        picture = widgets.VBox(
            [self.topology, self.legend, self.status], layout=widgets.Layout(flex="1 1 360px")
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
    def _on_reset(self, _: object) -> None:
        now = time.monotonic()
        button = self.buttons["reset"]
        if now > self._confirm_until:
            self._confirm_until = now + CONFIRM_SECONDS
            button.description = "Really reset?"
            button.button_style = "danger"
            button.tooltip = "click again within 5 s: your configuration will be lost"
            timer = threading.Timer(CONFIRM_SECONDS, self._unconfirm)
            timer.daemon = True
            timer.start()
            return
        self._unconfirm()
        self.lab.reset(wait=False)

    def _unconfirm(self) -> None:
        self._confirm_until = 0.0
        button = self.buttons["reset"]
        button.description = "Reset"
        button.button_style = "warning"
        button.tooltip = "rebuild the lab with the starting configurations"

    def _on_board(self) -> None:
        self._draw_progress()

    # -- drawing ----------------------------------------------------------------------------
    def _phase_text(self) -> tuple[str, str]:
        board = self.lab.board
        if board.busy:
            return board.phase, BUSY_COLOUR
        if board.phase == "error":
            return "error", PHASE_COLOURS["error"]
        snap = self._snapshot
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
            report = self.lab.last_report
            if report is not None and report is not self._shown_report:
                self._shown_report = report
                self.results.value = report_html(report)

    def _draw_live(self, snap: Snapshot) -> None:
        self._snapshot = snap
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
