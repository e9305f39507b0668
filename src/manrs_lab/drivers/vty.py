"""FRR's per-daemon vty socket: < 1 ms a query, where a vtysh process costs ~45 ms.

Protocol (lib/vty.c): the client writes a command terminated by NUL; the daemon answers with
the output followed by three NULs and a one-byte status (0 = success).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from manrs_lab.errors import ExecError

END = b"\0\0\0"


def vty_query(sock_path: Path, command: str, timeout: float = 10.0) -> str:
    return vty_session(sock_path, [command], timeout)[0]


def vty_batch(sock_path: Path, commands: list[str], timeout: float = 10.0) -> None:
    """Send `commands` in one write, so the daemon runs them in one go (no event of its own in
    between), then check every answer; ExecError names the first command refused."""
    with _connected(sock_path, commands, timeout) as sock:
        sock.sendall(b"".join(c.encode() + b"\0" for c in commands))
        buf = bytearray()
        for command in commands:
            _answer(sock, buf, sock_path, command)


def vty_session(sock_path: Path, commands: list[str], timeout: float = 10.0) -> list[str]:
    """Run `commands` in order on one connection (its node carries over, as in vtysh: `enable`,
    `configure terminal`, ...); the outputs, or ExecError at the first command that fails."""
    outputs = []
    with _connected(sock_path, commands, timeout) as sock:
        buf = bytearray()
        for command in commands:
            sock.sendall(command.encode() + b"\0")
            outputs.append(_answer(sock, buf, sock_path, command))
    return outputs


@contextmanager
def _connected(sock_path: Path, commands: list[str], timeout: float) -> Iterator[socket.socket]:
    """A connection to the daemon's vty socket; socket errors become ExecError."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            connect_retrying(sock, sock_path, time.monotonic() + timeout)
            yield sock
        except OSError as exc:
            more = f" (+{len(commands) - 1} more)" if len(commands) > 1 else ""
            raise ExecError(f"{sock_path}: {commands[0]!r}{more}: {exc}") from exc


def connect_retrying(sock: socket.socket, sock_path: Path, deadline: float) -> None:
    """With a timeout set, an AF_UNIX connect does not wait for room in the daemon's listen
    backlog: it fails at once with EAGAIN when many probes talk to one daemon. Try again until
    the deadline, as a blocking connect would have waited."""
    pause = 0.002
    while True:
        try:
            sock.connect(str(sock_path))
            return
        except BlockingIOError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _answer(sock: socket.socket, buf: bytearray, sock_path: Path, command: str) -> str:
    """The next answer: read into `buf` until its end marker and status byte, consume it, and
    return its text, or raise ExecError if the daemon refused `command`."""
    searched = 0  # the end marker is looked for only in what came since (and 3 bytes back)
    while (end := buf.find(END, searched)) < 0 or len(buf) < end + 4:
        if end < 0:
            searched = max(0, len(buf) - len(END) + 1)
        chunk = sock.recv(65536)
        if not chunk:
            raise ExecError(f"{sock_path}: connection closed during {command!r}")
        buf += chunk
    text = buf[:end].decode(errors="replace")
    status = buf[end + 3]
    del buf[: end + 4]
    if status != 0:
        raise ExecError(f"{command!r} failed: {text.strip()}")
    return text
