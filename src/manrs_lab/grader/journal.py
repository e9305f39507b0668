"""The probe journal: what the grader has put on an instance's routers, written before it acts.

`<instance folder>/probes.json` lists every probe prefix a router announces for the grader
(recorded before the announcement is sent, removed once it is withdrawn) and, while a check
runs, a `grading` mark. A check killed half-way (kill -9, a closed laptop, a kernel restart)
leaves its entries; `withdraw_leftovers` removes what they name before the next check, solve,
reset, save or status, under the instance's lock, so it never races a live check.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from manrs_lab.drivers.bird import BirdRouter
from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.drivers.host import COUNT_TABLE
from manrs_lab.errors import ExecError, LabError
from manrs_lab.progress import Progress
from manrs_lab.running import RunningLab
from manrs_lab.spec.topology import Role

JOURNAL = "probes.json"
# (node, prefixes, as_path, next_hop): what a node announces for a probe
Announcement = tuple[str, tuple[str, ...], tuple[int, ...], str | None]
# Counting tables checks put on hosts (anti-spoofing); harmless but not the lab's own.
COUNT_TABLES = (COUNT_TABLE, "manrs_count6")
NOT_CONFIGURED = "Can't find"  # FRR's answer to `no network P` for a P it does not have

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class ProbeJournal:
    """One instance's journal; safe to use from the grader's threads at once."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / JOURNAL
        with _locks_guard:
            self._lock = _locks.setdefault(str(self.path.absolute()), threading.Lock())

    @classmethod
    def of(cls, running: RunningLab) -> ProbeJournal:
        return cls(running.instance.folder)

    # -- reading and writing ------------------------------------------------------------------
    def read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"probes": [], "grading": None}
        except (OSError, ValueError):
            # A torn write cannot happen (rename), but a hand-edited file can: keep nothing
            # of it except that something may be left, which makes recovery look everywhere.
            return {"probes": [], "grading": {"pid": 0, "unreadable": True}}
        if not isinstance(doc, dict):
            return {"probes": [], "grading": {"pid": 0, "unreadable": True}}
        probes = [p for p in doc.get("probes", []) if isinstance(p, dict)]
        return {"probes": probes, "grading": doc.get("grading")}

    def _write(self, doc: dict[str, Any]) -> None:
        if not doc["probes"] and not doc["grading"]:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(f".{JOURNAL}.{os.getpid()}.{threading.get_ident()}.tmp")
        # No fsync: the journal outlives a killed check (the page cache keeps what was
        # written), and a machine that goes down takes the namespaces and daemons it guards
        # with it. The rename keeps a reader from ever seeing half a file.
        tmp.write_text(json.dumps(doc, separators=(",", ":")))
        tmp.replace(self.path)

    def empty(self) -> bool:
        return not self.path.exists()

    def add(
        self,
        node: str,
        prefixes: list[str] | tuple[str, ...],
        as_path: tuple[int, ...] = (),
        next_hop: str | None = None,
    ) -> None:
        """Record, before they are sent, announcements `node` is about to make."""
        self.add_many([(node, tuple(prefixes), as_path, next_hop)])

    def add_many(self, announcements: list[Announcement]) -> None:
        """Record several nodes' announcements at once, (node, prefixes, as_path, next_hop)
        each (a grading run records every probe it may make before the first, one write)."""
        with self._lock:
            doc = self.read()
            have = {(p["node"], p["prefix"]) for p in doc["probes"]}
            for node, prefixes, as_path, next_hop in announcements:
                for prefix in prefixes:
                    if (node, prefix) not in have:
                        have.add((node, prefix))
                        doc["probes"].append(
                            {
                                "node": node,
                                "prefix": prefix,
                                "as_path": list(as_path),
                                "next_hop": next_hop,
                                "since": time.time(),
                            }
                        )
            self._write(doc)

    def remove(self, node: str, prefixes: list[str] | tuple[str, ...]) -> None:
        """Forget announcements once they are withdrawn."""
        self.remove_many({(node, p) for p in prefixes})

    def remove_many(self, gone: set[tuple[str, str]]) -> None:
        """Forget (node, prefix) announcements: withdrawn, or never made."""
        with self._lock:
            doc = self.read()
            doc["probes"] = [p for p in doc["probes"] if (p["node"], p["prefix"]) not in gone]
            self._write(doc)

    def begin_grading(self, what: str) -> None:
        with self._lock:
            doc = self.read()
            doc["grading"] = {"pid": os.getpid(), "what": what, "since": time.time()}
            self._write(doc)

    def end_grading(self) -> None:
        with self._lock:
            doc = self.read()
            doc["grading"] = None
            self._write(doc)

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)


