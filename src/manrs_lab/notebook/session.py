"""`Lab`: one lab instance as a notebook sees it.

`Lab("customer-filtering")` finds the running instance (after a kernel restart too) or starts
one; the panel, the magics and the grade cells all go through it, and through `operations`,
like the CLI. Under nbgrader's autograde it starts nothing and grades nothing: a kernel is
learner-controlled, so grades come from nbgrader's own process (`manrs_lab.notebook.autograde`
replays the saved configurations); a grade cell run in a kernel while autograding fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from manrs_lab import operations, submission, tutor
from manrs_lab import readiness as readiness_mod
from manrs_lab.drivers.router import Router
from manrs_lab.errors import LabError, NotRunningError
from manrs_lab.grader.report import GradeReport
from manrs_lab.instance import validate_instance_name
from manrs_lab.notebook import replay as replay_mod
from manrs_lab.notebook.topology import TopologyState, link_states, render_svg
from manrs_lab.notebook.views import (
    Note,
    ReadinessView,
    ReportView,
    RouteTable,
    SavedFiles,
    SessionTable,
    task_failure_text,
    wrap_feedback,
)
from manrs_lab.progress import SilentProgress
from manrs_lab.running import RunningLab
from manrs_lab.runtime.registry import choose_runtime
from manrs_lab.spec.loader import Lab as LoadedLab
from manrs_lab.spec.loader import load_lab
from manrs_lab.spec.topology import Role
from manrs_lab.state import BgpSession

if TYPE_CHECKING:
    from manrs_lab.notebook.panel import LabPanel

AUTOSTART_ENV = "MANRS_LAB_AUTOSTART"
NODE_STAGES = ("config ok", "network up", "daemons started", "converged")
CONVERGE_AFTER_APPLY = 10.0
AUTOGRADE_NOTE = "not read while autograding: grade cells replay the saved configuration"
KERNEL_AUTOGRADE = (
    "manrs-lab never grades inside a notebook's kernel while autograding (learner code runs "
    "there): the course's nbgrader_config.py must grade with manrs_lab.notebook.autograde "
    "(see grader/README.md), which replays the saved router configurations itself"
)

STARTING_GRACE = 120.0  # an instance younger than this and not ready is still starting

_current: Lab | None = None
_replay_lock = threading.Lock()
_instance_locks: dict[str, threading.RLock] = {}


def _instance_lock(name: str) -> threading.RLock:
    """One operation at a time per instance in this kernel, whichever Lab object asks (a setup
    cell run twice makes two)."""
    with _replay_lock:
        return _instance_locks.setdefault(name, threading.RLock())


def current_lab() -> Lab:
    """The Lab most recently created in this kernel (what the magics talk to)."""
    if _current is None:
        raise LabError('no lab yet: run `lab = Lab("<lab-id>")` first')
    return _current


def _ipython_shell() -> object | None:
    try:
        from IPython import get_ipython  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    shell: object | None = get_ipython()
    return shell


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets have a frontend to draw them)."""
    return getattr(_ipython_shell(), "kernel", None) is not None


