"""A workshop on one server: N learners on the real hub (JupyterHub + DockerSpawner + one lab
container each), as deploy/jupyterhub/start.sh runs it.

    sudo .venv/bin/python bench/class_capacity.py                   # N = 1, 10, 20, capstone
    sudo .venv/bin/python bench/class_capacity.py --learners 1,10 --write-docs
    sudo .venv/bin/python bench/class_capacity.py --quick           # N = 2, customer-filtering

For each N, a fresh hub (its own ports, network, containers and volumes, all removed after):
N learners sign up, an instructor approves them, then at the same moment they all log in and
start their servers and, as soon as their own server is up, start the lab in a terminal
(`manrs-lab up`): the time from login to a server, and to a converged lab, per learner. Memory
per learner container (`docker stats`: idle server, then with the lab up). Then the whole class
presses Check at the same moment: median and p95 of the time to verdict, and every verdict must
be the right one (a wrong verdict under load is a failure, not a data point): full marks after
`manrs-lab solve` with --solve (the default for --quick), 0 points on the untouched lab without.
The capstone labs' reference solutions (a script that finds FRR's/BIRD's sockets through
/proc/PID/ns/net) cannot run inside the lab container, which lacks CAP_SYS_PTRACE, so the
capstone is measured unsolved. Last, how long the instructor's class view takes to show the
whole class's checks. Needs root, Docker and the lab image (LAB_IMAGE_TAG as for
build-images.sh). Stop it with Ctrl-C or SIGTERM: the hubs it started are cleaned up.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hub"))
from docs_page import replace_section  # noqa: E402
from hub_support import Hub, Person, Terminal  # noqa: E402

SCORE_RE = re.compile(r"score (\d+)/(\d+)")
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "kB": 1000, "MB": 1e6, "GB": 1e9}


@dataclass
class Run:
    learners: int
    lab: str
    solved: bool = False
    login_to_server_s: list[float] = field(default_factory=list)
    login_to_lab_s: list[float] = field(default_factory=list)
    mem_idle_mib: list[float] = field(default_factory=list)
    mem_lab_mib: list[float] = field(default_factory=list)
    check_s: list[float] = field(default_factory=list)
    correct: int = 0
    wrong: list[str] = field(default_factory=list)
    class_view_s: float = 0.0
    host_mem_used_gib: float = 0.0
    prefix: str = ""  # the hub's containers, volumes and network: <prefix>-...


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))] if s else 0.0


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def container_memory(prefix: str) -> dict[str, float]:
    """MiB per container named <prefix>-*, as `docker stats` counts it (cache left out)."""
    out = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, _, usage = line.partition(" ")
        if not name.startswith(f"{prefix}-"):
            continue
        m = re.match(r"([\d.]+)\s*([A-Za-z]+)", usage.split("/")[0].strip())
        if m:
            found[name] = float(m.group(1)) * UNITS.get(m.group(2), 1) / 1024**2
    return found


def host_mem_used_gib() -> float:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024**2  # kB -> GiB


def enrol(hub: Hub, n: int) -> tuple[Person, list[Person]]:
    """An instructor and n learners signed up, approved by the instructor."""
    teacher = Person(hub, hub.instructor)
    teacher.signup()
    teacher.login()
    people = [Person(hub, f"learner{i:02d}") for i in range(n)]
    for p in people:
        p.signup()
    for p in people:
        teacher.s.get(f"{hub.url}/hub/authorize/{p.name}", timeout=30).raise_for_status()
    return teacher, people


def in_parallel(people: list[Person], work: Any) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        return list(pool.map(work, people))


def arrive(p: Person, lab: str) -> tuple[float, float, Terminal]:
    """Log in, start the server, start the lab in a terminal: (to server, to lab, terminal)."""
    t0 = time.monotonic()
    assert p.login().status_code == 302, f"{p.name} cannot log in"
    p.start_server(timeout=900)
    t_server = time.monotonic() - t0
    term = p.terminal()
    code, out = term.run(f"manrs-lab up {lab} --instance {p.name}", timeout=900)
    assert code == 0, f"{p.name}: up failed:\n{out}"
    return t_server, time.monotonic() - t0, term


def class_view_catches_up(teacher: Person, hub: Hub, n: int, solve: bool) -> float:
    """Seconds until the class view shows every learner's check (read through the hub)."""
    teacher.s.get(f"{hub.url}/services/class-view/", timeout=60)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        snap = teacher.s.get(f"{hub.url}/services/class-view/api/class", timeout=60).json()
        full = sum(
            1
            for row in snap["learners"]
            for lab_row in row["labs"]
            if lab_row["checks"] and lab_row["points"] == (lab_row["max_points"] if solve else 0)
        )
        if full == n:
            return time.monotonic() - t0
        time.sleep(0.2)
    raise AssertionError("the class view did not show the class's checks in 300 s")


