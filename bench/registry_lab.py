"""`up` and `down` of a lab with a registry against the same lab without one (issue 17).

    sudo .venv/bin/python bench/registry_lab.py [--runs 5] [--quick] [--json out.json]

The lab is irr-and-roa (six nodes); "without" is a copy of it in a temporary content root with
its `registry:` line removed, so the two differ only by the registry (IRRd, PostgreSQL, Redis,
started beside the lab's network and daemons, then linked to the learner's router). Runs
alternate between the two; prints a Markdown table of medians (and min/max), seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from manrs_lab import irr_registry, operations
from manrs_lab.progress import SilentProgress

REPO = Path(__file__).resolve().parents[1]
LAB = "irr-and-roa"


def without_registry(root: Path) -> Path:
    lab = root / "labs" / LAB
    shutil.copytree(REPO / "labs" / LAB, lab)
    (root / "topologies").mkdir()
    shutil.copy(REPO / "topologies" / f"{LAB}.clab.yml", root / "topologies")
    spec = lab / "lab.yaml"
    text = spec.read_text()
    spec.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("registry:"))
    )
    return lab


def one(lab: str) -> dict[str, float]:
    name = f"b-reglab-{uuid.uuid4().hex[:6]}"
    start = time.monotonic()
    result = operations.up(lab, SilentProgress(), instance=name)
    up_s = time.monotonic() - start
    start = time.monotonic()
    operations.down(name, SilentProgress())
    return {
        "up_s": up_s,
        "deploy_s": result.deploy_seconds,
        "converge_s": result.converge_seconds,
        "down_s": time.monotonic() - start,
    }


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        out[key] = round(statistics.median(values), 3)
        out[f"{key}_min"] = round(min(values), 3)
        out[f"{key}_max"] = round(max(values), 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run of each")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    why = irr_registry.missing_programs()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    runs = 1 if args.quick else args.runs
    with_runs: list[dict[str, float]] = []
    without_runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="manrs-bench-reglab-") as tmp:
        plain = str(without_registry(Path(tmp)))
        for _ in range(runs):
            without_runs.append(one(plain))
            with_runs.append(one(LAB))
    figures = {"with_registry": summary(with_runs), "without_registry": summary(without_runs)}
    print(f"| {LAB}, {runs} run(s), seconds | with registry | without | difference |")
    print("|---|---|---|---|")
    for key in ("up_s", "deploy_s", "converge_s", "down_s"):
        a, b = figures["with_registry"][key], figures["without_registry"][key]
        print(f"| {key} (median) | {a:.2f} | {b:.2f} | {a - b:+.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"registry_lab": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
