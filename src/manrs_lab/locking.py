"""One change at a time per lab instance, across processes, and atomic claims of names.

An instance's lock is `<state root>/<instance>.lock`, held with `flock` for as long as a check,
solve, reset, ROA change, `up` or `down` works on that instance. It sits beside the instance's
folder, not in it: `reset` and `down` remove the folder while they hold the lock. A second
caller waits its turn (and says what it waits for: the file names the holder); the kernel
drops the lock of a process that dies, so a killed check never blocks the next one.

Instance names are global (namespaces `ml-<name>--<node>` are the machine's), state roots are
not: `up` claims a name under `/run/manrs-lab-roots.lock`, a lock of the whole machine held
only while it looks in every known root and writes its record.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manrs_lab.errors import LabError
from manrs_lab.paths import ROOTS_FILE, state_root
from manrs_lab.progress import Progress

LOCK_SUFFIX = ".lock"
LOCK_MARK = "manrs-lab instance lock"
HOLDER_READ_TRIES = 10
HOLDER_READ_PAUSE = 0.02
NAMES_LOCK = ROOTS_FILE.with_name(ROOTS_FILE.name + LOCK_SUFFIX)


class InstanceBusy(LabError):
    """Another process (or thread) holds the instance's lock and the caller would not wait."""


def lock_path(name: str, root: Path | None = None) -> Path:
    return (root if root is not None else state_root()) / f"{name}{LOCK_SUFFIX}"


@dataclass
class _Held:
    fd: int
    thread: int
    depth: int


_registry = threading.Lock()
_held: dict[str, _Held] = {}
_thread_locks: dict[str, threading.Lock] = {}


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "pid" in info else None


def holder(path: Path) -> str:
    """Who holds (or last held) the lock at `path`, in words.

    A holder writes its record just after it takes the lock: a file still empty is read again
    for a moment rather than answered with "another process".
    """
    info = _read_holder(path)
    for _ in range(HOLDER_READ_TRIES):
        if info is not None:
            break
        time.sleep(HOLDER_READ_PAUSE)
        info = _read_holder(path)
    if info is None:
        return "another process"
    age = time.time() - float(info.get("since", time.time()))
    return f"{info.get('what', 'an operation')} (pid {info['pid']}, running for {age:.0f} s)"


def _announce(progress: Progress | None, message: str) -> None:
    if progress is None:
        return
    waiting = getattr(progress, "waiting", None)
    (waiting or progress.step)(message)


def _open_locked(path: Path, name: str, what: str, progress: Progress | None, wait: bool) -> int:
    announced = False
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy = holder(path)
                if not wait:
                    raise InstanceBusy(f"instance {name!r} is busy: {busy}") from None
                if not announced:
                    _announce(progress, f"waiting for instance {name}: {busy} holds it")
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            # The file may have been removed (by `down`) while we waited: lock the new one.
            try:
                same = path.stat().st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            info = {"mark": LOCK_MARK, "pid": os.getpid(), "what": what, "since": time.time()}
            record = json.dumps(info).encode()
            # Write, then cut to length: a reader never sees the file empty between holders.
            os.pwrite(fd, record, 0)
            os.ftruncate(fd, len(record))
            if announced:
                _announce(progress, f"instance {name} is free: {what} goes on")
            return fd
        except BaseException:
            os.close(fd)
            raise


@contextmanager
def instance_lock(
    name: str,
    what: str,
    progress: Progress | None = None,
    *,
    wait: bool = True,
    root: Path | None = None,
) -> Iterator[Path]:
    """Hold instance `name`'s lock; re-entrant in the thread that holds it. Yields its path.

    `wait=False`: raise InstanceBusy instead of waiting.
    """
    path = lock_path(name, root).absolute()
    key = str(path)
    me = threading.get_ident()
    with _registry:
        held = _held.get(key)
        if held is not None and held.thread == me:
            held.depth += 1
        else:
            held = None
        tlock = _thread_locks.setdefault(key, threading.Lock())
    if held is not None:
        try:
            yield path
        finally:
            held.depth -= 1
        return
    if not tlock.acquire(blocking=False):
        busy = holder(path)
        if not wait:
            raise InstanceBusy(f"instance {name!r} is busy: {busy}")
        _announce(progress, f"waiting for instance {name}: {busy} holds it")
        tlock.acquire()
    try:
        fd = _open_locked(path, name, what, progress, wait)
        with _registry:
            _held[key] = _Held(fd, me, 1)
        try:
            yield path
        finally:
            with _registry:
                del _held[key]
            os.close(fd)
    finally:
        tlock.release()


def remove_held_lock(path: Path) -> None:
    """Remove the lock file this thread holds (the instance is gone): waiters then lock a new
    file and find no instance."""
    with _registry:
        held = _held.get(str(path))
        if held is None or held.thread != threading.get_ident():
            raise RuntimeError(f"{path} is not held by this thread")
    path.unlink(missing_ok=True)


def held_here(path: Path) -> bool:
    """This thread holds the lock at `path` (a `reset` re-deploying its own instance)."""
    with _registry:
        held = _held.get(str(path.absolute()))
        return held is not None and held.thread == threading.get_ident()


def is_locked(path: Path) -> bool:
    """Someone holds the lock at `path` now (this process included)."""
    with _registry:
        if str(path.absolute()) in _held:
            return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def is_our_lock_file(path: Path) -> bool:
    """A lock file this project wrote: its JSON carries our mark (an empty `*.lock`, such as
    /run/xtables.lock, is someone else's)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return False
    return isinstance(info, dict) and info.get("mark") == LOCK_MARK


@contextmanager
def names_claim() -> Iterator[None]:
    """The machine-wide lock under which `up` decides that a name is free and claims it."""
    NAMES_LOCK.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(NAMES_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
