"""`manrs-lab`: the command line. Thin: every command is a call into `operations`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from manrs_lab import __version__, doctor, operations, readiness, tutor
from manrs_lab.errors import LabError, SpecError
from manrs_lab.grader.report import GradeReport
from manrs_lab.runtime.netns import node_argv
from manrs_lab.runtime.registry import DEFAULT_RUNTIME, runtime_names
from manrs_lab.spec.lab import LabSpecFile
from manrs_lab.spec.loader import lab_ids, load_lab

out = Console()
err = Console(stderr=True)


class ConsoleProgress:
    """One line per phase and per node, with the time since the command started."""

    def __init__(self, quiet: bool = False) -> None:
        self.start = time.monotonic()
        self.quiet = quiet

    def _stamp(self) -> str:
        return f"[dim]{time.monotonic() - self.start:6.2f}s[/dim]"

    def step(self, message: str) -> None:
        if not self.quiet:
            err.print(f"{self._stamp()} {message}")

    def waiting(self, message: str) -> None:
        """Waiting for another process's check, solve, ...: said even with --json (stderr)."""
        err.print(f"{self._stamp()} [yellow]{message}[/yellow]", highlight=False)

    def node(self, node: str, state: str) -> None:
        if not self.quiet:
            colour = {"pass": "green", "fail": "red"}.get(state, "cyan")
            err.print(f"{self._stamp()}   [{colour}]{node}[/{colour}]: {state}")


