"""HTML views of router state and grade reports, shared by the panel and notebook cells."""

from __future__ import annotations

import base64
import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from manrs_lab import readiness, tutor
from manrs_lab.grader.report import CheckResult, GradeReport, TaskResult
from manrs_lab.state import BgpRoute, BgpSession

TABLE = 'style="border-collapse:collapse;font-size:12px;margin:4px 0"'
CELL = 'style="border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top"'
GREEN = "#15803d"
RED = "#b91c1c"
AMBER = "#a16207"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    head = "".join(f"<th {CELL}>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td {CELL}>{c}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption style='text-align:left;font-weight:600'>{escape(caption)}</caption>"
    return f"<table {TABLE}>{cap if caption else ''}<tr>{head}</tr>{body}</table>"


@dataclass(frozen=True)
class RouteTable:
    """A router's BGP paths (after its import policy), shown as a table in a notebook."""

    node: str
    routes: tuple[BgpRoute, ...]
    prefix: str | None = None
    note: str | None = None  # why there are no routes to show (autograde)

    def __iter__(self) -> Iterator[BgpRoute]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def _caption(self) -> str:
        if self.note:
            return f"{self.node}: {self.note}"
        what = f"paths for {self.prefix}" if self.prefix else "BGP table"
        return f"{self.node}: {what} ({len(self.routes)} paths)"

    def __repr__(self) -> str:
        lines = [self._caption()]
        lines += [
            f"  {'*' if r.best else ' '} {r.prefix:<20} AS path {r.path_text:<20} "
            f"origin AS{r.origin_as} via {r.next_hop or '-'}"
            for r in self.routes
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [
            [
                "&#9733;" if r.best else "",
                escape(r.prefix),
                escape(r.path_text),
                f"AS{r.origin_as}",
                escape(r.next_hop or "-"),
                escape(r.peer or "local"),
                escape(str(r.rpki_state) if r.rpki_state is not None else ""),
            ]
            for r in self.routes
        ]
        headers = ["best", "prefix", "AS path", "origin", "next hop", "from", "RPKI"]
        return _table(headers, rows, self._caption())


@dataclass(frozen=True)
class SessionTable:
    """BGP sessions of one or more routers."""

    sessions: tuple[tuple[str, BgpSession], ...]
    errors: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        lines = [
            f"{node}: {s.peer} AS{s.remote_as} {s.state}"
            + (f" ({s.prefixes_received} prefixes)" if s.prefixes_received is not None else "")
            for node, s in self.sessions
        ]
        lines += [f"{node}: {error}" for node, error in self.errors]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for node, s in self.sessions:
            colour = GREEN if s.established else RED
            rows.append(
                [
                    escape(node),
                    escape(s.name or ""),
                    escape(s.peer),
                    f"AS{s.remote_as}",
                    f"<b style='color:{colour}'>{escape(s.state)}</b>",
                    "" if s.prefixes_received is None else str(s.prefixes_received),
                ]
            )
        rows += [
            [escape(node), "", "", "", f"<i>{escape(err)}</i>", ""] for node, err in self.errors
        ]
        return _table(["router", "name", "neighbour", "AS", "state", "prefixes in"], rows)


_EXEC_VTYSH = re.compile(r"`manrs-lab exec -i \S+ (\S+) -- vtysh -c '([^'`]*)'`")
_EXEC = re.compile(r"`manrs-lab exec -i \S+ (\S+) -- ([^`]*)`")
_CHECK_TASK = re.compile(r"`manrs-lab check --task ([a-z0-9-]+)`")


def notebook_wording(text: str) -> str:
    """Commands quoted the notebook's way: lab.yaml hints and check messages quote the CLI
    (`manrs-lab exec -i LAB edge -- vtysh -c '...'`), a notebook has magics for them."""
    text = _EXEC_VTYSH.sub(r"`%vtysh \1 \2`", text)
    text = _EXEC.sub(r"`%sh \1 \2`", text)
    text = _CHECK_TASK.sub(r'`lab.check(["\1"])`', text)
    return text.replace("`manrs-lab check`", "the panel's Check")


def _prose(text: str) -> str:
    """Escaped text with `code` spans, as lab.yaml hints and check messages write commands
    (in the notebook's wording)."""
    parts = escape(notebook_wording(text)).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _mark(check: CheckResult) -> str:
    if check.passed:
        return f"<b style='color:{GREEN}'>PASS</b>"
    if check.skipped:
        return f"<b style='color:{AMBER}'>SKIP</b>"
    return f"<b style='color:{RED}'>FAIL</b>"


def task_html(report: GradeReport, task: TaskResult) -> str:
    colour = GREEN if task.passed else RED
    checks = [c for c in report.checks if c.task == task.id]
    items = "".join(
        f"<li>{_mark(c)} {escape(c.title)}"
        + ("" if c.passed else f"<br><span style='color:#374151'>{_prose(c.message)}</span>")
        + "</li>"
        for c in checks
    )
    hint = ""
    if task.next_hint and not task.passed:
        hint = (
            f"<div class='manrs-hint' data-task='{escape(task.id)}' "
            f"data-hint='{_hint_number(report, task)}' "
            f"style='margin:2px 0 0 0'><b>{escape(hint_label(report, task))}:</b> "
            f"{_prose(task.next_hint)}</div>"
        )
    return (
        f"<div class='manrs-task' data-task='{escape(task.id)}' "
        f"data-passed='{str(task.passed).lower()}' style='margin:6px 0'>"
        f"<b style='color:{colour}'>{task.points}/{task.max_points}</b> "
        f"<b>{escape(task.title)}</b><ul style='margin:2px 0 0 0'>{items}</ul>{hint}</div>"
    )


def _hint_number(report: GradeReport, task: TaskResult) -> int:
    lab = tutor.lab_or_none(report.lab)
    hint = tutor.hint_of(lab, task.id, task.next_hint) if lab is not None else None
    return hint.number if hint is not None else 0


def hint_label(report: GradeReport, task: TaskResult) -> str:
    """ "Hint 2 of 3" (each failed check of the task shows the next one)."""
    lab = tutor.lab_or_none(report.lab)
    hint = tutor.hint_of(lab, task.id, task.next_hint) if lab is not None else None
    return f"Hint {hint.number} of {hint.total}" if hint is not None else "Hint"


def full_marks(report: GradeReport) -> bool:
    return bool(report.tasks) and report.points == report.max_points and report.passed


def report_html(report: GradeReport) -> str:
    gates = [c for c in report.checks if c.task is None]
    gate_html = "".join(
        f"<div>{_mark(c)} {escape(c.title)}"
        + ("" if c.passed else f": {_prose(c.message)}")
        + "</div>"
        for c in gates
    )
    tasks = "".join(task_html(report, t) for t in report.tasks)
    colour = GREEN if report.points == report.max_points else RED
    return (
        "<div class='manrs-results'>"
        f"<div style='font-size:14px'><b>Score <span class='manrs-score' style='color:{colour}'>"
        f"{report.points}/{report.max_points}</span></b> "
        f"<span style='color:#6b7280'>({report.seconds:.1f} s, probe seed {report.seed})</span>"
        f"</div>{gate_html}{tasks}{_next_html(report)}</div>"
    )


def _next_html(report: GradeReport) -> str:
    if not full_marks(report) or len(report.tasks) < _task_count(report):
        return ""
    text = _prose(tutor.full_marks_text(report.lab, notebook=True))
    return f"<div class='manrs-next' style='margin:6px 0'><b>{text}</b></div>"


def _task_count(report: GradeReport) -> int:
    lab = tutor.lab_or_none(report.lab)
    return len(lab.spec.tasks) if lab is not None else len(report.tasks)


FEEDBACK_WIDTH = 96  # nbgrader's feedback shows outputs in <pre>: long lines would be cut off


def wrap_feedback(lines: Sequence[str], width: int = FEEDBACK_WIDTH) -> str:
    """Lines wrapped at `width`, continuation lines indented under their own text."""
    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(
            line,
            width=width,
            subsequent_indent=indent + "    ",
            break_long_words=True,
            break_on_hyphens=False,
        ) or [""]
    return "\n".join(out)


def task_failure_text(report: GradeReport, task: TaskResult) -> list[str]:
    """A failed grade cell's lines: the task's points, each failed check, the hint."""
    lines = [f"{task.title}: {task.points}/{task.max_points} points"]
    lines += [f"  {c.title}: {notebook_wording(c.message)}" for c in report.failures(task.id)]
    if task.next_hint:
        lines.append(f"{hint_label(report, task)}: {notebook_wording(task.next_hint)}")
    return lines


def report_text(report: GradeReport) -> str:
    lines = [f"score {report.points}/{report.max_points}"]
    for task in report.tasks:
        lines.append(f"{task.points}/{task.max_points} {task.title}")
        lines += [
            f"  {'PASS' if c.passed else 'SKIP' if c.skipped else 'FAIL'} {c.title}"
            + ("" if c.passed else f": {c.message}")
            for c in report.checks
            if c.task == task.id
        ]
        if task.next_hint and not task.passed:
            lines.append(f"  {hint_label(report, task).lower()}: {task.next_hint}")
    if full_marks(report) and len(report.tasks) >= _task_count(report):
        lines.append(tutor.full_marks_text(report.lab, notebook=True))
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportView:
    """What `lab.check()` returns: the grade report, drawn as a table in a notebook."""

    report: GradeReport

    @property
    def points(self) -> int:
        return self.report.points

    @property
    def max_points(self) -> int:
        return self.report.max_points

    @property
    def passed(self) -> bool:
        return self.report.passed

    def __repr__(self) -> str:
        return report_text(self.report)

    def _repr_html_(self) -> str:
        return report_html(self.report)


VERDICT_COLOURS = {
    readiness.Verdict.READY: GREEN,
    readiness.Verdict.ASPIRING: AMBER,
    readiness.Verdict.LAGGING: RED,
    readiness.Verdict.NOT_ASSESSED: "#6b7280",
}
EVIDENCE_SHOWN = 12  # per action in the notebook (the JSON has every one)


def _share_bar(share: float | None, colour: str) -> str:
    """A small horizontal bar: the share of probes refused (or prefixes covered)."""
    if share is None:
        return "<span style='color:#9ca3af'>&ndash;</span>"
    width = round(share * 100)
    return (
        "<div style='display:flex;align-items:center;gap:6px'>"
        "<div style='width:100px;height:10px;background:#e5e7eb;border-radius:5px'>"
        f"<div class='manrs-readiness-bar' style='width:{width}%;height:10px;background:{colour};"
        f"border-radius:5px'></div></div><span style='white-space:nowrap'>{width} %</span></div>"
    )


def _evidence_html(action: readiness.ActionReport, limit: int = EVIDENCE_SHOWN) -> str:
    if not action.evidence:
        return ""
    wrong = readiness.problems(action)
    shown = (wrong or action.evidence)[:limit]
    rows = []
    for e in shown:
        colour = GREEN if e.good else (RED if e.good is False else "#6b7280")
        rows.append(
            [
                escape(e.what),
                f"<span style='color:{colour};font-weight:600'>{escape(e.outcome)}</span>",
                escape(readiness.shorten(e.detail)),
            ]
        )
    label = (
        f"{len(wrong)} of {len(action.evidence)} items need attention"
        if wrong
        else f"all {len(action.evidence)} items"
    )
    more = len(wrong or action.evidence) - len(shown)
    tail = f"<div style='color:#6b7280'>and {more} more (in the JSON)</div>" if more > 0 else ""
    return (
        f"<details class='manrs-readiness-evidence' data-action='{action.action}'>"
        f"<summary style='cursor:pointer;color:#374151'>{escape(action.name)}: {label}</summary>"
        f"{_table(['what', 'outcome', 'detail'], rows)}{tail}</details>"
    )


def readiness_html(report: readiness.ReadinessReport, evidence: int = EVIDENCE_SHOWN) -> str:
    """A table per MANRS action (verdict, a bar of the share, the summary), each action's
    evidence below it (`evidence` items at most: the problems first), a JSON download link."""
    rows = []
    for a in report.actions:
        colour = VERDICT_COLOURS[a.verdict]
        rows.append(
            [
                f"<b>{a.action}. {escape(a.name)}</b><br><span style='color:#6b7280'>"
                f"{escape(readiness.ACTION_QUESTIONS[a.action])}</span>",
                f"<span class='manrs-verdict' data-action='{a.action}' data-verdict="
                f"'{a.verdict.value}' style='color:white;background:{colour};padding:1px 8px;"
                f"border-radius:9px;white-space:nowrap'>{escape(a.verdict.value)}</span>",
                _share_bar(a.share, colour),
                escape(a.summary),
            ]
        )
    payload = base64.b64encode(report.to_json().encode()).decode()
    download = (
        f"<a class='manrs-readiness-json' download='readiness-AS{report.asn}-{escape(report.lab)}"
        f".json' href='data:application/json;base64,{payload}'>Download as JSON</a>"
    )
    details = "".join(_evidence_html(a, evidence) for a in report.actions)
    return (
        "<div class='manrs-readiness' style='margin-top:8px'>"
        f"<div style='font-size:14px'><b>MANRS readiness of AS{report.asn}</b> "
        f"<span style='color:#6b7280'>({escape(report.router)}; from a check of every task, "
        f"score {report.grade_points}/{report.grade_max_points}, seed {report.grade_seed}; "
        "ready = 100 %, aspiring = at least "
        f"{readiness.ASPIRING_SHARE * 100:.0f} %, lagging = less)</span></div>"
        f"{_table(['MANRS action', 'verdict', 'score', 'evidence'], rows)}{details}"
        f"<div style='margin-top:4px'>{download}</div></div>"
    )


def readiness_text(report: readiness.ReadinessReport) -> str:
    lines = [f"MANRS readiness of AS{report.asn} ({report.router}, {report.lab})"]
    for label, verdict, share, summary in readiness.text_lines(report):
        lines.append(f"  {label:<22} {verdict:<13} {share:>6}  {summary}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ReadinessView:
    """What `lab.readiness()` returns: the report, drawn as a table in a notebook."""

    report: readiness.ReadinessReport

    @property
    def ready(self) -> bool:
        return self.report.ready

    def verdict(self, action: int) -> str:
        return self.report.action(action).verdict.value

    def to_json(self) -> str:
        return self.report.to_json()

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON (to share it, or compare it with a later one)."""
        target = Path(path)
        target.write_text(self.report.to_json() + "\n")
        return target

    def __repr__(self) -> str:
        return readiness_text(self.report)

    def _repr_html_(self) -> str:
        return readiness_html(self.report)


class SavedFiles(dict[str, Path]):
    """node -> saved configuration file, printed as a short list."""

    note = "nothing saved"

    def __repr__(self) -> str:
        if not self:
            return self.note
        return "\n".join(
            f"saved your registry objects to {path}"
            if node == "registry"
            else f"saved {node}'s configuration to {path}"
            for node, path in self.items()
        )


@dataclass(frozen=True)
class Note:
    """A short message shown in place of a widget or a command's output."""

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<div style='color:#374151;font-style:italic'>{escape(self.text)}</div>"
