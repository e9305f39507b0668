"""The same lab through the containerlab runtime (Docker containers of the docker/ images).

Uses a real `containerlab` where one is installed; otherwise the stand-in the container tests
use (tests/containers/fake_containerlab.py: the same `docker run` per node and veth wiring that
containerlab does for kind linux nodes), and says so in the figures.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from manrs_lab import operations
from manrs_lab.progress import SilentProgress

REPO = Path(__file__).resolve().parents[1]
NODE_IMAGES = ("frr", "bird", "rtr", "host")


def _why_not() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    if info.returncode != 0:
        return "the Docker engine is not running (docker/start-dockerd.sh)"
    for name in NODE_IMAGES:
        probe = ["docker", "image", "inspect", f"manrs-lab/{name}:latest"]
        if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            return f"image manrs-lab/{name} is missing (docker/build-images.sh)"
    return None


def compare(lab_id: str, netns_up_s: float, repeat: int = 3) -> dict[str, float | str]:
    reason = _why_not()
    if reason:
        return {"skipped": reason}
    which = "containerlab"
    with tempfile.TemporaryDirectory() as tmp:
        if shutil.which("containerlab") is None:
            sys.path.insert(0, str(REPO / "tests" / "containers"))
            from clab_support import install_fake_containerlab  # noqa: PLC0415

            install_fake_containerlab(Path(tmp))
            os.environ["PATH"] = f"{tmp}:{os.environ['PATH']}"
            which = "stand-in (tests/containers/fake_containerlab.py)"
        times = []
        for i in range(repeat):
            name = f"bench-docker-{i}"
            start = time.monotonic()
            operations.up(lab_id, SilentProgress(), instance=name, runtime="containerlab")
            times.append(time.monotonic() - start)
            operations.down(name, SilentProgress())
    docker_up = round(statistics.median(times), 3)
    return {
        "lab": lab_id,
        "containerlab": which,
        "docker_up_s": docker_up,
        "netns_up_s": netns_up_s,
        "ratio": round(docker_up / netns_up_s, 2),
    }