def cmd_list(_: argparse.Namespace) -> int:
    table = Table("lab", "MANRS actions", "title")
    for lab_id in lab_ids():
        try:
            lab = load_lab(lab_id)
            table.add_row(lab_id, ", ".join(map(str, lab.spec.manrs_actions)), lab.spec.title)
        except SpecError as exc:
            table.add_row(lab_id, "", f"[red]invalid: {exc.problems[0]}[/red]")
    out.print(table)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    result = operations.up(
        args.lab, ConsoleProgress(), instance=args.instance, runtime=args.runtime
    )
    running = result.running
    name = running.instance.name
    learner = running.lab.spec.learner
    console = "birdc" if running.lab.topology.nodes[learner].role.value == "bird" else "vtysh"
    out.print(
        f"[green]{name} is up[/green]: deployed in {result.deploy_seconds:.2f} s, converged "
        f"{result.converge_seconds:.2f} s later. Next: `manrs-lab status {name}`, "
        f"`manrs-lab exec -i {name} {learner} -- {console}`, `manrs-lab check {name}`."
    )
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    from manrs_lab.runtime.clab_attach import attach  # noqa: PLC0415

    inst = attach(args.name, ConsoleProgress(), instance=args.instance)
    out.print(
        f"[green]{inst.name}[/green]: containerlab lab {inst.clab_name} ({inst.lab}, from "
        f"{inst.clab_topology}) is attached. Next: `manrs-lab check {inst.name}`; "
        f"`manrs-lab down {inst.name}` destroys it."
    )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    progress = ConsoleProgress()
    if args.all:
        names = operations.down_all(progress)
        out.print(f"removed: {', '.join(names) or 'nothing was running'}")
    else:
        out.print(f"removed {operations.down(args.instance, progress)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    inst, nodes = operations.status(args.instance)
    title = f"{inst.name} ({inst.lab})"
    table = Table("node", "role", "AS", "running", "BGP sessions", title=title)
    for n in nodes:
        sessions = ", ".join(
            f"{s.peer} AS{s.remote_as} {s.state}"
            + (f" ({s.prefixes_received} pfx)" if s.prefixes_received is not None else "")
            for s in n.sessions
        ) or (n.error or "")
        table.add_row(
            n.node, n.role, str(n.asn or ""), "yes" if n.running else "[red]no[/red]", sessions
        )
    out.print(table)
    registry_ok = True
    if inst.registry:
        from manrs_lab import irr_registry  # noqa: PLC0415 - only labs with a registry

        registry_ok = irr_registry.alive(inst.registry)
        state = "running" if registry_ok else "[red]not running[/red]"
        out.print(
            f"registry {inst.registry}: {state} (from the learner's router: whois -h "
            f"{irr_registry.LAB_WHOIS_HOST}; here: manrs-lab registry whois {inst.registry} ...)",
            highlight=False,
        )
    return 0 if all(n.running for n in nodes) and registry_ok else 1


def cmd_exec(args: argparse.Namespace) -> int:
    running = operations.attach(args.instance)
    argv = args.command or ["sh"]
    if argv and argv[0] == "--":
        argv = argv[1:]
    handle = running.handle(args.node)
    local = handle.local_dir
    if local is not None and argv[0] == "vtysh" and handle.node.role.value == "frr":
        argv = ["vtysh", "--vty_socket", str(local / "run"), *argv[1:]]
    if local is not None and argv[0] == "birdc" and handle.node.role.value == "bird":
        argv = ["birdc", "-s", str(local / "bird.ctl"), *argv[1:]]
    if running.runtime.name == "netns":
        # Interactive: inherit the terminal rather than capturing output.
        ns = running.instance.netns(args.node)
        return subprocess.call(node_argv(ns, args.node, argv))
    result = handle.exec(argv)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def print_report(report: GradeReport) -> None:
    table = Table("", "check", "task", "result", title=f"{report.lab} ({report.instance})")
    for c in report.checks:
        mark = (
            "[green]PASS[/green]"
            if c.passed
            else ("[yellow]SKIP[/yellow]" if c.skipped else "[red]FAIL[/red]")
        )
        table.add_row(mark, c.title, c.task or "-", c.evidence if c.passed else c.message)
    out.print(table)
    lab = tutor.lab_or_none(report.lab)
    for t in report.tasks:
        colour = "green" if t.passed else "red"
        out.print(f"[{colour}]{t.points}/{t.max_points}[/{colour}] {t.title}")
        if t.next_hint and not t.passed:
            hint = tutor.hint_of(lab, t.id, t.next_hint) if lab else None
            label = f"hint {hint.number} of {hint.total}" if hint else "hint"
            out.print(f"  {label}: {t.next_hint}", highlight=False)
    out.print(
        f"[bold]score {report.points}/{report.max_points}[/bold] "
        f"({report.seconds:.2f} s, seed {report.seed})"
    )
    if report.points == report.max_points and report.passed:
        out.print(tutor.full_marks_text(report.lab, notebook=False), highlight=False)
    elif any(not t.passed for t in report.tasks):
        out.print("[dim]each failed check of a task shows its next hint[/dim]")


def cmd_check(args: argparse.Namespace) -> int:
    report = operations.check(
        args.instance, ConsoleProgress(quiet=args.json), seed=args.seed, tasks=args.task
    )
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        print_report(report)
    return 0 if report.passed else 1


def print_readiness(report: readiness.ReadinessReport) -> None:
    title = f"MANRS readiness of AS{report.asn} ({report.router}, {report.lab} {report.instance})"
    table = Table("MANRS action", "verdict", "score", "evidence", title=title)
    for label, verdict, share, summary in readiness.text_lines(report):
        style = readiness.VERDICT_STYLE[readiness.Verdict(verdict)]
        table.add_row(label, f"[{style}]{verdict}[/{style}]", share, summary)
    out.print(table)
    for action in report.actions:
        wrong = readiness.problems(action)
        for e in wrong[: readiness.MAX_SHOWN]:
            detail = f": {readiness.shorten(e.detail)}" if e.detail else ""
            out.print(
                f"  [bold]{action.name}[/bold] {e.what}: {e.outcome}{detail}", highlight=False
            )
        if len(wrong) > readiness.MAX_SHOWN:
            more = len(wrong) - readiness.MAX_SHOWN
            out.print(f"  [dim]{action.name}: {more} more (--json lists every one)[/dim]")
    out.print(
        f"[dim]from a check of every task (score {report.grade_points}/"
        f"{report.grade_max_points}, seed {report.grade_seed}); thresholds: docs/readiness.md[/dim]"
    )


def cmd_readiness(args: argparse.Namespace) -> int:
    _, report = readiness.check_and_assess(
        args.instance, ConsoleProgress(quiet=args.json), seed=args.seed, registry=args.registry
    )
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        print_readiness(report)
    return 0 if report.ready else 1


def cmd_solve(args: argparse.Namespace) -> int:
    nodes = operations.solve(args.instance, ConsoleProgress(), task=args.task)
    out.print(f"reference solution applied on {', '.join(nodes)}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    result = operations.reset(args.instance, ConsoleProgress())
    out.print(f"{result.running.instance.name} is back at its starting configuration")
    return 0


NOT_OURS_SHOWN = 10


def cmd_doctor(args: argparse.Namespace) -> int:
    report = doctor.examine()
    for problem in report.problems:
        out.print(f"[red]problem:[/red] {problem}")
    for name in report.healthy:
        out.print(f"running: {name}")
    for name, why in report.busy:
        out.print(f"busy, not touched: {name} ({why})")
    for name in report.stale_instances:
        out.print(f"leftover instance: {name}")
    for ns in report.namespaces:
        out.print(f"leftover namespace: {ns}")
    for pid, text in report.processes:
        out.print(f"leftover process {pid}: {text}")
    for lock in report.locks:
        out.print(f"leftover lock file: {lock}")
    for name in report.registries:
        out.print(f"leftover lab registry: {name} (its lab instance is gone)")
    for ns in report.foreign:
        out.print(f"[dim]not touched: {ns} (a lab of another state root)[/dim]")
    for what, why in report.not_ours[:NOT_OURS_SHOWN]:
        out.print(f"[dim]not touched: {what} ({why})[/dim]", highlight=False)
    if len(report.not_ours) > NOT_OURS_SHOWN:
        more = len(report.not_ours) - NOT_OURS_SHOWN
        out.print(f"[dim]not touched: {more} more entries that manrs-lab did not make[/dim]")
    if report.clean:
        out.print("no leftovers")
    elif args.dry_run:
        out.print("(dry run: nothing removed; run `manrs-lab doctor` without --dry-run to remove)")
    else:
        doctor.fix(report)
        after = doctor.examine()
        if not after.clean:
            out.print("[red]some leftovers could not be removed[/red]")
            return 1
        out.print("[green]leftovers removed[/green]")
    return 1 if report.problems else 0


def cmd_roa(args: argparse.Namespace) -> int:
    """The lab's RPKI portal: the learner's ROAs, published through the lab's RTR cache."""
    from manrs_lab import roa  # noqa: PLC0415 - only this command needs the portal

    progress = ConsoleProgress()
    if args.action in ("add", "remove"):
        # One ROA change at a time per instance: each reads what is published and writes it
        # back with its change, so two at once would lose one.
        with operations.exclusive(args.instance, "a ROA change", progress) as running:
            p = roa.portal(running)
            if args.action == "add":
                new = roa.parse_roa(p, args.prefix, args.max_length, args.asn)
                roa.add(p, new, progress)
                out.print(f"[green]published[/green] ROA {roa.vrp_text(new)}")
            else:
                gone, _ = roa.remove(p, args.prefix, args.asn, progress)
                out.print(f"[green]revoked[/green] {', '.join(roa.vrp_text(v) for v in gone)}")
    else:
        p = roa.portal(operations.attach(args.instance))
    holdings = " and ".join(str(h) for h in p.holdings)
    roas = p.roas()
    if roas:
        table = Table("prefix", "max length", "origin AS", title=f"ROAs in {holdings} (AS{p.asn})")
        for vrp in roas:
            table.add_row(vrp.prefix, str(vrp.max_length), f"AS{vrp.asn}")
        out.print(table)
    else:
        out.print(f"no ROAs in your address space yet ({holdings}, AS{p.asn})")
    if args.action == "list":
        states = Table("your announcement", "RPKI state", "why", title="Routes you announce")
        colours = {"valid": "green", "invalid": "red"}
        for prefix, state, why in roa.announced_states(p):
            colour = colours.get(state.value, "yellow")
            states.add_row(f"{prefix} AS{p.asn}", f"[{colour}]{state.value}[/{colour}]", why)
        out.print(states)
    return 0


def cmd_irr(args: argparse.Namespace) -> int:
    """A prefix filter for one as-set, built by bgpq4 from a lab registry (IRRd)."""
    from manrs_lab import irr  # noqa: PLC0415 - only this command needs it

    options = {
        "fmt": args.format,
        "name": args.name,
        "version": 6 if args.ipv6 else 4,
        "max_length": args.max_length,
    }
    if (args.file is None) == (args.registry is None):
        raise irr.IrrError("name an RPSL FILE or a running --registry NAME (one of them)")
    if args.registry:
        text = irr.from_registry(args.registry, args.as_set, **options)
    else:
        text = irr.build_filter(
            Path(args.file), args.as_set, progress=irr.StderrProgress(), **options
        )
    sys.stdout.write(text)
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    failed = 0
    for lab in args.labs or lab_ids():
        try:
            operations.lint(lab, daemons=not args.no_daemons)
            out.print(f"[green]ok[/green] {lab}")
        except SpecError as exc:
            failed += 1
            out.print(str(exc), style="red", highlight=False, markup=False)
    return 1 if failed else 0


def cmd_schema(_: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(LabSpecFile.model_json_schema(by_alias=True), indent=2) + "\n")
    return 0


def add_irr_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from manrs_lab.irr_registry import cli as registry_cli  # noqa: PLC0415

    s = sub.add_parser("irr", help="prefix filter of an as-set: bgpq4 on a lab registry (IRRd)")
    s.add_argument("file", nargs="?", help="RPSL file (a registry is started from it for this)")
    s.add_argument("--registry", help="a running lab registry (manrs-lab registry up NAME)")
    s.add_argument("--as-set", required=True, help="e.g. AS-CONTENT")
    s.add_argument("--format", choices=("bird", "frr"), default="bird")
    s.add_argument("--name", help="name of the prefix set/list (default: from the as-set)")
    s.add_argument("--ipv6", action="store_true", help="route6 objects instead of route")
    s.add_argument(
        "--max-length", type=int, help="also allow more-specifics down to this length (-R)"
    )
    s.set_defaults(fn=cmd_irr)
    registry_cli.add_command(sub)


def add_readiness_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "readiness",
        help="MANRS readiness report of your AS (grades the whole lab first, real probes)",
    )
    s.add_argument("instance", nargs="?")
    s.add_argument(
        "--json", action="store_true", help="the report as JSON (every probe's evidence)"
    )
    s.add_argument("--seed", type=int, help="replay the probes' random choices")
    s.add_argument(
        "--registry", help="a running lab registry to read (default: the lab's own, if any)"
    )
    s.set_defaults(fn=cmd_readiness)


def add_up_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`up` (the project deploys) and `attach` (containerlab deployed)."""
    s = sub.add_parser("up", help="deploy a lab and wait until BGP converged")
    s.add_argument("lab")
    s.add_argument("--instance", help="instance name (default: the lab id)")
    s.add_argument("--runtime", default=DEFAULT_RUNTIME, choices=runtime_names())
    s.set_defaults(fn=cmd_up)

    s = sub.add_parser("attach", help="grade a lab containerlab deployed (containerlab's name)")
    s.add_argument("name", help="the lab's name in containerlab (the topology's `name:`)")
    s.add_argument("--instance", help="instance name (default: the containerlab name)")
    s.set_defaults(fn=cmd_attach)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="manrs-lab", description=__doc__)
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="labs in labs/").set_defaults(fn=cmd_list)

    add_up_commands(sub)

    s = sub.add_parser("down", help="stop a lab instance and remove everything it made")
    s.add_argument("instance", nargs="?")
    s.add_argument("--all", action="store_true", help="every running instance")
    s.set_defaults(fn=cmd_down)

    for name, fn, text in (
        ("status", cmd_status, "nodes and BGP sessions of an instance"),
        ("solve", cmd_solve, "apply the reference solution (instructors, tests)"),
        ("reset", cmd_reset, "back to the starting configuration"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("instance", nargs="?")
        s.set_defaults(fn=fn)
        if name == "solve":
            s.add_argument("--task", help="staged labs: only this task's model answer")

    s = sub.add_parser("exec", help="run a command on a node: exec NODE -- CMD")
    s.add_argument("-i", "--instance")
    s.add_argument("node")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_exec)

    s = sub.add_parser("check", help="grade the lab (probes included)")
    s.add_argument("instance", nargs="?")
    s.add_argument("--json", action="store_true")
    s.add_argument("--task", action="append", help="only this task (repeatable)")
    s.add_argument("--seed", type=int, help="replay the probes' random choices")
    s.set_defaults(fn=cmd_check)

    add_readiness_command(sub)

    s = sub.add_parser("roa", help="your ROAs in the lab's RPKI: roa list|add|remove")
    s.add_argument("-i", "--instance")
    roa_sub = s.add_subparsers(dest="action", required=True)
    roa_sub.add_parser("list", help="your ROAs and the RPKI state of what you announce")
    a = roa_sub.add_parser("add", help="publish a ROA: add PREFIX --max-length N [--asn N]")
    a.add_argument("prefix")
    a.add_argument("--max-length", type=int, required=True, help="longest prefix allowed")
    a.add_argument("--asn", type=int, help="AS allowed to originate it (default: yours)")
    r = roa_sub.add_parser("remove", help="revoke your ROAs for PREFIX [--asn N]")
    r.add_argument("prefix")
    r.add_argument("--asn", type=int, help="only the ROA for this AS")
    s.set_defaults(fn=cmd_roa)

    add_irr_command(sub)

    s = sub.add_parser("doctor", help="find and remove leftovers of crashed runs")
    s.add_argument("--dry-run", action="store_true")
    s.set_defaults(fn=cmd_doctor)

    s = sub.add_parser("lint", help="validate lab specs (all labs if none named)")
    s.add_argument("labs", nargs="*")
    s.add_argument(
        "--no-daemons", action="store_true", help="skip the daemons' dry runs of the configs"
    )
    s.set_defaults(fn=cmd_lint)

    sub.add_parser("schema", help="JSON Schema of lab.yaml").set_defaults(fn=cmd_schema)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.fn(args)
    except LabError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
