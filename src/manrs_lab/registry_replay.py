"""A registry lab's work, saved with the notebook and replayed by nbgrader's autograde.

In a lab with a routing registry (`registry:` in lab.yaml, with `learner_mntner`) the
learner's work is partly in the registry: objects they created, changed or deleted with their
maintainer's password. `save` writes exactly the objects that maintainer maintains (never the
mntner itself: the registry shows its auth filtered) as RPSL to
`<notebook-dir>/.manrs-lab/<lab>/registry.rpsl`, beside the saved router configurations.

`replay` (on the grading machine, into a registry freshly started from the lab's data) treats
that file as hostile data:
- read like the configs (`submission.read_registry_text`: a regular file, no link, size
  limit, UTF-8 without control characters), at most `MAX_OBJECTS` objects;
- parsed strictly as RPSL (`attribute: value` lines, continuation lines, `#` comments);
  anything else refuses the object it is in; pseudo-attributes that would carry credentials
  or commands (`password`, `override`, `delete`) refuse their object; only object classes the
  lab's data holds, never `mntner`;
- never executed: each object is submitted through the registry's authenticated submission
  interface (IRRd's HTTP API) with the learner maintainer's password only, so IRRd refuses
  what the learner could not have done (another maintainer's object, a reference to a
  missing object), and every refusal is reported with IRRd's reason;
- objects of the learner's maintainer in the lab's data but absent from the saved file are
  deleted (the learner deleted them), after the changes (a change may drop a reference first);
- objects identical to the lab's data are not sent again.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path

from manrs_lab import irr_registry
from manrs_lab.errors import LabError
from manrs_lab.registry_rules import RpslObject, parse_rpsl
from manrs_lab.running import RunningLab
from manrs_lab.spec.loader import Lab as LoadedLab
from manrs_lab.submission import REGISTRY_FILE, SAVE_DIR, Refusal, read_registry_text

MAX_OBJECTS = 200
MAX_SHOWN_REFUSALS = 20
ATTR_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9-]*):(?P<value>.*)$")
DENIED_ATTRIBUTES = frozenset({"password", "override", "delete"})
GENERATED = frozenset({"last-modified", "created", "changed"})  # the registry sets these
NEVER_REPLAYED = frozenset({"mntner"})


def _key(obj: RpslObject) -> tuple[str, str]:
    """An object's identity as the registry sees it: class and primary key (a route's is its
    prefix, written canonically, and origin), so that one object never counts as two."""
    key = obj.primary_key.upper()
    if obj.cls in ("route", "route6"):
        with contextlib.suppress(ValueError):
            key = str(ip_network(key, strict=False)).upper()
        key = f"{key}{obj.first('origin').upper()}"
    return obj.cls, key


def _normal(obj: RpslObject) -> list[tuple[str, str]]:
    return [(k, " ".join(v.split())) for k, v in obj.attrs if k not in GENERATED]


def render(obj: RpslObject) -> str:
    """An object as RPSL text, without the attributes the registry generates."""
    width = max(len(k) for k, _ in obj.attrs) + 2
    return "".join(
        f"{k + ':':<{width}}{v}".rstrip() + "\n" for k, v in obj.attrs if k not in GENERATED
    )


def learner_objects(running: RunningLab) -> list[RpslObject]:
    """The objects the learner's maintainer maintains in the instance's registry, now."""
    spec = running.lab.spec.registry
    if spec is None or spec.learner_mntner is None or not running.registry:
        return []
    answer = irr_registry.query(running.registry, f"-r -i mnt-by {spec.learner_mntner}")
    return [o for o in parse_rpsl(answer) if o.cls not in NEVER_REPLAYED]


def save(running: RunningLab, folder: Path) -> Path | None:
    """Write the learner maintainer's objects to `folder/registry.rpsl`; the path, or None when
    the lab saves no registry objects."""
    spec = running.lab.spec.registry
    if spec is None or spec.learner_mntner is None or not running.registry:
        return None
    objects = learner_objects(running)
    header = (
        f"# The objects {spec.learner_mntner} maintains in the lab's registry, saved by "
        "manrs-lab for grading.\n# Replayed through the registry's authenticated submission "
        "interface: editing this file does not change what you are allowed to do.\n\n"
    )
    path = folder / REGISTRY_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(header + "\n".join(render(o) for o in objects))
    tmp.replace(path)
    return path


@dataclass
class SavedRegistry:
    """What the grader accepted from a saved registry file, and what it refused."""

    objects: list[RpslObject] | None  # None: no file saved
    refused: list[Refusal] = field(default_factory=list)


def lab_classes(lab: LoadedLab) -> set[str]:
    data = lab.registry_data
    if data is None:
        return set()
    return {o.cls for o in parse_rpsl(data.read_text())} - NEVER_REPLAYED


def parse_saved(text: str, classes: set[str], shown: str) -> SavedRegistry:
    """Strict RPSL: each object's lines are `attribute: value` or continuations; comments
    (`#`) and blank lines between. What breaks a rule refuses its object, named."""
    out = SavedRegistry(objects=[])
    assert out.objects is not None
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                blocks.append((start, current))
            current = []
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append((start, current))
    if len(blocks) > MAX_OBJECTS:
        out.refused.append(
            Refusal(shown, f"holds {len(blocks)} objects (at most {MAX_OBJECTS}): none replayed")
        )
        return out
    for start, lines in blocks:
        where = f"{shown}:{start}"
        problem = None
        for offset, line in enumerate(lines):
            if offset and line[0] in " \t+":
                continue
            m = ATTR_LINE.match(line)
            if m is None:
                problem = f"line {start + offset} is not RPSL (`attribute: value`)"
                break
            if m["name"].lower() in DENIED_ATTRIBUTES:
                problem = f"`{m['name'].lower()}:` is never replayed (credentials and commands)"
                break
        if problem is None:
            parsed = parse_rpsl("\n".join(lines))
            obj = parsed[0] if len(parsed) == 1 else None
            if obj is None:
                problem = "not one RPSL object"
            elif obj.cls not in classes:
                known = ", ".join(sorted(classes))
                problem = f"{obj.cls} objects are not replayed (this lab's: {known})"
            else:
                out.objects.append(obj)
                continue
        out.refused.append(Refusal(where, f"object refused: {problem}"))
    return out


def read_saved(lab: LoadedLab, notebook_dir: Path) -> SavedRegistry:
    """The saved registry objects of `lab` beside the notebook, checked (see `parse_saved`)."""
    text, refused = read_registry_text(lab, notebook_dir)
    if text is None:
        return SavedRegistry(None, refused)
    shown = f"{SAVE_DIR}/{lab.id}/{REGISTRY_FILE}"
    return parse_saved(text, lab_classes(lab), shown)


def _refusals(result: irr_registry.SubmitResult, what: str) -> list[Refusal]:
    """One refusal per object IRRd did not accept, with its reasons."""
    out = []
    objects = result.response.get("objects")
    for item in objects if isinstance(objects, list) else []:
        if item.get("successful"):
            continue
        name = f"{item.get('object_class')} {item.get('rpsl_pk')}"
        reasons = "; ".join(str(m) for m in item.get("error_messages", [])) or "refused"
        out.append(
            Refusal(f"{REGISTRY_FILE}: {name}", f"{what} refused by the registry: {reasons}")
        )
    if not out and not result.ok:
        out.append(Refusal(REGISTRY_FILE, f"{what} refused by the registry: {result.report}"))
    return out


def plan(
    data: str, saved: list[RpslObject], mntner: str
) -> tuple[list[RpslObject], list[RpslObject]]:
    """(changes, deletions) that turn a registry loaded from `data` into the saved state:
    saved objects new or different from the data; data objects of `mntner` (never a mntner)
    that the saved set lacks."""
    start = {_key(o): o for o in parse_rpsl(data)}
    wanted = {_key(o): o for o in saved}
    changes = [o for k, o in wanted.items() if k not in start or _normal(start[k]) != _normal(o)]
    deletions = [
        o
        for k, o in start.items()
        if k not in wanted and o.cls not in NEVER_REPLAYED and mntner.upper() in o.names("mnt-by")
    ]
    return changes, deletions


def apply(running: RunningLab, saved: SavedRegistry) -> list[Refusal]:
    """Make the instance's registry (fresh from the lab's data) hold what was saved: changes
    and new objects, then deletions, all as the learner's maintainer. Returns the refusals."""
    spec = running.lab.spec.registry
    data = running.lab.registry_data
    if saved.objects is None or spec is None or spec.learner_password is None or data is None:
        return []
    if not running.registry:
        raise LabError("the lab's registry is not running: the saved objects cannot be replayed")
    changes, deletions = plan(data.read_text(), saved.objects, spec.learner_mntner or "")
    refused: list[Refusal] = []
    password = [spec.learner_password]
    if changes:
        result = irr_registry.submit(
            running.registry, "\n".join(render(o) for o in changes), password
        )
        refused += _refusals(result, "change")
    if deletions:
        result = irr_registry.submit(
            running.registry,
            "\n".join(render(o) for o in deletions),
            password,
            delete_reason="deleted by the learner (not in the saved objects)",
        )
        refused += _refusals(result, "deletion")
    if len(refused) > MAX_SHOWN_REFUSALS:
        more = len(refused) - MAX_SHOWN_REFUSALS
        refused = [*refused[:MAX_SHOWN_REFUSALS], Refusal(REGISTRY_FILE, f"{more} more refused")]
    return refused
