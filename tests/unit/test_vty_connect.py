"""A vty connect that meets a full listen backlog waits for room instead of failing at once
(issue 12: `[Errno 11] Resource temporarily unavailable` cost a correct config three points)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from manrs_lab.drivers.vty import END, vty_query
from manrs_lab.errors import ExecError


def _daemon(path: Path, accept_after: float) -> tuple[socket.socket, list[socket.socket]]:
    """A listener whose backlog is full until `accept_after` seconds, then answers 'ok'."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(0)
    fillers = []
    for _ in range(4):  # fill the backlog: further non-blocking connects get EAGAIN
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        filler.setblocking(False)
        try:
            filler.connect(str(path))
        except BlockingIOError:
            filler.close()
            break
        fillers.append(filler)

    def answer(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\0" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            conn.sendall(b"ok" + END + b"\0")

    def serve() -> None:
        time.sleep(accept_after)
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server, fillers


def test_connect_waits_for_room_in_a_full_backlog(tmp_path: Path):
    server, fillers = _daemon(tmp_path / "bgpd.vty", accept_after=0.3)
    try:
        assert fillers, "the backlog could not be filled: the test would prove nothing"
        assert vty_query(tmp_path / "bgpd.vty", "show version", timeout=5.0) == "ok"
    finally:
        server.close()
        for f in fillers:
            f.close()


def test_connect_still_fails_at_the_deadline(tmp_path: Path):
    server, fillers = _daemon(tmp_path / "bgpd.vty", accept_after=30)
    try:
        with pytest.raises(ExecError):
            vty_query(tmp_path / "bgpd.vty", "show version", timeout=0.3)
    finally:
        server.close()
        for f in fillers:
            f.close()
