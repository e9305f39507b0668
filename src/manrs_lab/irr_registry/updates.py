"""Registry updates written as operators mail them to an IRR: RPSL objects separated by blank
lines, with IRRd's meta-attributes `password:` (a maintainer's password, for every object of
the update) and `delete: REASON` (inside an object: delete it). Lines starting with `#` are
comments. Sent through IRRd's submission API (`irr_registry.submit`), changes first, then the
deletions: the changes may stop referring to what is deleted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from manrs_lab.irr_registry import RegistryError, SubmitResult, submit


@dataclass
class Update:
    changes: list[str] = field(default_factory=list)  # objects to create or change
    deletions: dict[str, list[str]] = field(default_factory=dict)  # reason -> objects
    passwords: list[str] = field(default_factory=list)


def parse_update(text: str) -> Update:
    update = Update()
    for block in re.split(r"\n\s*\n", text):
        lines = []
        reason: str | None = None
        for line in block.splitlines():
            name, _, value = line.partition(":")
            key = name.strip().lower()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if key == "password" and line[:1] not in " \t+":
                update.passwords.append(value.strip())
            elif key == "delete" and line[:1] not in " \t+":
                reason = value.strip() or "deleted"
            else:
                lines.append(line)
        if not lines:
            continue
        obj = "\n".join(lines) + "\n"
        if reason is None:
            update.changes.append(obj)
        else:
            update.deletions.setdefault(reason, []).append(obj)
    if not update.changes and not update.deletions:
        raise RegistryError("nothing to submit: no RPSL objects in the update")
    return update


def apply_update(name: str, text: str) -> list[SubmitResult]:
    """Submit an update to registry `name`; raises RegistryError naming what was refused."""
    update = parse_update(text)
    results = []
    if update.changes:
        results.append(submit(name, "\n".join(update.changes), update.passwords))
    for reason, objects in update.deletions.items():
        results.append(submit(name, "\n".join(objects), update.passwords, delete_reason=reason))
    if not all(r.ok for r in results):
        # IRRd keeps the objects it accepted: say what went in as well as what did not.
        raise RegistryError(
            "the registry refused (part of) the update:\n" + "\n".join(r.report for r in results)
        )
    return results
