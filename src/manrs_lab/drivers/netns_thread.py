"""Run a function inside a node's network namespace without starting a process.

setns(CLONE_NEWNET) moves only the calling thread, so a fresh thread joins the namespace, runs
the function and ends; sockets it opens stay in that namespace, and processes it starts are
born in it. Starting `python3` in a node costs ~0.1 s of CPU here, and anti-spoofing checks
send packets from many hosts at once.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
libc = ctypes.CDLL(None, use_errno=True)


def libc_ok(result: int, what: str) -> None:
    """Raise OSError with errno if a libc call returned non-zero."""
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), what)


def _in_own_thread(enter: Callable[[], None], fn: Callable[[], T], name: str) -> T:
    """`enter()` then `fn()` in a thread of their own, ended afterwards (a namespace it joined
    never serves anything else); what `fn` returns, or what either raised."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            enter()
            outcome.append(fn())
        except BaseException as exc:  # handed to the caller, as a future would
            failure.append(exc)

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def call_in_netns(path: Path, fn: Callable[[], T], *, hostname: str | None = None) -> T:
    """`fn()` in a thread that has joined the network namespace at `path` (a bare thread, not
    an executor: a check makes some two hundred of these calls: nft, packets).

    With `hostname`, the thread also gets a UTS namespace of its own with that name, so the
    processes `fn` starts (a node's daemons) see the node's name, not the host's: what `ip
    netns exec NS unshare --uts sh -c 'hostname N; exec ...'` did with four processes."""

    def join() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            libc_ok(libc.setns(fd, CLONE_NEWNET), str(path))
        finally:
            os.close(fd)
        if hostname is not None:
            libc_ok(libc.unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS)")
            socket.sethostname(hostname)

    return _in_own_thread(join, fn, f"netns {path.name}")


def call_in_new_netns(fn: Callable[[], T]) -> T:
    """`fn()` in a thread that has unshared a fresh, empty network namespace (gone once the
    thread and the processes `fn` starts there have ended). Namespaces created from inside it
    (`ip netns add` run by `fn`) inherit what a namespace hands down to the ones created from
    it, such as `net.ipv4.tcp_child_ehash_entries`, which `fn` may set first."""

    def fresh() -> None:
        libc_ok(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")

    return _in_own_thread(fresh, fn, "netns (new)")
