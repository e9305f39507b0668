"""BIRD's control socket spoken directly gives what birdc prints: raw server replies recorded
from BIRD 2.0.12 (`cust1_*.ctl`) replayed, compared with birdc's output of the same moment."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from manrs_lab.drivers import bird_parse
from manrs_lab.drivers.bird_ctl import bird_query
from manrs_lab.errors import ExecError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bird"


def _replay(path: Path, raw: bytes) -> socket.socket:
    """A socket that greets and answers one command with the recorded bytes."""
    greeting, _, reply = raw.partition(b"\n")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(greeting + b"\n")
            data = b""
            while b"\n" not in data:
                data += conn.recv(4096)
            conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return server


@pytest.mark.parametrize("name", ["show_route_all", "show_protocols"])
def test_replies_read_like_birdc_prints_them(tmp_path: Path, name: str):
    raw = (FIXTURES / f"cust1_{name}.ctl").read_bytes()
    server = _replay(tmp_path / "bird.ctl", raw)
    try:
        text = bird_query(tmp_path / "bird.ctl", name.replace("_", " "), timeout=5)
    finally:
        server.close()
    printed = (FIXTURES / f"cust1_{name}.birdc.txt").read_text()
    assert text == bird_parse.strip_banner(printed)
    assert text.count("\n") > 3


def test_a_missing_socket_is_an_exec_error(tmp_path: Path):
    with pytest.raises(ExecError, match=r"bird\.ctl"):
        bird_query(tmp_path / "bird.ctl", "show status", timeout=0.5)
