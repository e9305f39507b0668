"""BIRD's control socket, spoken directly: what `birdc` prints, without a process per query.

A check of a lab with BIRD routers asked `ip netns exec … birdc` several hundred times (~3 ms of
CPU each, most of a check's cost). The socket is a file in the node's state folder, reachable
from any namespace. Protocol (BIRD's doc/prog, client/client.c): the server greets with one
reply; each command is one line; each reply line is `CODE-text` (more follows), `CODE text`
(last line), ` text` (continuation of the previous code) or `+text` (asynchronous message).
birdc prints every text, except code 0000 (OK, nothing to say), and so does this module.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from pathlib import Path

from manrs_lab.drivers.vty import connect_retrying
from manrs_lab.errors import ExecError


def bird_query(sock_path: Path, command: str, timeout: float = 10.0) -> str:
    """`birdc -s SOCK COMMAND`'s output (banner left out)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            connect_retrying(sock, sock_path, deadline)
            reader = _Lines(sock)
            _reply(reader)  # the greeting: "0001 BIRD 2.0.12 ready."
            sock.sendall(command.encode() + b"\n")
            return "\n".join(_reply(reader))
        except OSError as exc:
            raise ExecError(f"{sock_path}: {command!r}: {exc}") from exc


class _Lines:
    """The socket's lines, split once per chunk read (not the whole buffer again per line)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lines: deque[bytes] = deque()
        self._partial = b""

    def next(self) -> str:
        while not self._lines:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("BIRD closed the control connection")
            *complete, self._partial = (self._partial + chunk).split(b"\n")
            self._lines.extend(complete)
        return self._lines.popleft().decode(errors="replace")


def _reply(reader: _Lines) -> list[str]:
    """The texts of one reply, as birdc prints them, up to its last line."""
    out = []
    while True:
        line = reader.next()
        if line.startswith("+"):  # asynchronous message
            out.append(f">>> {line[1:]}")
        elif line.startswith(" "):  # continuation
            out.append(line[1:])
        elif len(line) > 4 and line[:4].isdigit() and line[4] in " -":
            if int(line[:4]) != 0:
                out.append(line[5:])
            if line[4] == " ":
                return out
        else:
            out.append(f"??? <{line}>")