def one_class(n: int, lab: str, workdir: Path, solve: bool) -> Run:
    hub = Hub(prefix=f"mlbench{secrets.token_hex(3)}", state=workdir / f"hub-{n}")
    run = Run(n, lab, solved=solve, prefix=hub.prefix)
    try:
        say(f"N={n}: starting the hub")
        hub.start()
        teacher, people = enrol(hub, n)
        say(f"N={n}: {n} learners approved; all log in and start a lab at once")
        arrivals = in_parallel(people, lambda p: arrive(p, lab))
        run.login_to_server_s = [a[0] for a in arrivals]
        run.login_to_lab_s = [a[1] for a in arrivals]
        terms = {p.name: a[2] for p, a in zip(people, arrivals, strict=True)}
        run.mem_lab_mib = list(container_memory(hub.prefix).values())
        run.host_mem_used_gib = host_mem_used_gib()
        say(
            f"N={n}: servers median {med(run.login_to_server_s):.1f}s, labs up median "
            f"{med(run.login_to_lab_s):.1f}s (p95 {p95(run.login_to_lab_s):.1f}s); "
            f"{med(run.mem_lab_mib):.0f} MiB per learner with the lab up"
        )
        if solve:
            in_parallel(people, lambda p: terms[p.name].run(f"manrs-lab solve {p.name}", 900))
        say(f"N={n}: {'solved' if solve else 'untouched labs'}; the whole class presses Check")

        def check(p: Person) -> tuple[str, float, str]:
            t0 = time.monotonic()
            _, out = terms[p.name].run(f"manrs-lab check {p.name}", timeout=900)
            return p.name, time.monotonic() - t0, out

        for name, seconds, out in in_parallel(people, check):
            run.check_s.append(seconds)
            m = SCORE_RE.search(out)
            right = (
                m and int(m.group(2)) > 0 and int(m.group(1)) == (int(m.group(2)) if solve else 0)
            )
            if right:
                run.correct += 1
            else:
                run.wrong.append(f"{name}: {out[-300:]}")
        say(
            f"N={n}: checks median {med(run.check_s):.1f}s, p95 {p95(run.check_s):.1f}s, "
            f"{run.correct}/{n} right verdicts"
        )
        run.class_view_s = class_view_catches_up(teacher, hub, n, solve)
        # idle: the labs stopped, the servers (JupyterLab, no kernel) still up
        in_parallel(people, lambda p: terms[p.name].run(f"manrs-lab down {p.name}", 600))
        time.sleep(5)
        run.mem_idle_mib = list(container_memory(hub.prefix).values())
        for t in terms.values():
            t.close()
    finally:
        say(f"N={n}: stopping the hub")
        problems = hub.stop()
        if problems:
            print(f"cleanup: {problems}", file=sys.stderr)
    return run


