"""BIRD's control socket, spoken directly: what `birdc` prints, without a process per query.

A check of a lab with BIRD routers asked `ip netns exec … birdc` several hundred times (~3 ms of
CPU each, most of a check's cost). The socket is a file in the node's state folder, reachable
from any namespace. Protocol (BIRD's doc/prog, client/client.c): the server greets with one
reply; each command is one line; each reply line is `CODE-text` (more follows), `CODE text`
(last line), ` text` (continuation of the previous code) or `+text` (asynchronous message).
birdc prints every text, except code 0000 (OK, nothing to say), and so does this module.
"""

from __future__ import annotations

import re
import socket
import time
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
            replies = _Replies(sock)
            replies.next()  # the greeting: "0001 BIRD 2.0.12 ready."
            sock.sendall(command.encode() + b"\n")
            return "\n".join(replies.next())
        except OSError as exc:
            raise ExecError(f"{sock_path}: {command!r}: {exc}") from exc


_LAST_LINE = re.compile(rb"^\d{4} ", re.MULTILINE)  # `CODE text`: a reply's last line


class _Replies:
    """The socket's replies, each read whole and decoded once (a route table is thousands of
    lines: looking at each one as it arrives cost more than the table's parsing)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""

    def next(self) -> list[str]:
        """The texts of the next reply, as birdc prints them."""
        searched = 0
        while True:
            last = _LAST_LINE.search(self._buf, searched)
            if last is not None:
                end = self._buf.find(b"\n", last.end())
                if end >= 0:
                    raw, self._buf = self._buf[:end], self._buf[end + 1 :]
                    return _texts(raw.decode(errors="replace").split("\n"))
                searched = last.start()
            else:  # a last line may begin in the line not yet complete
                searched = self._buf.rfind(b"\n") + 1
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("BIRD closed the control connection")
            self._buf += chunk


def _texts(lines: list[str]) -> list[str]:
    """The texts of one reply's lines (its last line included)."""
    out = []
    for line in lines:
        if line.startswith(" "):  # continuation
            out.append(line[1:])
        elif line.startswith("+"):  # asynchronous message
            out.append(f">>> {line[1:]}")
        elif len(line) > 4 and line[:4].isdigit() and line[4] in " -":
            if line[:4] != "0000":
                out.append(line[5:])
        else:
            out.append(f"??? <{line}>")
    return out
