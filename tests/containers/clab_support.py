"""Shared by the container tests: is Docker usable here, are the images built, what is left."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "docker" / "build-images.sh"
FAKE_CONTAINERLAB = Path(__file__).with_name("fake_containerlab.py")
NODE_IMAGES = {
    "frr": "manrs-lab/frr:latest",
    "bird": "manrs-lab/bird:latest",
    "rtr": "manrs-lab/rtr:latest",
    "host": "manrs-lab/host:latest",
}
# LAB_IMAGE_TAG (as for docker/build-images.sh): a second working tree tests its own lab image.
LAB_IMAGE = f"manrs-lab/lab:{os.environ.get('LAB_IMAGE_TAG', 'latest')}"


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def docker_unavailable() -> str | None:
    """Why the container tests cannot run here, or None."""
    if shutil.which("docker") is None:
        return "docker is not installed (docker/start-dockerd.sh installs and starts it)"
    try:
        info = run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out: is dockerd healthy? (docker/start-dockerd.sh)"
    if info.returncode != 0:
        return "the Docker engine is not running (start it with docker/start-dockerd.sh)"
    if os.geteuid() != 0:
        return "needs root: links are veth pairs made in the containers' network namespaces"
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed on the host"
    try:
        import docker  # noqa: F401, PLC0415
    except ImportError:
        return "the Docker SDK for Python is not installed (pip install docker)"
    return None


def image_exists(image: str) -> bool:
    return run(["docker", "image", "inspect", image]).returncode == 0


def context_hash(folder: Path) -> str:
    """build-images.sh's `context_hash`: sha256 over `sha256sum` lines of every file, by path."""
    lines = []
    for path in sorted(folder.rglob("*"), key=lambda p: os.fsencode(p.relative_to(folder))):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{digest}  ./{path.relative_to(folder)}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


# build-images.sh's staged context of the lab image: (folder in the context, repository paths),
# and what its tar leaves out.
LAB_CONTEXT = (
    ("package", ("pyproject.toml", "README.md", "LICENSE", "src")),
    ("", ("labs", "topologies", "notebooks", "docker/lab")),
)
LEFT_OUT = ("__pycache__", ".ipynb_checkpoints", ".manrs-lab")


def lab_context_hash() -> str:
    """context_hash of the lab image's staged context, computed from the repository: its
    committed files (`git archive HEAD`, as build-images.sh stages them), the notebooks folder
    holding only the notebooks and its README."""
    files: dict[str, bytes] = {}
    committed = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "-q", "HEAD"],
        capture_output=True,
        check=False,
    )
    for dest, sources in LAB_CONTEXT:
        present = [s for s in sources if (REPO / s).exists()]
        if committed.returncode == 0:
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD", "--", *present],
                capture_output=True,
                check=True,
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                for member in tar.getmembers():
                    handle = tar.extractfile(member) if member.isfile() else None
                    if handle is not None:
                        files[str(Path(dest) / member.name) if dest else member.name] = (
                            handle.read()
                        )
            continue
        for source in present:
            top = REPO / source
            for path in [top] if top.is_file() else top.rglob("*"):
                rel = path.relative_to(REPO)
                parts = rel.parts
                if not path.is_file() or any(
                    p in LEFT_OUT or p.endswith(".egg-info") for p in parts
                ):
                    continue
                if path.suffix == ".pyc":
                    continue
                files[str(Path(dest) / rel) if dest else str(rel)] = path.read_bytes()
    files = {
        rel: data
        for rel, data in files.items()
        if not rel.startswith("notebooks/")
        or rel.endswith(".ipynb")
        or rel == "notebooks/README.md"
    }
    lines = [
        f"{hashlib.sha256(files[rel]).hexdigest()}  ./{rel}\n"
        for rel in sorted(files, key=os.fsencode)
    ]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def image_current(name: str) -> bool:
    """The image exists and was built from what it is built from as it is now (a node image:
    its docker/<name>/ folder; the lab image: the package, labs and notebooks)."""
    image = {**NODE_IMAGES, "lab": LAB_IMAGE}[name]
    want = lab_context_hash() if name == "lab" else context_hash(REPO / "docker" / name)
    label_of = '{{index .Config.Labels "org.manrs-lab.context"}}'
    label = run(["docker", "image", "inspect", "-f", label_of, image])
    return label.returncode == 0 and label.stdout.strip() == want


def ensure_images(*names: str) -> None:
    """Build the named images (frr, bird, rtr, host, lab) that are missing or older than what
    they are built from, or all of them with MANRS_LAB_REBUILD_IMAGES=1;
    skip the test with the reason when Docker is unusable."""
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    rebuild = os.environ.get("MANRS_LAB_REBUILD_IMAGES") == "1"
    todo = [n for n in names if rebuild or not image_current(n)]
    if todo:
        proc = run(["bash", str(BUILD_SCRIPT), "--only", *todo], timeout=3600)
        assert proc.returncode == 0, (
            f"docker/build-images.sh --only {' '.join(todo)} failed:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )


def install_fake_containerlab(bin_dir: Path) -> Path:
    """A `containerlab` on PATH that runs fake_containerlab.py with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "containerlab"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_CONTAINERLAB}" "$@"\n')
    script.chmod(0o755)
    return script


def containers_named(prefix: str) -> list[str]:
    """Containers (any state) whose name starts with `prefix`."""
    out = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
    return [name for name in out if name.startswith(prefix)]


def remove_containers(prefix: str) -> list[str]:
    """Force-remove every container named `prefix*`; the problems met."""
    problems = []
    for name in containers_named(prefix):
        proc = run(["docker", "rm", "-f", "-v", name])
        if proc.returncode != 0 and "No such container" not in proc.stderr:
            problems.append(f"docker rm -f {name}: {proc.stderr.strip()}")
    return problems
