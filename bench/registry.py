"""The lab registry's costs: IRRd 4 + PostgreSQL + Redis per registry (issue 17).

    sudo .venv/bin/python bench/registry.py [--runs 3] [--quick] [--json out.json]

Measures, per run: start-up (namespace, database copied from the template, Redis, loading the
lab world's RPSL, IRRd answering whois and HTTP), memory (PSS and RSS of every process in the
registry's namespace, by program), one bgpq4 filter, one authenticated update, and stop. Also
the database template, made once per machine (in a fresh cache folder here), and two
registries at once (PSS counts pages they share once). Prints a Markdown table; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from manrs_lab import irr, irr_registry
from manrs_lab.runtime.netns import namespace_pids

ROUTE = """\
route:          198.18.3.0/24
origin:         AS64501
mnt-by:         MAINT-CUST1
source:         LABIRR
"""


def program(pid: int) -> str:
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    if comm.startswith("irrd"):
        return "irrd"
    if comm in ("python3", "python"):
        return "mail sink"
    return comm


def memory(names: list[str]) -> dict[str, float]:
    """PSS and RSS (MiB) of every process in the registries' namespaces, by program."""
    out: dict[str, float] = {}
    for name in names:
        for pid in namespace_pids(irr_registry.netns(name)):
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                prog = program(pid)
            except OSError:
                continue
            fields = {line.split()[0]: int(line.split()[1]) for line in rollup.splitlines()[1:]}
            out["pss_mib"] = out.get("pss_mib", 0) + fields["Pss:"] / 1024
            out["rss_mib"] = out.get("rss_mib", 0) + fields["Rss:"] / 1024
            key = f"pss_{prog}_mib"
            out[key] = out.get(key, 0) + fields["Pss:"] / 1024
            out["processes"] = out.get("processes", 0) + 1
    return {k: round(v, 1) for k, v in out.items()}


def one_run(tag: str) -> dict[str, float]:
    name = f"bench-{tag}"
    t0 = time.monotonic()
    irr_registry.start(name)
    figures: dict[str, float] = {"start_s": round(time.monotonic() - t0, 2)}
    try:
        time.sleep(1)  # let IRRd's workers settle before measuring memory
        figures |= memory([name])
        t0 = time.monotonic()
        irr.from_registry(name, "AS-EDGE")
        figures["bgpq4_ms"] = round((time.monotonic() - t0) * 1000, 1)
        t0 = time.monotonic()
        result = irr_registry.submit(name, ROUTE, ["cust1-lab-pw"])
        assert result.ok, result.report
        figures["submit_visible_to_bgpq4_s"] = round(time.monotonic() - t0, 2)
    finally:
        t0 = time.monotonic()
        irr_registry.stop(name)
        figures["stop_s"] = round(time.monotonic() - t0, 2)
    return figures


def template_cost() -> float:
    with tempfile.TemporaryDirectory(prefix="manrs-bench-registry-") as cache:
        Path(cache).chmod(0o755)  # the postgres user must get in
        saved = os.environ.get("MANRS_LAB_CACHE_DIR")
        os.environ["MANRS_LAB_CACHE_DIR"] = str(Path(cache) / "config-checks")
        try:
            t0 = time.monotonic()
            irr_registry._template(irr_registry.SilentProgress())
            return round(time.monotonic() - t0, 2)
        finally:
            if saved is None:
                del os.environ["MANRS_LAB_CACHE_DIR"]
            else:
                os.environ["MANRS_LAB_CACHE_DIR"] = saved


def two_at_once(tag: str) -> dict[str, float]:
    names = [f"bench-{tag}-x", f"bench-{tag}-y"]
    try:
        for name in names:
            irr_registry.start(name)
        time.sleep(1)
        return memory(names)
    finally:
        for name in names:
            irr_registry.stop(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run, no template, no pair")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    why = irr_registry.missing_programs()
    if why:
        print(f"bench/registry.py: {why}", file=sys.stderr)
        return 2
    tag = uuid.uuid4().hex[:6]
    irr_registry._template(irr_registry.SilentProgress())  # the shared one, made if missing
    report: dict[str, object] = {}
    if not args.quick:
        report["template_s"] = template_cost()
    runs = [one_run(f"{tag}{i}") for i in range(1 if args.quick else args.runs)]
    median = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
    report["registry"] = median
    if not args.quick:
        report["two_registries"] = two_at_once(tag)
    print("| lab registry (IRRd 4.5.4 + PostgreSQL + Redis) | value |")
    print("|---|---|")
    for key, value in [*median.items(), *((k, v) for k, v in report.items() if k == "template_s")]:
        print(f"| {key} | {value} |")
    for key, value in dict(report.get("two_registries", {})).items():  # type: ignore[call-overload]
        print(f"| two registries: {key} | {value} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
