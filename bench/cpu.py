"""What a classroom costs: CPU seconds per operation, and a whole class pressing Check at once.

    sudo .venv/bin/python bench/cpu.py                 # every figure (minutes; a quiet machine)
    sudo .venv/bin/python bench/cpu.py --quick         # one lab, N=2: the CI smoke
    sudo .venv/bin/python bench/cpu.py --write-docs    # also docs/benchmarks.md

- CPU per `up`, `solve` and `check` of every lab: user + system of the operation's own
  process, of the processes it waits for (nft, ip, ping...), and of the lab's daemons
  (zebra, bgpd, BIRD, stayrtr: /proc/PID/stat before and after), each a CLI process as a
  learner's terminal or notebook kernel would run it.
- CPU per `check` in a resident process, as the notebook's Check button runs it (the kernel
  has imported the package and checked once before): no Python start-up, no imports; with
  the processes it waits for, the median of KERNEL_REPEAT checks.
- N learners pressing Check at the same moment (N = 1, 10, 30, 50 solved capstone instances),
  from their notebooks (a resident process each) and from the CLI: median and p95 of the time
  to verdict; every verdict must be full marks (a wrong verdict under load is a failure, not a
  data point).
- N `up`s started at the same moment, from the CLI and from notebooks (a resident process
  each, the package imported and the lab shown, as the panel has before Start is pressed):
  time until the last one converged.
- Many instances idle side by side: memory (PSS) and idle CPU.
Uses its own state root; learners' labs are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("MANRS_LAB_STATE_DIR", "/run/manrs-lab-cpu")

from docs_page import replace_section

from manrs_lab import operations
from manrs_lab.progress import SilentProgress
from manrs_lab.runtime.netns import namespace_pids
from manrs_lab.spec.loader import lab_ids

REPO = Path(__file__).resolve().parents[1]
CLI = [str(Path(sys.executable).parent / "manrs-lab")]
CLK_TCK = os.sysconf("SC_CLK_TCK")
CAPSTONE = "manrs-capstone"
SECTION = "## CPU per operation and a class at once"
KERNEL_REPEAT = 5  # checks in the kernel per lab: the median (a shared machine is noisy)


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def lab_pids(name: str) -> list[int]:
    running = operations.attach(name)
    return [
        p
        for node in running.lab.topology.nodes
        for p in namespace_pids(running.instance.netns(node))
    ]


def run_cli(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall s, CPU s of the process and everything it waited for, result). Output goes to
    files: wait4 (for the child's rusage) must not wait on a full pipe."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen([*CLI, *args], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    # wait4's rusage covers the child and the children it waited for (nft, ping, ...)
    return wall, usage.ru_utime + usage.ru_stime, result


@dataclass
class OpCpu:
    lab: str
    up_cli_s: float
    up_daemons_s: float
    solve_cli_s: float
    solve_daemons_s: float
    check_cli_s: float
    check_daemons_s: float
    check_wall_s: float
    check_points: str
    kernel_check_s: float = 0.0
    kernel_check_daemons_s: float = 0.0

    @property
    def check_total_s(self) -> float:
        return round(self.check_cli_s + self.check_daemons_s, 3)


def measure_ops(lab_id: str, kernel_repeat: int = KERNEL_REPEAT) -> OpCpu:
    name = f"cpu-{lab_id}"[:40]
    _, up_cli, res = run_cli(["up", lab_id, "--instance", name])
    if res.returncode != 0:
        raise SystemExit(f"up {lab_id} failed: {res.stderr[-400:]}")
    try:
        pids = lab_pids(name)
        up_daemons = sum(cpu_s(p) for p in pids)
        time.sleep(1.0)  # idle a moment: what follows is the operation's, not start-up's
        before = sum(cpu_s(p) for p in pids)
        _, solve_cli, res = run_cli(["solve", name])
        if res.returncode != 0:
            raise SystemExit(f"solve {lab_id} failed: {res.stderr[-400:]}")
        solve_daemons = sum(cpu_s(p) for p in lab_pids(name)) - before
        time.sleep(1.0)
        pids = lab_pids(name)
        before = sum(cpu_s(p) for p in pids)
        wall, check_cli, res = run_cli(["check", name, "--json"])
        check_daemons = sum(cpu_s(p) for p in pids) - before
        report = json.loads(res.stdout)
        points = f"{report['points']}/{report['max_points']}"
        kernel = KernelCheck(name)
        kernel_cpu, kernel_daemon_cpu = [], []
        try:
            kernel.ready()
            for _ in range(kernel_repeat):
                time.sleep(1.0)
                before = sum(cpu_s(p) for p in pids)
                kernel_result = kernel.go()
                kernel_daemon_cpu.append(sum(cpu_s(p) for p in pids) - before)
                kernel_cpu.append(kernel_result["cpu_s"])
                if kernel_result["points"] != kernel_result["max_points"]:
                    raise SystemExit(f"kernel check of {lab_id}: {kernel_result}")
        finally:
            kernel.close()
    finally:
        run_cli(["down", name])
    return OpCpu(
        lab_id,
        round(up_cli, 3),
        round(up_daemons, 3),
        round(solve_cli, 3),
        round(solve_daemons, 3),
        round(check_cli, 3),
        round(check_daemons, 3),
        round(wall, 3),
        points,
        round(statistics.median(kernel_cpu), 3),
        round(statistics.median(kernel_daemon_cpu), 3),
    )


KERNEL_WORKER = """
import json, resource, sys, time
from manrs_lab import operations
from manrs_lab.progress import SilentProgress
name = sys.argv[1]
operations.check(name, SilentProgress())  # the kernel has checked before
print("ready", flush=True)
def children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
while sys.stdin.readline():
    cpu, kids, start = time.process_time(), children(), time.monotonic()
    report = operations.check(name, SilentProgress())
    print(json.dumps({"cpu_s": time.process_time() - cpu + children() - kids,
                      "wall_s": time.monotonic() - start,
                      "points": report.points, "max_points": report.max_points,
                      "failed": [f"{c.id}: {c.message[:300]}" for c in report.checks
                                 if not c.passed]}), flush=True)