class TaskFailed(AssertionError):
    """A grade cell's task did not pass. IPython shows the message alone (no traceback into
    the package: what went wrong is the lab's state, not the code); nbgrader sees an error."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class Board:
    """Progress of the lab's current operation per node: what the panel draws.

    Implements the `Progress` protocol; `operations.up/down/reset/solve` and the grader report
    into it. During a check, the grader's per-check events count towards `checks_done`.
    """

    def __init__(self, lab: LoadedLab) -> None:
        self.lab = lab
        self.phase = "stopped"
        self.busy = False
        self.message = ""
        self.error: str | None = None
        self.node_state = dict.fromkeys(lab.topology.nodes, "")
        self.node_done = dict.fromkeys(lab.topology.nodes, 0)
        self.checks_total = 0
        self.checks_done = 0
        self._listeners: list[Callable[[], None]] = []

    def stages(self, node: str) -> int:
        role = self.lab.topology.nodes[node].role
        return len(NODE_STAGES) if role.is_router else len(NODE_STAGES) - 1

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def notify(self) -> None:
        for listener in list(self._listeners):
            # A drawing problem must never break an operation on the lab.
            with contextlib.suppress(Exception):
                listener()

    # -- Progress protocol ----------------------------------------------------------------
    def step(self, message: str) -> None:
        self.message = message
        self.notify()

    def node(self, node: str, state: str) -> None:
        if self.phase == "checking":
            self.checks_done += 1
        elif node in self.node_state:
            self.node_state[node] = state
            if state in NODE_STAGES:
                done = min(NODE_STAGES.index(state) + 1, self.stages(node))
                self.node_done[node] = max(self.node_done[node], done)
        self.notify()

    # -- operation bookkeeping ------------------------------------------------------------
    def begin(self, phase: str, checks: int = 0) -> None:
        self.phase = phase
        self.busy = True
        self.error = None
        self.message = f"{phase}…"
        if phase in ("starting", "resetting"):
            for node in self.node_state:
                self.node_state[node] = "waiting"
                self.node_done[node] = 0
        elif phase == "stopping":
            for node in self.node_state:
                self.node_state[node] = "stopping"
        self.checks_total = checks
        self.checks_done = 0
        self.notify()

    def all_ready(self) -> None:
        for node in self.node_state:
            self.node_state[node] = "ready"
            self.node_done[node] = self.stages(node)

    def all_stopped(self) -> None:
        for node in self.node_state:
            self.node_state[node] = "stopped"
            self.node_done[node] = 0

    def finish(self, phase: str, message: str) -> None:
        self.phase = phase
        self.busy = False
        self.message = message
        self.notify()

    def fail(self, error: str, phase: str) -> None:
        self.phase = phase
        self.busy = False
        self.error = error
        self.message = error
        self.notify()


@dataclass(frozen=True)
class NodeView:
    name: str
    role: Role
    asn: int | None
    running: bool
    sessions: tuple[BgpSession, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The live state of the instance: which nodes run, each router's BGP sessions."""

    lab: LoadedLab
    instance: str
    exists: bool
    nodes: tuple[NodeView, ...]
    taken: float
    created: float | None = None  # the instance's `created` (a new one after a reset)

    @property
    def all_running(self) -> bool:
        return self.exists and all(n.running for n in self.nodes)

    def topology_state(self) -> TopologyState:
        sessions = {n.name: n.sessions for n in self.nodes}
        return TopologyState(
            nodes_up={n.name: n.running for n in self.nodes},
            links=link_states(self.lab.topology, sessions),
        )

    def summary(self) -> str:
        if not self.exists:
            return "not running"
        up = sum(n.running for n in self.nodes)
        sessions = [s for n in self.nodes for s in n.sessions]
        established = sum(s.established for s in sessions)
        text = f"{up}/{len(self.nodes)} nodes running"
        if sessions:
            text += f" · {established}/{len(sessions)} BGP sessions Established"
        return text

    def svg(self) -> str:
        return render_svg(self.lab.topology, self.lab.spec.learner, self.topology_state())

    def __repr__(self) -> str:
        return f"{self.instance}: {self.summary()}"

    def _repr_html_(self) -> str:
        return f"<div><b>{self.instance}</b>: {self.summary()}</div>{self.svg()}"