def table(runs: list[Run]) -> str:
    lines = [
        "| learners | login → server (median / p95) | login → lab converged (median / p95) "
        "| memory per learner: idle / lab up | Check at once (median / p95) | right verdicts "
        "| class view shows the checks | host memory in use |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.learners} | {med(r.login_to_server_s):.1f} / {p95(r.login_to_server_s):.1f} s "
            f"| {med(r.login_to_lab_s):.1f} / {p95(r.login_to_lab_s):.1f} s "
            f"| {med(r.mem_idle_mib):.0f} / {med(r.mem_lab_mib):.0f} MiB "
            f"| {med(r.check_s):.1f} / {p95(r.check_s):.1f} s | {r.correct}/{r.learners} "
            f"| {r.class_view_s:.1f} s | {r.host_mem_used_gib:.1f} GiB |"
        )
    return "\n".join(lines)


def docs_body(runs: list[Run], lab: str, solve: bool, day: str) -> str:
    text = (
        f"\n`bench/class_capacity.py` ({day}; lab `{lab}`; 2 cores, 24 GiB, shared with other "
        "jobs while measured): real JupyterHub, configurable-http-proxy and DockerSpawner, one "
        "container of the lab image per learner (1 GiB, 1 CPU limits); everyone logs in and "
        "starts the lab at the same moment, then everyone presses Check at the same moment "
        + (
            "after applying the reference solution (right verdict: full marks)"
            if solve
            else "on the untouched lab (right verdict: 0 points; the capstone's reference "
            "solution cannot run inside the lab container, see the script's docstring)"
        )
        + ". Memory per learner is `docker stats` of the learner's container (page cache "
        "left out); host memory in use is the whole machine's (MemTotal - MemAvailable) with "
        "every lab up.\n\n" + table(runs) + "\n"
    )
    if len(runs) > 1:
        a, b = runs[0], runs[-1]
        per_learner = (b.host_mem_used_gib - a.host_mem_used_gib) / (b.learners - a.learners)
        spawn = (med(b.login_to_server_s) - med(a.login_to_server_s)) / (b.learners - a.learners)
        check = (med(b.check_s) - med(a.check_s)) / (b.learners - a.learners)
        text += (
            f"\nFrom {a.learners} to {b.learners} learners: each one more costs about "
            f"{per_learner:.2f} GiB of host memory with the lab up, {spawn:.1f} s more for "
            f"everyone's server to start when all log in at once (JupyterLab's start-up is the "
            f"CPU cost; the lab itself converges in seconds once the server is up) and "
            f"{check:.1f} s more on everyone's check when all press Check at once. Memory is not "
            "the limit on this machine, the two cores are.\n"
        )
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--learners", default="1,10,20", help="class sizes (default 1,10,20)")
    ap.add_argument("--lab", default="manrs-capstone")
    ap.add_argument("--quick", action="store_true", help="N=2, customer-filtering (CI smoke)")
    ap.add_argument(
        "--solve",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply the reference solution before the class checks "
        "(default: only with --quick; see above for the capstone)",
    )
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--docs-from", type=Path, help="rewrite the docs section from a --json file")
    args = ap.parse_args()
    if args.docs_from:
        doc = json.loads(args.docs_from.read_text())
        runs = [Run(**r) for r in doc["runs"]]
        day = time.strftime("%Y-%m-%d", time.gmtime(args.docs_from.stat().st_mtime))
        body = docs_body(runs, doc["lab"], runs[0].solved, day)
        replace_section("## A workshop on one server (issue 15)", body)
        print(table(runs))
        return 0
    sizes = [2] if args.quick else [int(x) for x in args.learners.split(",") if x.strip()]
    lab = "customer-filtering" if args.quick else args.lab
    solve = args.quick if args.solve is None else args.solve
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="manrs-class-bench-") as tmp:
        for n in sizes:
            runs.append(one_class(n, lab, Path(tmp), solve))
    print(table(runs))
    doc: dict[str, Any] = {"lab": lab, "runs": [asdict(r) for r in runs]}
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    if args.write_docs:
        body = docs_body(runs, lab, solve, time.strftime("%Y-%m-%d"))
        replace_section("## A workshop on one server (issue 15)", body)
    wrong = [w for r in runs for w in r.wrong]
    if wrong:
        print("WRONG VERDICTS:\n" + "\n".join(wrong), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