"""


class KernelCheck:
    """A resident process that has imported the package and checked `name` once, as a
    notebook kernel has: `go()` runs the next check and returns what it measured."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-c", KERNEL_WORKER, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"kernel of {self.name} did not start: {line!r}")

    def send(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        try:
            return dict(json.loads(line))
        except json.JSONDecodeError:
            return {"points": 0, "max_points": 1, "failed": [f"no report: {line!r}"], "cpu_s": 0}

    def go(self) -> dict:
        self.send()
        return self.result()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@dataclass
class ClassCheck:
    learners: int
    median_s: float
    p95_s: float
    max_s: float
    correct: int
    wrong: list[str] = field(default_factory=list)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def boot_many(lab_id: str, names: list[str], solve: bool, workers: int = 4) -> None:
    def boot(name: str) -> None:
        operations.up(lab_id, SilentProgress(), instance=name)
        if solve:
            operations.solve(name, SilentProgress())

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(boot, n) for n in names]:
            future.result()


def summarised(results: list[tuple[float, str | None]]) -> ClassCheck:
    """(time to verdict, what was wrong or None) per learner -> the class's figures."""
    times = [t for t, _ in results]
    wrong = [w for _, w in results if w]
    return ClassCheck(
        len(results),
        round(statistics.median(times), 2),
        round(p95(times), 2),
        round(max(times), 2),
        len(results) - len(wrong),
        wrong,
    )


