"""Chaos: N cycles of up / (solve) / check / down, each killed with SIGKILL at random points.

Every cycle runs the CLI as separate processes (as a learner's shell or notebook would), kills
one of its steps (`up`, `solve`, `check` or `down`, or none) at a random moment, recovers the way
a user would (`down`, or `doctor`, or simply the next command), and then counts:
- leftovers: namespaces, state folder, lock file or daemons of the cycle's instance still there
  after its `down` (or `doctor`);
- wrong verdicts: a check after the kill whose failed checks differ from the same lab's, graded
  cleanly at the start (unsolved: the known failures; solved: none), or that left a probe
  prefix originated on a router, or a probe journal behind.

    python bench/chaos.py --cycles 50 [--lab customer-filtering] [--seed 1] [--json out.json]

Uses its own state root (default /run/manrs-lab-chaos) and instance names `chaos-<n>`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "manrs_lab.cli"]
# Seconds after its start a step is killed, at most (at least START: the CLI's own start-up).
KILL_WINDOWS = {"up": 1.6, "solve": 2.2, "check": 3.2, "down": 1.0}
START = 0.3


ENV: dict[str, str] = {}  # MANRS_LAB_HOME: a snapshot of the content, taken at the start


def cli(
    root: Path, *args: str, timeout: float = 180.0, check: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "MANRS_LAB_STATE_DIR": str(root)}
    proc = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"manrs-lab {' '.join(args)} failed: {proc.stderr.strip()[-600:]}")
    return proc


def killed(root: Path, delay: float, *args: str) -> bool:
    """Start `manrs-lab ARGS`, SIGKILL it after `delay` s; True if it was still running."""
    env = {**os.environ, **ENV, "MANRS_LAB_STATE_DIR": str(root)}
    proc = subprocess.Popen(
        [*CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def failed_checks(root: Path, name: str) -> tuple[set[str], str]:
    proc = cli(root, "check", name, "--json", "--seed", str(random.randrange(2**31)))
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"<no report>"}, proc.stderr.strip()[-300:]
    return {c["id"] for c in report["checks"] if not c["passed"]}, ""


def leftovers(root: Path, name: str) -> list[str]:
    found = sorted(
        ns for ns in _namespaces() if ns.startswith(f"ml-{name}--")
    )  # ml-<instance>--<node>
    folder = root / name
    if folder.exists():
        found.append(str(folder))
    if (root / f"{name}.lock").exists():
        found.append(str(root / f"{name}.lock"))
    marker = f"{folder}/".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "status").read_text()
        except OSError:
            continue
        if marker in cmdline and "\nState:\tZ" not in state:
            found.append(f"pid {proc.name}")
    return found


def _namespaces() -> set[str]:
    try:
        return {p.name for p in Path("/run/netns").iterdir()}
    except FileNotFoundError:
        return set()


def originated(root: Path, name: str) -> dict[str, set[str]]:
    """Per router, the prefixes it originates itself (its config's and any probe's)."""
    code = (
        "import json,sys\n"
        "from manrs_lab import operations\n"
        "r = operations.attach(sys.argv[1])\n"
        "print(json.dumps({n: sorted({x.prefix for x in r.router(n).routes() if x.peer is None})"
        " for n in r.router_names()}))\n"
    )
    env = {**os.environ, **ENV, "MANRS_LAB_STATE_DIR": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", code, name], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return {"<error>": {proc.stderr.strip()[-200:]}}
    return {k: set(v) for k, v in json.loads(proc.stdout).items()}


def baseline(root: Path, lab: str) -> dict[str, Any]:
    name = "chaos-base"
    cli(root, "down", name)
    cli(root, "up", lab, "--instance", name, check=True)
    try:
        plain = originated(root, name)
        unsolved, _ = failed_checks(root, name)
        cli(root, "solve", name, check=True)
        solved_orig = originated(root, name)
        solved, _ = failed_checks(root, name)
    finally:
        cli(root, "down", name)
    return {"unsolved": unsolved, "solved": solved, "orig": plain, "orig_solved": solved_orig}


def cycle(root: Path, lab: str, n: int, rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    name = f"chaos-{n}"
    step = rng.choice(["up", "solve", "check", "check", "down", "none"])
    delay = rng.uniform(START, KILL_WINDOWS.get(step, 1.0))
    solve = rng.random() < 0.5 or step == "solve"
    out: dict[str, Any] = {"cycle": n, "kill": step, "at": round(delay, 2), "solved": solve}
    wrong: list[str] = []
    if step == "up" and killed(root, delay, "up", lab, "--instance", name):
        out["killed"] = True
        # The learner tries again: `down` of what is left (or doctor), then `up`.
        if cli(root, "down", name).returncode != 0:
            cli(root, "doctor")
        left = leftovers(root, name)
        if left:
            wrong.append(f"after a killed up and down: {left}")
    if not (root / name).exists():
        cli(root, "up", lab, "--instance", name, check=True)
    if step == "solve":
        out["killed"] = killed(root, delay, "solve", name)
    if solve:
        cli(root, "solve", name, check=True)
    if step == "check":
        out["killed"] = killed(root, delay, "check", name, "--json")
    failed, error = failed_checks(root, name)
    expected = base["solved"] if solve else base["unsolved"]
    if failed != expected:
        wrong.append(f"verdict: failed {sorted(failed)}, expected {sorted(expected)} {error}")
    orig = originated(root, name)
    if orig != (base["orig_solved"] if solve else base["orig"]):
        wrong.append(f"routers originate {orig}")
    if (root / name / "probes.json").exists():
        wrong.append("a probe journal is left after a check")
    if step == "down" and killed(root, delay, "down", name):
        out["killed"] = True
        # What a user does: `down` again; `doctor` for what that cannot find any more.
        if cli(root, "down", name).returncode != 0:
            cli(root, "doctor")
    else:
        cli(root, "down", name)
    left = leftovers(root, name)
    if left:
        cli(root, "doctor")  # counted, then cleaned so the next cycle starts clean
    out["leftovers"] = left
    out["wrong"] = wrong
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--lab", default="customer-filtering")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--root", type=Path, default=Path("/run/manrs-lab-chaos"))
    ap.add_argument("--json", type=Path, help="write the per-cycle results here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    random.seed(args.seed)
    root = args.root.resolve()
    start = time.monotonic()
    # Graded against a snapshot of the labs: edits to the checkout during a long run change
    # nothing here.
    content = Path(tempfile.mkdtemp(prefix="manrs-lab-chaos-content-"))
    content.chmod(0o755)
    for part in ("labs", "topologies"):
        shutil.copytree(REPO / part, content / part)
    ENV["MANRS_LAB_HOME"] = str(content)
    try:
        return run_cycles(args, root, rng, start)
    finally:
        shutil.rmtree(content, ignore_errors=True)


def run_cycles(args: argparse.Namespace, root: Path, rng: random.Random, start: float) -> int:
    base = baseline(root, args.lab)
    results = []
    for n in range(args.cycles):
        res = cycle(root, args.lab, n, rng, base)
        results.append(res)
        mark = "ok" if not (res["leftovers"] or res["wrong"]) else "PROBLEM"
        print(
            f"cycle {n:3d}: kill {res['kill']:<5} at {res['at']:.2f}s "
            f"{'(killed)' if res.get('killed') else '(finished first)':<16} "
            f"{'solved' if res['solved'] else 'unsolved':<8} {mark} "
            f"{'; '.join(res['wrong'])} {res['leftovers'] or ''}",
            flush=True,
        )
    summary = {
        "lab": args.lab,
        "cycles": args.cycles,
        "seed": args.seed,
        "kills": sum(1 for r in results if r.get("killed")),
        "kills_by_step": {
            s: sum(1 for r in results if r.get("killed") and r["kill"] == s) for s in KILL_WINDOWS
        },
        "leftovers": sum(1 for r in results if r["leftovers"]),
        "wrong_verdicts": sum(1 for r in results if r["wrong"]),
        "seconds": round(time.monotonic() - start, 1),
        "baseline_unsolved_failures": sorted(base["unsolved"]),
    }
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "cycles": results}, indent=1))
    return 0 if not (summary["leftovers"] or summary["wrong_verdicts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
