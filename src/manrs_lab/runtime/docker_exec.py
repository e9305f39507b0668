"""Commands inside containers through the Docker SDK (PyPI `docker`), stdin included.

`exec_run` cannot feed stdin, which `vtysh -f /dev/stdin` and `cat > FILE` need, so this uses
the API directly: create the exec, hijack its connection, write stdin in a thread and half-close
it, and read Docker's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, size).
One client per thread: the grader runs checks concurrently.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from manrs_lab.errors import LabError
from manrs_lab.runtime.base import ExecResult

API_TIMEOUT = 60
SDK_HINT = "install the Docker SDK for Python: `pip install docker` (a manrs-lab dependency)"
ENGINE_HINT = (
    "install Docker (Debian: `apt-get install docker.io`; others: Docker Engine or Docker "
    "Desktop) and start it (`docker info` must answer)"
)


def load_sdk() -> Any:
    """The `docker` package, or a LabError saying how to install it."""
    try:
        sdk = importlib.import_module("docker")
    except ImportError as exc:
        raise LabError(f"the containerlab runtime needs the Docker SDK: {SDK_HINT}") from exc
    if not hasattr(sdk, "from_env"):  # a folder named docker/ on sys.path, not the SDK
        raise LabError(f"`import docker` found {sdk.__path__!r}, not the Docker SDK: {SDK_HINT}")
    return sdk


def _raw(sock: Any) -> socket.socket:
    """exec_start(socket=True) answers a SocketIO over a unix socket; its `_sock` is the socket."""
    raw = getattr(sock, "_sock", sock)
    assert isinstance(raw, socket.socket)
    return raw


def _demux(buf: bytes) -> tuple[bytes, bytes]:
    streams = {1: bytearray(), 2: bytearray()}
    i = 0
    while i + 8 <= len(buf):
        stream = buf[i]
        (size,) = struct.unpack(">I", buf[i + 4 : i + 8])
        streams.setdefault(stream, bytearray()).extend(buf[i + 8 : i + 8 + size])
        i += 8 + size
    return bytes(streams[1]), bytes(streams[2])


class DockerExec:
    def __init__(self) -> None:
        self._local = threading.local()

    def client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            sdk = load_sdk()
            try:
                client = sdk.from_env(timeout=API_TIMEOUT)
                client.ping()
            except sdk.errors.DockerException as exc:
                raise LabError(f"the Docker engine does not answer ({exc}): {ENGINE_HINT}") from exc
            self._local.client = client
        return client

    def container(self, name: str) -> Any | None:
        """The container `name`, or None when there is none."""
        sdk = load_sdk()
        try:
            return self.client().containers.get(name)
        except sdk.errors.NotFound:
            return None

    def state(self, name: str) -> str | None:
        """Docker's state of container `name` (running, exited, ...), None when absent."""
        found = self.container(name)
        return None if found is None else str(found.attrs.get("State", {}).get("Status", ""))

    def remove(self, name: str) -> bool:
        """Force-remove container `name` (and its anonymous volumes); True if it existed."""
        found = self.container(name)
        if found is None:
            return False
        sdk = load_sdk()
        try:
            found.remove(force=True, v=True)
        except sdk.errors.NotFound:
            return False
        return True

    def logs(self, name: str, tail: int = 30) -> str:
        found = self.container(name)
        if found is None:
            return ""
        data = found.logs(tail=tail)
        return data.decode(errors="replace") if isinstance(data, bytes) else str(data)

    def run(
        self,
        container: str,
        argv: list[str],
        *,
        input_text: str | None = None,
        timeout: float = 30.0,
    ) -> ExecResult:
        sdk = load_sdk()
        api = self.client().api
        try:
            exec_id = api.exec_create(
                container, argv, stdin=input_text is not None, stdout=True, stderr=True
            )["Id"]
            hijacked = api.exec_start(exec_id, socket=True)
        except sdk.errors.NotFound:
            return ExecResult(tuple(argv), 125, "", f"no container {container} (is the lab up?)")
        except sdk.errors.APIError as exc:
            return ExecResult(tuple(argv), 125, "", f"{container}: {exc.explanation or exc}")
        raw = _raw(hijacked)
        raw.settimeout(timeout)
        writer = None
        if input_text is not None:
            writer = threading.Thread(target=_feed, args=(raw, input_text.encode()), daemon=True)
            writer.start()
        buf = bytearray()
        timed_out = False
        deadline = time.monotonic() + timeout
        try:
            while True:
                raw.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = raw.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except TimeoutError:
            timed_out = True
        finally:
            with contextlib.suppress(OSError):
                hijacked.close()
            with contextlib.suppress(OSError):
                raw.close()
        if writer is not None:
            writer.join(timeout=1)
        stdout, stderr = (s.decode(errors="replace") for s in _demux(bytes(buf)))
        if timed_out:
            _kill(api, exec_id)
            return ExecResult(
                tuple(argv), 124, stdout, stderr + f"timed out after {timeout:g} s in {container}"
            )
        return ExecResult(tuple(argv), _exit_code(api, exec_id), stdout, stderr)


def _feed(raw: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the command may exit without reading it all
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)


def _exit_code(api: Any, exec_id: str) -> int:
    """The stream ends when the command does; the engine records the code a moment later."""
    deadline = time.monotonic() + 5
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() > deadline:
            return 125
        time.sleep(0.01)


def _kill(api: Any, exec_id: str) -> None:
    """Stop a timed-out command, as subprocess.run(timeout=) does.

    The engine reports the command's pid on its own host: kill it only if that pid is, here,
    a process of the container (its cgroup names the container), never some other process
    that happens to have the same number (a remote engine, Docker Desktop's VM)."""
    with contextlib.suppress(Exception):
        info = api.exec_inspect(exec_id)
        pid = int(info.get("Pid") or 0)
        container_id = str(info.get("ContainerID") or "")
        if pid > 0 and len(container_id) == 64:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
            if container_id in cgroup:
                os.kill(pid, signal.SIGKILL)