def class_checks(names: list[str]) -> ClassCheck:
    """Every learner's `manrs-lab check` started at the same moment."""
    start = time.monotonic()
    procs = {
        n: subprocess.Popen(
            [*CLI, "check", n, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for n in names
    }

    def verdict(item: tuple[str, subprocess.Popen[str]]) -> tuple[float, str | None]:
        n, proc = item
        out, err = proc.communicate()
        took = time.monotonic() - start
        try:
            report = json.loads(out)
        except json.JSONDecodeError:
            return took, f"{n}: no report ({err.strip()[-200:]})"
        if report["points"] != report["max_points"]:
            failed = [
                f"{c['id']}: {c['message'][:300]}" for c in report["checks"] if not c["passed"]
            ]
            return took, f"{n}: {report['points']}/{report['max_points']} ({', '.join(failed)})"
        return took, None

    with ThreadPoolExecutor(max_workers=len(procs)) as pool:
        results = list(pool.map(verdict, procs.items()))
    return summarised(results)


def class_kernel_checks(names: list[str]) -> ClassCheck:
    """Every learner's notebook (a resident process that has checked once) presses Check at
    the same moment."""
    kernels = [KernelCheck(n) for n in names]
    try:
        for k in kernels:
            k.ready()
        time.sleep(3)
        start = time.monotonic()
        for k in kernels:
            k.send()

        def verdict(k: KernelCheck) -> tuple[float, str | None]:
            result = k.result()
            took = time.monotonic() - start
            if result["points"] != result["max_points"]:
                return took, f"{k.name}: {result['points']}/{result['max_points']} " + (
                    f"({', '.join(result['failed'])})"
                )
            return took, None

        with ThreadPoolExecutor(max_workers=len(kernels)) as pool:
            results = list(pool.map(verdict, kernels))
    finally:
        for k in kernels:
            k.close()
    return summarised(results)


@dataclass
class ClassUp:
    learners: int
    all_converged_s: float
    failed: list[str] = field(default_factory=list)


def class_ups(lab_id: str, count: int) -> ClassUp:
    names = [f"cpu-u{i}" for i in range(count)]
    start = time.monotonic()
    procs = {
        n: subprocess.Popen(
            [*CLI, "up", lab_id, "--instance", n],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in names
    }
    failed = []
    for n, proc in procs.items():
        _, err = proc.communicate()
        if proc.returncode != 0:
            failed.append(f"{n}: {err.strip()[-200:]}")
    elapsed = time.monotonic() - start
    operations.down_all(SilentProgress())
    return ClassUp(count, round(elapsed, 2), failed)


UP_WORKER = """
import sys
from manrs_lab import operations
from manrs_lab.progress import SilentProgress
from manrs_lab.spec.loader import load_lab
lab_id, name = sys.argv[1], sys.argv[2]
load_lab(lab_id)  # the notebook's panel shows the lab before Start is pressed
print("ready", flush=True)
sys.stdin.readline()
try:
    operations.up(lab_id, SilentProgress(), instance=name)
    print("up", flush=True)
except Exception as exc:
    print(f"failed: {exc}", flush=True)
"""


def class_kernel_ups(lab_id: str, count: int) -> ClassUp:
    """Every learner's notebook (the package imported, the lab shown) presses Start at the
    same moment: until the last lab converged."""
    names = [f"cpu-k{i}" for i in range(count)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UP_WORKER, lab_id, n],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n in names
    ]
    failed = []
    try:
        for n, proc in zip(names, procs, strict=True):
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                failed.append(f"{n}: the kernel did not start")
        time.sleep(3)
        start = time.monotonic()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for n, proc in zip(names, procs, strict=True):
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "up":
                failed.append(f"{n}: {line[-200:]}")
        elapsed = time.monotonic() - start
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        operations.down_all(SilentProgress())
    return ClassUp(count, round(elapsed, 2), failed)


@dataclass
class ManyIdle:
    instances: int
    converged: int
    boot_s: float
    pss_gib: float
    pss_per_instance_mib: float
    idle_cpu_percent_of_one_core: float


def many_idle(lab_id: str, count: int) -> ManyIdle:
    names = [f"cpu-m{i}" for i in range(count)]
    start = time.monotonic()
    converged = 0
    try:

        def boot(name: str) -> bool:
            try:
                operations.up(lab_id, SilentProgress(), instance=name)
                return True
            except Exception as exc:  # counted, and the first few reported
                print(f"  {name}: {exc}", file=sys.stderr)
                return False

        with ThreadPoolExecutor(max_workers=4) as pool:
            converged = sum(pool.map(boot, names))
        boot_s = time.monotonic() - start
        time.sleep(5)
        pids = [
            p
            for n in names
            if (Path(os.environ["MANRS_LAB_STATE_DIR"]) / n).exists()
            for p in lab_pids(n)
        ]
        pss = sum(pss_mib(p) for p in pids)
        before = sum(cpu_s(p) for p in pids)
        window = 10.0
        time.sleep(window)
        idle = 100.0 * (sum(cpu_s(p) for p in pids) - before) / window
    finally:
        operations.down_all(SilentProgress())
    return ManyIdle(
        count,
        converged,
        round(boot_s, 1),
        round(pss / 1024, 2),
        round(pss / max(converged, 1), 1),
        round(idle, 1),
    )


@dataclass
class Report:
    class_lab: str = CAPSTONE
    ops: list[OpCpu] = field(default_factory=list)
    class_checks: list[ClassCheck] = field(default_factory=list)
    class_kernel_checks: list[ClassCheck] = field(default_factory=list)
    class_ups: list[ClassUp] = field(default_factory=list)
    class_kernel_ups: list[ClassUp] = field(default_factory=list)
    many_idle: list[ManyIdle] = field(default_factory=list)


def table(report: Report) -> str:
    out = [
        "CPU seconds (user + system) per operation, each a `manrs-lab` CLI process: the process "
        "with what it waited for (nft, ip, ping), and the lab's daemons during it.",
        "",
        "The notebook's Check runs in the kernel, which has imported the package and checked "
        "before: `check in a kernel` is that process's CPU with the processes it waited for "
        f"(ip, ping, ss), and the daemons'; the median of {KERNEL_REPEAT} checks.",
        "",
        "| lab | up: CLI / daemons | solve: CLI / daemons | check: CLI / daemons (total) | "
        "check wall s | check in a kernel / daemons | score |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in report.ops:
        out.append(
            f"| {o.lab} | {o.up_cli_s} / {o.up_daemons_s} | {o.solve_cli_s} / {o.solve_daemons_s}"
            f" | {o.check_cli_s} / {o.check_daemons_s} ({o.check_total_s}) | {o.check_wall_s} "
            f"| {o.kernel_check_s} / {o.kernel_check_daemons_s} | {o.check_points} |"
        )
    for where, checks in (
        ("from their notebooks", report.class_kernel_checks),
        ("with `manrs-lab check`", report.class_checks),
    ):
        if not checks:
            continue
        out += [
            "",
            f"| learners pressing Check at once {where} ({report.class_lab}, solved) | "
            "median s | p95 s | max s | verdicts correct |",
            "|---|---|---|---|---|",
        ]
        for c in checks:
            out.append(
                f"| {c.learners} | {c.median_s} | {c.p95_s} | {c.max_s} | "
                f"{c.correct}/{c.learners} |"
            )
        out += [f"- wrong verdict: {w}" for c in checks for w in c.wrong]
    for where, ups in (
        ("with `manrs-lab up`", report.class_ups),
        ("from their notebooks", report.class_kernel_ups),
    ):
        if not ups:
            continue
        out += [
            "",
            f"| `up`s at once {where} ({report.class_lab}) | all converged s | failed |",
            "|---|---|---|",
        ]
        out += [f"| {u.learners} | {u.all_converged_s} | {len(u.failed)} |" for u in ups]
    if report.many_idle:
        out += [
            "",
            f"| instances of {report.class_lab} side by side | converged | boot s (4 at a time) | "
            "PSS GiB | PSS per instance MiB | idle CPU % of one core |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {m.instances} | {m.converged} | {m.boot_s} | {m.pss_gib} | "
            f"{m.pss_per_instance_mib} | {m.idle_cpu_percent_of_one_core} |"
            for m in report.many_idle
        ]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one lab, N=2 (CI smoke)")
    parser.add_argument("--labs", nargs="*", help="labs for the per-operation table")
    parser.add_argument("--checks", type=int, nargs="*", default=[1, 10, 30, 50])
    parser.add_argument("--ups", type=int, nargs="*", default=[30])
    parser.add_argument("--idle", type=int, nargs="*", default=[200])
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "cpu.json")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.labs, args.checks, args.ups, args.idle = ["customer-filtering"], [2], [2], []
    lab_for_class = "customer-filtering" if args.quick else CAPSTONE
    report = Report(class_lab=lab_for_class)
    for lab_id in args.labs if args.labs is not None else lab_ids():
        print(f"cpu per operation: {lab_id}", file=sys.stderr)
        report.ops.append(measure_ops(lab_id, 1 if args.quick else KERNEL_REPEAT))
    if args.checks:
        names = [f"cpu-c{i}" for i in range(max(args.checks))]
        print(f"booting {len(names)} solved {lab_for_class}", file=sys.stderr)
        try:
            boot_many(lab_for_class, names, solve=True)
            for n in args.checks:
                time.sleep(3)
                print(f"{n} checks at once from notebooks", file=sys.stderr)
                report.class_kernel_checks.append(class_kernel_checks(names[:n]))
                time.sleep(3)
                print(f"{n} checks at once from the CLI", file=sys.stderr)
                report.class_checks.append(class_checks(names[:n]))
        finally:
            operations.down_all(SilentProgress())
    for n in args.ups:
        time.sleep(3)
        print(f"{n} ups at once", file=sys.stderr)
        report.class_ups.append(class_ups(lab_for_class, n))
        time.sleep(3)
        print(f"{n} ups at once from notebooks", file=sys.stderr)
        report.class_kernel_ups.append(class_kernel_ups(lab_for_class, n))
    for n in args.idle:
        time.sleep(3)
        print(f"{n} instances side by side", file=sys.stderr)
        report.many_idle.append(many_idle(lab_for_class, n))
    text = table(report)
    print(text)
    args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    if args.write_docs:
        replace_section(SECTION, text)
    wrong = [w for c in report.class_checks + report.class_kernel_checks for w in c.wrong] + [
        f for u in report.class_ups + report.class_kernel_ups for f in u.failed
    ]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