class Lab:
    """A lab for a notebook: start/stop/reset, router access, checks and grade cells.

    `instance` defaults to the lab id (prefixed by `$MANRS_LAB_INSTANCE_PREFIX`), the same name
    `manrs-lab up LAB` uses, so a shell and a notebook share one running lab. `start` defaults
    to `$MANRS_LAB_AUTOSTART` (on unless "0"); in a Jupyter kernel the lab starts in the
    background and the next cell that needs it waits for it.
    """

    def __init__(
        self,
        lab_id: str,
        *,
        instance: str | None = None,
        start: bool | None = None,
        notebook_dir: Path | str | None = None,
        runtime: str | None = None,
    ) -> None:
        self.lab = load_lab(lab_id)
        self.id = self.lab.id
        # netns or containerlab (default: $MANRS_LAB_RUNTIME, see registry.choose_runtime)
        self.runtime = choose_runtime(runtime)
        prefix = os.environ.get(replay_mod.INSTANCE_PREFIX_ENV, "")
        self.instance = validate_instance_name(instance or f"{prefix}{self.id}")
        self.notebook_dir = Path(notebook_dir or Path.cwd()).resolve()
        self.autograde = replay_mod.autograding()
        self.board = Board(self.lab)
        self.last_report: GradeReport | None = None
        # The lab changed since `last_report` (stop, start, reset, a configuration applied):
        # the panel marks the score stale until the next check.
        self.report_stale = False
        self.checked_instance: float | None = None  # `created` of the instance last checked
        # The MANRS readiness report of the last full check (capstones: every one; other labs:
        # when asked for with `readiness()` or the panel's Readiness button), or why there is none.
        self.last_readiness: readiness_mod.ReadinessReport | None = None
        self.readiness_error: str | None = None
        self.restored: list[str] = []  # nodes the last start restored from the saved files
        self._running: RunningLab | None = None
        self._ops = _instance_lock(self.instance)
        self._worker: threading.Thread | None = None
        self._panels: list[LabPanel] = []
        _make_current(self)
        if self.autograde:
            self.board.phase = "autograde"
            return
        found = self._attach()
        if found is not None and self._healthy(found):
            self._running = found
            self.board.all_ready()
            self.board.phase = "running"
        if start is None:
            start = os.environ.get(AUTOSTART_ENV, "1") != "0"
        if start and self._running is None:
            self.start(wait=not in_kernel())

    def __repr__(self) -> str:
        return f"Lab({self.id!r}, instance={self.instance!r}, {self.board.phase})"

    @property
    def runtime_in_use(self) -> str:
        """The runtime of the running instance (found running: its own), else the chosen one."""
        return self._running.instance.runtime if self._running is not None else self.runtime

    # -- lifecycle ------------------------------------------------------------------------
    def _attach(self) -> RunningLab | None:
        try:
            running = operations.attach(self.instance)
        except NotRunningError:
            return None
        if running.instance.lab != self.id:
            raise LabError(
                f"instance {self.instance!r} runs lab {running.instance.lab!r}, not {self.id!r}: "
                "give Lab(..., instance='another-name')"
            )
        return running

    def _wait_if_starting(self, found: RunningLab | None) -> RunningLab | None:
        """An instance another process is deploying right now (`manrs-lab up`, another
        kernel): wait for it rather than tear it down."""
        if found is None or found.instance.ready:
            return found
        if time.time() - found.instance.created > STARTING_GRACE:
            return found
        self.board.step("the lab is being started elsewhere: waiting for it")
        deadline = time.monotonic() + STARTING_GRACE
        while time.monotonic() < deadline:
            time.sleep(0.5)
            found = self._attach()
            if found is None or found.instance.ready:
                return found
        return found

    def _healthy(self, running: RunningLab) -> bool:
        inst = running.instance
        return (
            inst.ready
            and inst.folder.exists()
            and all(running.runtime.node_running(inst, n) for n in self.lab.topology.nodes)
        )

    def _operate(
        self, phase: str, body: Callable[[], str], *, wait: bool, done_phase: str, checks: int = 0
    ) -> None:
        """Run one operation at a time, reporting into the board; in a thread unless `wait`."""
        if self.autograde:
            print(f"(autograde: {phase} skipped; grading replays the saved configuration)")
            return

        def run() -> None:
            with self._ops:
                if phase not in ("checking", "starting"):
                    self.mark_changed()  # a start marks it only when it deploys
                self.board.begin(phase, checks)
                try:
                    message = body()
                except Exception as exc:
                    after = "running" if self._running is not None else "error"
                    self.board.fail(str(exc), after)
                    if wait:
                        raise
                    return
                self.board.finish(done_phase, message)
                for panel in list(self._panels):
                    panel.refresh_soon()

        if wait:
            self.wait()
            run()
        else:
            self._worker = threading.Thread(target=run, name=f"manrs-lab {phase}", daemon=True)
            self._worker.start()

    def wait(self) -> None:
        """Wait for an operation started in the background (by the panel or at start-up)."""
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join()

    def saved_configuration(self) -> list[str]:
        """The nodes whose configuration is saved beside the notebook (what Start can restore)."""
        if self.autograde:
            return []
        try:
            found = submission.read_submission(self.lab, self.notebook_dir)
        except (LabError, OSError):
            return []
        return sorted(found.configs)

    def start(self, wait: bool = True, restore: bool | None = None) -> None:
        """Start the lab, or find it running; a broken leftover instance is replaced.

        `restore`: boot the routers from the configuration saved beside the notebook
        (`.manrs-lab/<lab>/`, written by every check and by Stop); None: when there is one."""

        def body() -> str:
            found = self._wait_if_starting(self._attach())
            if found is not None and self._healthy(found):
                self._running = found
                self.board.all_ready()
                return "already running"
            self.mark_changed()
            if found is not None:
                self.board.step("removing a broken earlier instance")
                operations.down(self.instance, self.board)
            use_saved = bool(self.saved_configuration()) if restore is None else restore
            return self._deploy(restore=use_saved)

        self._operate("starting", body, wait=wait, done_phase="running")

    def _deploy(self, restore: bool = False) -> str:
        """`operations.up`; a lab that deployed but did not converge in time is kept, with a
        warning (a learner's change may be why, and the routers are there to look at).
        `restore`: from the saved configuration (what `submission` accepts of it, as data)."""
        self._running = None
        self.restored = []
        private = Path(tempfile.mkdtemp(prefix="manrs-lab-restore-"))
        try:
            return self._deploy_from(private if restore else None)
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def _deploy_from(self, private: Path | None) -> str:
        configs: dict[str, Path] = {}
        saved: submission.Submission | None = None
        if private is not None:
            saved = submission.read_submission(self.lab, self.notebook_dir)
            for node, text in saved.configs.items():
                path = private / f"{node}{submission.CONFIG_SUFFIX}"
                path.write_text(text)
                configs[node] = path
        try:
            result = operations.up(
                self.id,
                self.board,
                instance=self.instance,
                configs=configs,
                runtime=self.runtime,
            )
        except LabError as exc:
            found = self._attach()
            if found is None:
                raise
            # Deployed, just not converged: mark it done so a later Start or a new kernel
            # attaches to it instead of waiting for a deploy that has finished.
            found.instance.ready = True
            found.instance.save()
            self._running = found
            self._restore_filters(found, saved)
            self.board.all_ready()
            self.board.error = f"deployed, but {exc}"
            return self.board.error
        self._running = result.running
        notes = self._restore_filters(result.running, saved)
        self.board.all_ready()
        text = (
            f"running: deployed in {result.deploy_seconds:.1f} s, BGP converged "
            f"{result.converge_seconds:.1f} s later"
        )
        if self.restored:
            where = f"{replay_mod.SAVE_DIR}/{self.id}"
            text += (
                f"; restored your saved configuration of {', '.join(self.restored)} "
                f"from {where}/ (Reset goes back to the starting configuration)"
            )
        return "; ".join([text, *notes])

    def _restore_filters(
        self, running: RunningLab, saved: submission.Submission | None
    ) -> list[str]:
        """The saved packet filters (anti-spoofing), applied as data; what was not applied."""
        if saved is None:
            return []
        self.restored = sorted(saved.configs)
        notes = [f"not restored: {r}" for r in saved.refused]
        for node, filters in saved.filters.items():
            if not filters.empty:
                notes += replay_mod.apply_filters(running, node, filters)
        return notes

    def stop(self, wait: bool = True) -> None:
        """Save the routers' configurations beside the notebook (Start offers them back), then
        stop every router of the lab and remove its namespaces."""

        def body() -> str:
            saved = ""
            running, self._running = self._running, None
            if running is not None and running.instance.folder.exists():
                self.board.step("saving your configuration")
                try:
                    with operations.exclusive(
                        self.instance, "saving before a stop", self.board
                    ) as live:
                        files = replay_mod.save_configs(live, self.notebook_dir)
                    where = f"{replay_mod.SAVE_DIR}/{self.id}"
                    saved = f"; your configuration of {', '.join(files)} is saved in {where}/"
                except LabError as exc:
                    saved = f"; your configuration could not be saved: {exc}"
            with contextlib.suppress(NotRunningError):
                operations.down(self.instance, self.board)
            self.board.all_stopped()
            return f"stopped{saved}"

        self._operate("stopping", body, wait=wait, done_phase="stopped")

    def reset(self, wait: bool = True) -> None:
        """Back to the starting configurations (the instance is rebuilt)."""

        def body() -> str:
            self._running = None
            if self._attach() is not None:
                operations.down(self.instance, self.board)
            message = self._deploy()
            return message if self.board.error else "back at the starting configuration"

        self._operate("resetting", body, wait=wait, done_phase="running")

    def solve(self, task: str | None = None) -> None:
        """Apply the lab's reference solution (instructors and tests); `task`: in a staged lab,
        that task's model answer only."""

        def body() -> str:
            name = self._require_running().instance.name
            nodes = operations.solve(name, self.board, task=task)
            self.board.all_ready()
            return f"reference solution applied on {', '.join(nodes)}"

        self._operate("solving", body, wait=True, done_phase="running")

    @property
    def running(self) -> RunningLab:
        """The running instance; waits for a start in progress."""
        self.wait()
        return self._require_running()

    def _require_running(self) -> RunningLab:
        """The running instance, without waiting (operation bodies hold the lock)."""
        if self._running is None:
            if self.autograde:
                raise LabError("autograde: the lab is rebuilt by the grade cells only")
            reason = f" ({self.board.error})" if self.board.error else ""
            raise NotRunningError(
                f"the lab is not running{reason}: click Start in the panel or run lab.start()"
            )
        return self._running

    # -- grading --------------------------------------------------------------------------
    def check(self, tasks: list[str] | None = None, *, save: bool = True) -> ReportView:
        """Grade the lab (probes included); saves the routers' configurations first."""
        if self.autograde:
            raise LabError(KERNEL_AUTOGRADE)
        self._grade_now(tasks, save=save, wait=True)
        assert self.last_report is not None
        return ReportView(self.last_report)

    def check_in_background(self) -> None:
        """What the panel's Check button does: grade without blocking the kernel; a staged lab's
        current step only (the others are states before or after it)."""
        step = self.current_step()
        self._grade_now(None if step is None else [step], save=True, wait=False)

    def current_step(self) -> str | None:
        """A staged lab's step: the first task whose check has not passed on this instance
        (None: not a staged lab, or every step passed)."""
        running = self._running
        folder = running.instance.folder if running is not None else None
        return tutor.current_step(folder, self.lab)

    def steps_passed(self) -> list[str]:
        running = self._running
        return tutor.steps_passed(running.instance.folder if running is not None else None)

    def mark_changed(self) -> None:
        """The lab changed: the score shown is from before (cleared by the next check)."""
        if self.last_report is not None and not self.report_stale:
            self.report_stale = True
            self.board.notify()

    def readiness(self) -> ReadinessView:
        """The MANRS readiness report of your AS: grades every task (real probes), then reads
        the registry and the RPKI (docs/readiness.md). `.to_json()` exports it."""
        if self.autograde:
            raise LabError(KERNEL_AUTOGRADE)
        self._grade_now(None, save=True, wait=True, assess=True)
        if self.last_readiness is None:
            raise LabError(f"no readiness report: {self.readiness_error}")
        return ReadinessView(self.last_readiness)

    def readiness_in_background(self) -> None:
        """What the panel's Readiness button does: a check of every task, then the report."""
        self._grade_now(None, save=True, wait=False, assess=True)

    def _grade_now(
        self, tasks: list[str] | None, *, save: bool, wait: bool, assess: bool = False
    ) -> None:
        selected = [c for c in self.lab.spec.checks if tasks is None or c.task in (*tasks, None)]
        assess = tasks is None and (assess or readiness_mod.auto_shown(self.lab))

        def body() -> str:
            name = self._require_running().instance.name
            # One check at a time per instance across processes (a CLI check beside this one
            # waits), and a killed check's probes withdrawn before saving and grading.
            with operations.exclusive(name, "a check from a notebook", self.board) as running:
                if save:
                    replay_mod.save_configs(running, self.notebook_dir)
                    if self.lab.staged and tasks is not None and len(tasks) == 1:
                        replay_mod.save_configs(running, self.notebook_dir, task=tasks[0])
                report = operations.grade_exclusive(running, self.board, tasks=tasks)
                self.last_readiness, self.readiness_error = None, None
                if assess:
                    self.board.step("reading the registry and the RPKI for the readiness report")
                    try:
                        self.last_readiness = readiness_mod.assess(running, report)
                    except LabError as exc:
                        self.readiness_error = str(exc)
            self.last_report = report
            self.report_stale = False
            self.checked_instance = running.instance.created
            return f"checked: {report.points}/{report.max_points} points"

        self._operate("checking", body, wait=wait, done_phase="running", checks=len(selected))

    def assert_task(self, task_id: str) -> None:
        """For grade cells: grade one task; prints PASS, or raises TaskFailed (an
        AssertionError) listing what failed, shown as that message alone."""
        tasks = {t.id: t for t in self.lab.spec.tasks}
        if task_id not in tasks:
            raise LabError(f"no task {task_id!r} in {self.id} (tasks: {', '.join(tasks)})")
        if self.autograde:
            raise TaskFailed(wrap_feedback([f"{tasks[task_id].title}: {KERNEL_AUTOGRADE}"]))
        try:
            self._grade_now([task_id], save=True, wait=True)
        except LabError as exc:
            raise TaskFailed(wrap_feedback([f"{tasks[task_id].title}: {exc}"])) from None
        assert self.last_report is not None
        report = self.last_report
        result = report.task(task_id)
        if result.passed:
            print(f"PASS {result.title}: {result.points}/{result.max_points} points")
            return
        raise TaskFailed(wrap_feedback(task_failure_text(report, result)))

    def save(self) -> SavedFiles:
        """Save the configurations the grader replays (`.manrs-lab/<lab>/` beside the notebook)."""
        if self.autograde:
            kept = SavedFiles()
            kept.note = "(autograde: the submission's saved configurations are used as they are)"
            return kept
        name = self.running.instance.name
        with operations.exclusive(name, "saving from a notebook", SilentProgress()) as running:
            return SavedFiles(replay_mod.save_configs(running, self.notebook_dir))

    # -- routers --------------------------------------------------------------------------
    def router(self, node: str) -> Router:
        return self.running.router(node)

    def _role(self, node: str) -> Role:
        try:
            return self.lab.topology.nodes[node].role
        except KeyError:
            known = ", ".join(self.lab.topology.nodes)
            raise LabError(f"no node {node!r} in lab {self.id} (nodes: {known})") from None

    def vtysh(self, node: str, *commands: str) -> str:
        """Run vtysh commands on an FRR node; returns what vtysh printed."""
        if self._role(node) is not Role.FRR:
            raise LabError(f"{node} is a {self._role(node)} node, not FRR: use %birdc or %sh")
        handle = self.running.handle(node)
        argv = ["vtysh"]
        if handle.local_dir is not None:
            argv += ["--vty_socket", str(handle.local_dir / "run")]
        for command in commands:
            argv += ["-c", command]
        result = handle.exec(argv)
        return result.stdout + result.stderr

    def birdc(self, node: str, command: str) -> str:
        """Run one birdc command on a BIRD node."""
        if self._role(node) is not Role.BIRD:
            raise LabError(f"{node} is a {self._role(node)} node, not BIRD: use %vtysh or %sh")
        handle = self.running.handle(node)
        argv = ["birdc"]
        if handle.local_dir is not None:
            argv += ["-s", str(handle.local_dir / "bird.ctl")]
        result = handle.exec([*argv, *command.split()])
        return result.stdout + result.stderr

    def sh(self, node: str, script: str, timeout: float = 60.0) -> tuple[int, str]:
        """Run a shell script inside a node's namespace: (exit status, output)."""
        self._role(node)
        result = self.running.handle(node).exec(["sh", "-c", script], timeout=timeout)
        return result.returncode, result.stdout + result.stderr

    def running_config(self, node: str) -> str:
        return replay_mod.current_config(self.running, node)

    def _registry(self) -> str:
        registry = self.running.registry
        if not registry:
            raise LabError(f"lab {self.id} has no routing registry")
        return registry

    def whois(self, query: str) -> str:
        """A whois query to the lab's registry: what `whois -h 169.254.43.2 QUERY` answers on
        the learner's router (`-r`, `-T CLASS`, `-i ATTRIBUTE VALUE`, `!gAS64500`...)."""
        from manrs_lab import irr_registry  # noqa: PLC0415 - only labs with a registry

        return irr_registry.query(self._registry(), query)

    def registry_update(self, text: str) -> str:
        """Create, change or delete objects in the lab's registry, as an operator mails them to
        an IRR: RPSL objects separated by blank lines, `password: PW` lines (the maintainer's),
        `delete: REASON` inside an object to delete it. Sent through the registry's submission
        interface; raises LabError with the registry's answer if it refused any object."""
        from manrs_lab.irr_registry import updates  # noqa: PLC0415 - only labs with a registry

        self.wait()
        with self._ops:
            registry = self._registry()
            self.mark_changed()
            results = updates.apply_update(registry, text)
        return "\n".join(r.report for r in results)

    def apply_config(self, node: str, text: str) -> str:
        """FRR: commands applied on top of the running config. BIRD: a whole new bird.conf."""
        role = self._role(node)
        if not role.is_router:
            raise LabError(f"{node} is a {role} node: only routers take a configuration")
        body = [ln for ln in text.splitlines() if ln.strip() and ln.lstrip()[0] not in "!#"]
        if not body:
            return f"nothing applied to {node}: the cell holds only comments"
        self.wait()
        with self._ops:
            running = self._require_running()
            refused = dry_run(running, node, role, text)
            if refused:
                raise LabError(f"nothing applied to {node}: {refused}")
            self.mark_changed()
            running.router(node).apply_config(text)
            start = time.monotonic()
            try:
                running.wait_converged(SilentProgress(), timeout=CONVERGE_AFTER_APPLY)
            except LabError as exc:
                return f"applied to {node}; the lab has not settled yet: {exc}"
        for panel in list(self._panels):
            panel.refresh_soon()
        return f"applied to {node}; BGP settled in {time.monotonic() - start:.1f} s"

    def routes(self, node: str, prefix: str | None = None) -> RouteTable:
        """A router's BGP paths after its import policy (all, or for exactly `prefix`)."""
        if self.autograde:
            return RouteTable(node, (), prefix, note=AUTOGRADE_NOTE)
        return RouteTable(node, tuple(self.router(node).routes(prefix)), prefix)

    def sessions(self, node: str | None = None) -> SessionTable:
        if self.autograde:
            return SessionTable((), (("(all)", AUTOGRADE_NOTE),))
        names = [node] if node is not None else self.running.router_names()
        found: list[tuple[str, BgpSession]] = []
        errors: list[tuple[str, str]] = []
        for name in names:
            try:
                found += [(name, s) for s in self.router(name).sessions()]
            except LabError as exc:
                errors.append((name, str(exc)))
        return SessionTable(tuple(found), tuple(errors))

    # -- live state and the panel ----------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Which nodes run and each router's sessions, read now (cheap: vty sockets, birdc)."""
        running = self._running
        if running is None or not running.instance.folder.exists():
            running = None if self.autograde else self._attach()
        if running is None or not running.instance.folder.exists():
            views = tuple(
                NodeView(name, node.role, node.asn, running=False)
                for name, node in self.lab.topology.nodes.items()
            )
            return Snapshot(self.lab, self.instance, False, views, time.time())
        operations.withdraw_stale_probes(running)  # a killed check's, if nothing runs now
        out = []
        for name, node in self.lab.topology.nodes.items():
            alive = running.runtime.node_running(running.instance, name)
            sessions: tuple[BgpSession, ...] = ()
            error = None
            if alive and node.role.is_router:
                try:
                    sessions = tuple(running.router(name).sessions())
                except LabError as exc:
                    error = str(exc)
            out.append(NodeView(name, node.role, node.asn, alive, sessions, error))
        return Snapshot(
            self.lab, self.instance, True, tuple(out), time.time(), running.instance.created
        )

    def status(self) -> Snapshot:
        return self.snapshot()

    def panel(self) -> LabPanel | Note:
        """The control panel: start/reset/stop, per-node progress, live topology, Check."""
        if self.autograde:
            return Note(
                f"{self.lab.spec.title}: autograding. The grade cells rebuild the lab from the "
                "configurations saved with the submission and grade it live."
            )
        from manrs_lab.notebook.panel import LabPanel  # noqa: PLC0415 - needs ipywidgets

        for old in self._panels:
            old.close()
        panel = LabPanel(self)
        self._panels = [panel]
        return panel

    def close(self) -> None:
        """Stop the panel's background refresh (the lab itself keeps running)."""
        for panel in self._panels:
            panel.close()
        self._panels = []