def withdraw_leftovers(running: RunningLab, progress: Progress) -> list[str]:
    """Undo what an interrupted check left: its probe announcements (on every router the
    journal names), tripped max-prefix sessions and counting tables on hosts; then wait until
    the lab has converged again. Returns what was withdrawn, as `node: prefix` lines.

    Call with the instance's lock held. The journal is cleared only once all of it is undone.
    """
    journal = ProbeJournal.of(running)
    doc = journal.read()
    if not doc["probes"] and not doc["grading"]:
        return []
    by_node: dict[str, list[str]] = {}
    for entry in doc["probes"]:
        by_node.setdefault(str(entry["node"]), []).append(str(entry["prefix"]))
    progress.step(
        "withdrawing what an interrupted check left"
        + (f": {sum(len(v) for v in by_node.values())} probe prefixes" if by_node else "")
    )
    done: list[str] = []
    for node, prefixes in by_node.items():
        if node not in running.lab.topology.nodes:
            continue  # a journal of an older version of the lab: nothing of it can be there
        _withdraw(running, node, prefixes)
        journal.remove(node, prefixes)
        done += [f"{node}: {p}" for p in prefixes]
        progress.node(node, f"withdrew {len(prefixes)} probe prefixes")
    if doc["grading"]:
        _clear_tripped_sessions(running)
        for name, node_spec in running.lab.topology.nodes.items():
            if node_spec.role is Role.HOST:
                for table in COUNT_TABLES:
                    running.handle(name).exec(["nft", "delete", "table", "inet", table])
    running.wait_converged(progress)
    journal.clear()
    return done


def _withdraw(running: RunningLab, node: str, prefixes: list[str]) -> None:
    router = running.router(node)
    if isinstance(router, FrrRouter):
        for prefix in prefixes:
            try:
                router.withdraw([prefix])
            except ExecError as exc:
                if NOT_CONFIGURED not in str(exc):
                    raise LabError(f"{node}: could not withdraw probe {prefix}: {exc}") from exc
    elif isinstance(router, BirdRouter):
        # A fresh driver announces nothing: its probe file is rewritten empty.
        router.withdraw(prefixes)
    deadline = time.monotonic() + 5.0
    while True:
        left = [p for p in prefixes if any(r.peer is None for r in router.routes(p))]
        if not left:
            if isinstance(router, FrrRouter):
                # The killed check's route-maps (its drawn paths): no check runs now.
                router.drop_probe_maps()
            return
        if time.monotonic() > deadline:
            # The router still originates it: its own configuration does (the learner's), and
            # that is not ours to remove.
            return
        time.sleep(0.02)


def _clear_tripped_sessions(running: RunningLab) -> None:
    """Sessions a max-prefix probe shut: a killed check did not get to bring them back."""
    for name in running.router_names():
        router = running.router(name)
        with contextlib.suppress(ExecError):
            for session in router.sessions():
                if "PfxCt" not in session.state:
                    continue
                if isinstance(router, FrrRouter):
                    router.bgpd_commands([f"clear bgp {session.peer}"])
                elif isinstance(router, BirdRouter) and session.name:
                    router.birdc(f"restart {session.name}")
