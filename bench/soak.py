"""Soak: every lab's reference solution checked many times in a row, each with a fresh seed.

    sudo .venv/bin/python bench/soak.py                      # every lab, 20 checks each
    sudo .venv/bin/python bench/soak.py --repeat 5 LAB...    # some labs
    sudo .venv/bin/python bench/soak.py --quick              # one lab, 2 checks: the CI smoke
    sudo .venv/bin/python bench/soak.py --write-docs         # also docs/benchmarks.md

The grader draws its probes anew at every check (issue 12), so one pass proves little: the
reference solution must pass every draw. A staged lab (its tasks are successive states) is
walked task by task, each task checked `--repeat` times in its own state. Every failure is
recorded with its seed (`manrs-lab check --seed N` replays it). The unsolved lab is checked once
too: it must fail every task. Uses its own state root; learners' labs are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("MANRS_LAB_STATE_DIR", "/run/manrs-lab-soak")

from docs_page import replace_section

from manrs_lab import operations
from manrs_lab.progress import SilentProgress
from manrs_lab.spec.loader import lab_ids, load_lab

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Reference solutions under repeated checks"


@dataclass
class SoakFigures:
    lab: str
    checks: int
    passed: int
    unsolved_points: str  # the unsolved lab's score: must be 0 of the maximum
    median_check_s: float
    max_check_s: float
    failures: list[str] = field(default_factory=list)  # "seed N: check-id: message"


def soak_lab(lab_id: str, repeat: int, seed0: int) -> SoakFigures:
    lab = load_lab(lab_id)
    name = f"soak-{lab_id}"[:40]
    operations.up(lab_id, SilentProgress(), instance=name)
    times: list[float] = []
    failures: list[str] = []
    passed = 0
    try:
        unsolved = operations.check(name, SilentProgress(), seed=seed0)
        unsolved_points = f"{unsolved.points}/{unsolved.max_points}"
        # A staged lab: each task in the state its own model answer leaves.
        stages = [[t.id] for t in lab.spec.tasks] if lab.staged else [None]
        if not lab.staged:
            operations.solve(name, SilentProgress())
        seed = seed0
        for tasks in stages:
            if tasks is not None:
                operations.solve(name, SilentProgress(), task=tasks[0])
            for _ in range(repeat):
                seed += 1
                start = time.monotonic()
                report = operations.check(name, SilentProgress(), seed=seed, tasks=tasks)
                times.append(time.monotonic() - start)
                if report.passed:
                    passed += 1
                for c in report.checks:
                    if not c.passed:
                        line = f"seed {seed}: {c.id}: {c.message}"
                        failures.append(line)
                        print(f"  {lab_id} {line}", file=sys.stderr)
    finally:
        operations.down(name, SilentProgress())
    return SoakFigures(
        lab=lab_id,
        checks=len(times),
        passed=passed,
        unsolved_points=unsolved_points,
        median_check_s=round(statistics.median(times), 3),
        max_check_s=round(max(times), 3),
        failures=failures,
    )


def table(figures: list[SoakFigures], repeat: int) -> str:
    lines = [
        f"`bench/soak.py --repeat {repeat}`: the reference solution checked {repeat} times in a "
        "row per lab (staged labs: per task), fresh probe draws each time; the unsolved lab "
        "once.",
        "",
        "| lab | checks passed | unsolved score | median check s | slowest check s |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.lab} | {f.passed}/{f.checks} | {f.unsolved_points} | {f.median_check_s} | "
            f"{f.max_check_s} |"
        )
    failures = [f"- {f.lab}, {line}" for f in figures for line in f.failures]
    lines += ["", "Failed checks after `solve`:" if failures else "No check failed after `solve`."]
    lines += failures
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="lab ids (default: every lab)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1000, help="first seed")
    parser.add_argument("--quick", action="store_true", help="one lab, 2 checks (CI smoke)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "soak.json")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    labs = args.labs or (["customer-filtering"] if args.quick else lab_ids())
    repeat = 2 if args.quick else args.repeat
    figures = []
    for lab_id in labs:
        print(f"soaking {lab_id} ({repeat} checks)...", file=sys.stderr)
        figures.append(soak_lab(lab_id, repeat, args.seed))
    text = table(figures, repeat)
    print(text)
    args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    if args.write_docs:
        replace_section(SECTION, text)
    bad = [f for f in figures if f.failures or f.passed != f.checks]
    unsolved_full = [f for f in figures if f.unsolved_points.split("/")[0] != "0"]
    return 1 if bad or unsolved_full else 0


if __name__ == "__main__":
    sys.exit(main())
