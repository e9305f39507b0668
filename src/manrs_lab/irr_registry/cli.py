"""`manrs-lab registry ...`: start, stop, query and update a lab registry (IRRd)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from manrs_lab import irr_registry
from manrs_lab.irr import StderrProgress
from manrs_lab.paths import state_root


def cmd_registry(args: argparse.Namespace) -> int:
    if args.action == "up":
        data = Path(args.data) if args.data else irr_registry.WORLD
        irr_registry.start(args.name, data=data, progress=StderrProgress())
        print(
            f"registry {args.name} is up: whois and bgpq4 at 127.0.0.1:43 in namespace "
            f"{irr_registry.netns(args.name)}"
        )
    elif args.action == "down":
        if irr_registry.is_lab_registry(args.name) and (state_root() / args.name).exists():
            raise irr_registry.RegistryError(
                f"registry {args.name} is lab instance {args.name}'s: it stops with the lab "
                f"(`manrs-lab down {args.name}`)"
            )
        irr_registry.stop(args.name)
        print(f"registry {args.name} stopped")
    elif args.action == "list":
        for name in irr_registry.running():
            print(name)
    elif args.action == "whois":
        sys.stdout.write(irr_registry.query(args.name, " ".join(args.query)))
    elif args.action == "submit":
        text = Path(args.file).read_text() if args.file != "-" else sys.stdin.read()
        result = irr_registry.submit(
            args.name, text, args.password or [], delete_reason=args.delete
        )
        print(result.report)
        return 0 if result.ok else 1
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("registry", help="a lab routing registry (IRRd): up, down, whois, submit")
    actions = s.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start registry NAME (the lab world's RPSL by default)")
    up.add_argument("name")
    up.add_argument("--data", help="RPSL file to load instead of the lab world's")
    actions.add_parser("down", help="stop registry NAME and remove it").add_argument("name")
    actions.add_parser("list", help="running registries")
    w = actions.add_parser("whois", help="a whois query: whois NAME AS64500")
    w.add_argument("name")
    w.add_argument("query", nargs="+")
    u = actions.add_parser("submit", help="create/change objects (RPSL FILE, - for stdin)")
    u.add_argument("name")
    u.add_argument("file")
    u.add_argument("--password", action="append", help="a maintainer's password (repeatable)")
    u.add_argument("--delete", metavar="REASON", help="delete the objects instead")
    s.set_defaults(fn=cmd_registry)
