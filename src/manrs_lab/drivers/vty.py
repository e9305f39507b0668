"""FRR's per-daemon vty socket: < 1 ms a query, where a vtysh process costs ~45 ms.

Protocol (lib/vty.c): the client writes a command terminated by NUL; the daemon answers with
the output followed by three NULs and a one-byte status (0 = success).
"""

from __future__ import annotations

import socket
from pathlib import Path

from manrs_lab.errors import ExecError

END = b"\0\0\0"


def vty_query(sock_path: Path, command: str, timeout: float = 10.0) -> str:
    return vty_session(sock_path, [command], timeout)[0]


def vty_batch(sock_path: Path, commands: list[str], timeout: float = 10.0) -> None:
    """Send `commands` in one write, so the daemon runs them in one go (no event of its own in
    between), then check every answer; ExecError names the first command refused."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(sock_path))
            sock.sendall(b"".join(c.encode() + b"\0" for c in commands))
            buf = bytearray()
            pos = 0
            for command in commands:
                while (end := buf.find(END, pos)) < 0 or len(buf) < end + 4:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ExecError(f"{sock_path}: connection closed during {command!r}")
                    buf += chunk
                if buf[end + 3] != 0:
                    text = buf[pos:end].decode(errors="replace").strip()
                    raise ExecError(f"{command!r} failed: {text}")
                pos = end + 4
        except OSError as exc:
            raise ExecError(f"{sock_path}: {exc}") from exc


def vty_session(sock_path: Path, commands: list[str], timeout: float = 10.0) -> list[str]:
    """Run `commands` in order on one connection (its node carries over, as in vtysh: `enable`,
    `configure terminal`, ...); the outputs, or ExecError at the first command that fails."""
    outputs = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(sock_path))
            for command in commands:
                sock.sendall(command.encode() + b"\0")
                buf = bytearray()
                while len(buf) < 4 or buf[-4:-1] != END:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ExecError(f"{sock_path}: connection closed during {command!r}")
                    buf += chunk
                status = buf[-1]
                text = buf[:-4].decode(errors="replace")
                if status != 0:
                    raise ExecError(f"{command!r} failed: {text.strip()}")
                outputs.append(text)
        except OSError as exc:
            raise ExecError(f"{sock_path}: {commands!r}: {exc}") from exc
    return outputs