_FRR_LINE = re.compile(r"^line (\d+): (.*)$", re.MULTILINE)
_DRY_RUN = {
    # FRR: the running configuration with the cell after it, through vtysh's own dry run.
    Role.FRR: 'd=$(mktemp -d) && chmod 755 "$d" && cat > "$d/frr.conf" && chmod 644 '
    '"$d/frr.conf" && : > "$d/vtysh.conf" && vtysh --config_dir "$d" -C -f "$d/frr.conf"; '
    's=$?; rm -rf "$d"; exit $s',
    # BIRD: the cell is the whole new bird.conf (`bird -p` parses it; no probe include).
    Role.BIRD: 'f=$(mktemp) && cat > "$f" && bird -p -c "$f"; s=$?; rm -f "$f"; exit $s',
}


def dry_run(running: RunningLab, node: str, role: Role, text: str) -> str | None:
    """What the daemon's own dry run refuses in a configuration cell (None: nothing), so a cell
    with a typo applies nothing rather than every line but the bad one (vtysh -f goes on)."""
    script = _DRY_RUN.get(role)
    if script is None:
        return None
    offset = 0
    candidate = text
    if role is Role.FRR:
        base = replay_mod.current_config(running, node)
        offset = len(base.splitlines())
        candidate = base + text
    try:
        result = running.handle(node).exec(["sh", "-c", script], input_text=candidate)
    except (LabError, subprocess.SubprocessError, OSError) as exc:
        return f"the dry run could not run: {exc}"
    if result.ok:
        return None
    output = (result.stdout + result.stderr).strip()
    if role is Role.FRR:
        cell = text.splitlines()
        found = []
        for match in _FRR_LINE.finditer(output):
            n = int(match.group(1)) - offset
            what = match.group(2).strip()
            line = cell[n - 1].strip() if 0 < n <= len(cell) else ""
            found.append(f"line {n} of the cell ({line!r}): {what}" if line else what)
        if found:
            return "vtysh refused " + "; ".join(found)
    return f"the dry run refused it: {output or f'exit status {result.returncode}'}"


def _make_current(lab: Lab) -> None:
    global _current  # noqa: PLW0603 - one current lab per kernel, for the magics
    previous = _current
    if previous is not None and previous is not lab:
        previous.close()
    _current = lab
    shell = _ipython_shell()
    if shell is not None:
        from manrs_lab.notebook.magics import register  # noqa: PLC0415 - needs IPython

        register(shell)
