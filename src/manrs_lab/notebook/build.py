"""Generate the lab notebooks from each lab's lab.yaml and README.md.

    python -m manrs_lab.notebook.build            # notebooks/NN-<lab>.ipynb and grader/source/
    python -m manrs_lab.notebook.build --check    # exit 1 if any generated file is out of date

Two variants come from one function: the learner's notebook (`notebooks/`, what JupyterLab
serves) and the instructor's nbgrader source (`grader/source/<lab>/`), which is the same
notebook with the reference solution inside `### BEGIN/END SOLUTION`; nbgrader's
`generate_assignment` turns it back into the learner's version. Numbers are stable: a lab keeps
the NN it was first given, a new lab gets the next one.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat as _nbformat
from nbformat.notebooknode import NotebookNode

from manrs_lab import readiness
from manrs_lab.errors import SpecError
from manrs_lab.notebook.replay import SAVE_DIR
from manrs_lab.notebook.views import notebook_wording
from manrs_lab.paths import content_root
from manrs_lab.spec.loader import Lab as LoadedLab
from manrs_lab.spec.loader import lab_ids, load_lab
from manrs_lab.spec.topology import Role
from manrs_lab.tutor import CURRICULUM

CODE_STUB = "# YOUR CONFIGURATION HERE"
GENERATOR = "manrs_lab.notebook.build"
# nbformat's functions carry no annotations: go through Any rather than scatter ignores.
nbformat: Any = _nbformat
NAME_RE = re.compile(r"^(\d{2})-([a-z0-9-]+)\.ipynb$")

# Teaching order (manrs_lab.tutor), used only to number labs that have no notebook yet; a lab
# keeps the number its notebook already has, so learners' and nbgrader's file names are stable.

MANRS_ACTIONS = {
    1: (
        "Filtering",
        "prevent the propagation of incorrect routing information: check your own "
        "announcements and your customers' against what they are registered for, with prefix "
        "and AS-path granularity.",
    ),
    2: (
        "Anti-spoofing",
        "prevent traffic with spoofed source addresses: validate source addresses at least for "
        "single-homed customers, your own end users and your infrastructure.",
    ),
    3: (
        "Coordination",
        "keep your contact information up to date in common routing databases, so other "
        "operators can reach you during an incident.",
    ),
    4: (
        "Global validation",
        "publish your routing policy and your address space (IRR route objects, RPKI ROAs) so "
        "that others can validate what you announce.",
    ),
}
HOW_IT_WORKS = """\
**How this notebook works.** The next cell starts the lab: real routers (FRR, BIRD) in Linux
network namespaces on this machine, ready in a few seconds. Its panel shows the progress, the
topology with live BGP session state, a console button per router (a terminal on it), and a
**Check** button that grades every task; each failed check of a task shows its next hint.
Stop saves your configuration first, and Start offers it back. Work in the cells under each
task; the grey *grade cell* after a task grades that task on the live lab, with fresh probes
(the grader plays the bad neighbour at check time, so filtering only the example prefixes is
not enough).

Whenever you check, your router's running configuration is saved beside this notebook
(`.manrs-lab/{lab}/`). That is what gets graded when you hand the notebook in: the grader
rebuilds the lab from it on its own machine."""


@dataclass(frozen=True)
class Built:
    path: Path
    text: str


def _meta(grade_id: str, *, locked: bool = False, solution: bool = False) -> dict[str, Any]:
    return {
        "grade": False,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }


class _Cells:
    def __init__(self, instructor: bool) -> None:
        self.instructor = instructor
        self.cells: list[NotebookNode] = []

    def _add(self, cell: NotebookNode, cell_id: str, nbgrader: dict[str, Any] | None) -> None:
        cell["id"] = cell_id
        if nbgrader is not None:
            cell.metadata["nbgrader"] = nbgrader
            if nbgrader["locked"] and not self.instructor:
                # What nbgrader's generate_assignment sets on locked cells.
                cell.metadata["deletable"] = False
                cell.metadata["editable"] = False
        self.cells.append(cell)

    def markdown(self, cell_id: str, text: str, *, locked: bool = True) -> None:
        cell = nbformat.v4.new_markdown_cell(text.strip())
        self._add(cell, cell_id, _meta(cell_id, locked=True) if locked else None)

    def code(self, cell_id: str, source: str, *, locked: bool = False) -> None:
        cell = nbformat.v4.new_code_cell(source.strip())
        self._add(cell, cell_id, _meta(cell_id, locked=True) if locked else None)

    def work(self, cell_id: str, header: str, solution: str | None) -> None:
        if self.instructor:
            body = f"### BEGIN SOLUTION\n{(solution or '').strip()}\n### END SOLUTION"
            body = body.replace("\n\n### END", "\n### END")
        else:
            body = CODE_STUB
        cell = nbformat.v4.new_code_cell(f"{header.strip()}\n{body}")
        self._add(cell, cell_id, _meta(cell_id, solution=True))

    def grade(self, cell_id: str, source: str, points: int) -> None:
        meta = _meta(cell_id, locked=True)
        meta.update(grade=True, points=points)
        self._add(nbformat.v4.new_code_cell(source.strip()), cell_id, meta)


def _readme(lab: LoadedLab) -> str | None:
    path = lab.folder / "README.md"
    if not path.is_file():
        return None
    lines = path.read_text().strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    text = "\n".join(lines).strip()
    return text or None


def _observers(lab: LoadedLab) -> list[str]:
    """Routers the checks look at, other than the learner's: worth inspecting."""
    found: list[str] = []
    for chk in lab.spec.checks:
        for key in ("observer", "observers", "nodes"):
            value = chk.params.get(key)
            names = value if isinstance(value, list) else [value] if isinstance(value, str) else []
            found += [n for n in names if isinstance(n, str)]
    routers = {n.name for n in lab.topology.routers()}
    return [n for n in dict.fromkeys(found) if n in routers and n != lab.spec.learner]


def _topology_markdown(lab: LoadedLab) -> str:
    rows = []
    for name, node in lab.topology.nodes.items():
        links = ", ".join(
            f"`{local.iface}` → {remote.node} `{remote.iface}`"
            for local, remote in lab.topology.links_of(name)
        )
        role = {
            Role.FRR: "FRR",
            Role.BIRD: "BIRD",
            Role.RTR: "RPKI cache (stayrtr)",
            Role.HOST: "host",
        }[node.role]
        who = " (**your router**)" if name == lab.spec.learner else ""
        asn = f"AS{node.asn}" if node.asn is not None else ""
        rows.append(f"| `{name}`{who} | {role} | {asn} | {links} |")
    return (
        "## The lab's network\n\n| node | runs | AS | links |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nThe panel above draws the same network; a link turns green when the BGP session "
        "across it is Established."
    )


def _intro(lab: LoadedLab, number: int) -> str:
    spec = lab.spec
    actions = "\n".join(
        f"- **MANRS Action {a}: {MANRS_ACTIONS[a][0]}**: {MANRS_ACTIONS[a][1]}"
        if a in MANRS_ACTIONS
        else f"- **MANRS Action {a}**"
        for a in spec.manrs_actions
    )
    learner = lab.topology.nodes[spec.learner]
    kind = "FRR" if learner.role is Role.FRR else "BIRD"
    gates = [c.title for c in spec.checks if c.task is None]
    gate_text = (
        "\n\nBefore any task scores, the grader needs: " + "; ".join(gates) + "." if gates else ""
    )
    return (
        f"# Lab {number:02d}: {spec.title}\n\n"
        "[MANRS](https://www.manrs.org) (Mutually Agreed Norms for Routing Security) asks network "
        "operators for a few concrete actions. This lab practises:\n\n"
        f"{actions}\n\n{spec.summary.strip()}\n\n"
        f"Your router is **`{spec.learner}`** (AS{learner.asn}, {kind}). "
        f"There are {len(spec.tasks)} tasks worth "
        f"{sum(t.points for t in spec.tasks)} points.{gate_text}\n\n"
        + HOW_IT_WORKS.format(lab=spec.id)
    )


def _inspection(lab: LoadedLab, cells: _Cells) -> None:
    learner = lab.spec.learner
    frr = lab.topology.nodes[learner].role is Role.FRR
    cells.markdown(
        "look-around",
        "## Look around\n\n"
        "Commands reach the routers through magics: `%vtysh NODE …` (FRR), `%birdc NODE …` "
        "(BIRD), `%sh NODE …` (a shell inside the node's namespace). `%router_config NODE` "
        "prints a router's running configuration. `lab.sessions()` and "
        "`lab.routes(NODE, PREFIX)` return tables.",
    )
    cells.code("inspect-sessions", "lab.sessions()")
    table = f"%vtysh {learner} show bgp ipv4 unicast" if frr else f"%birdc {learner} show route"
    cells.code("inspect-table", table)
    cells.code("inspect-config", f"%router_config {learner}")
    if lab.spec.registry is not None:
        asn = lab.topology.nodes[learner].asn
        cells.markdown(
            "look-around-registry",
            "This lab has its own routing registry (IRRd): `%whois QUERY` asks it what "
            f"`whois -h 169.254.43.2 QUERY` answers on {learner}, and a cell starting with "
            "`%%registry_update` sends objects to it through its submission interface.",
        )
        cells.code("inspect-registry", f"%whois AS{asn}")
    for i, node in enumerate(_observers(lab), start=1):
        cells.code(f"inspect-observer-{i}", f'lab.routes("{node}")')


def _registry_save_note(lab: LoadedLab) -> str:
    """What becomes of the learner's registry objects when the notebook is submitted."""
    spec = lab.spec.registry
    if spec is None or spec.learner_mntner is None:
        return (
            "Your work lives in the lab's registry, not in a router's configuration: it is "
            "graded on the live lab (Check, grade cells), and it is gone once the lab stops.\n\n"
        )
    return (
        "Your work lives in the lab's registry. Check, the grade cells, `lab.save()` and Stop "
        f"save the objects your maintainer {spec.learner_mntner} maintains beside this notebook "
        f"(`.manrs-lab/{lab.id}/registry.rpsl`); when your notebook is graded, they are "
        f"submitted again, with {spec.learner_mntner}'s password, to a fresh registry started "
        "from the lab's data (objects of yours that are missing from the file are deleted), "
        "so run Check once more after your last change.\n\n"
    )


def _registry_work(lab: LoadedLab) -> bool:
    """The learner's work is a registry update (the reference solution is one)."""
    path = lab.spec.solution.get(lab.spec.learner)
    return path is not None and path.endswith(".rpsl")


# Check kinds that read only what the registry publishes (and what the learner's router
# announces): a task graded by these alone is a registry update, whatever the rest of the lab.
REGISTRY_WORK_KINDS = frozenset(
    {
        "incident_reported",
        "registry_contacts_resolve",
        "registry_abuse_contact",
        "originated_routes_registered",
        "route_objects_current",
    }
)


def registry_task(lab: LoadedLab, task_id: str) -> bool:
    """In a lab with a registry, a task whose every check reads the registry's objects (the
    manrs-ready lab's contacts and route objects, beside router tasks)."""
    kinds = {c.check for c in lab.spec.checks if c.task == task_id}
    return lab.spec.registry is not None and bool(kinds) and kinds <= REGISTRY_WORK_KINDS


def _work_header(lab: LoadedLab, task_id: str | None = None) -> str:
    learner = lab.spec.learner
    if _registry_work(lab) or (task_id is not None and registry_task(lab, task_id)):
        return (
            "%%registry_update\n"
            "# Sent to the lab's registry when you run this cell, as an operator mails an IRR:\n"
            "# objects separated by blank lines (an object sent replaces the one of that name),\n"
            "# `password: PW` lines for the maintainer, `delete: REASON` inside an object to\n"
            "# delete it. Lines starting with # are comments."
        )
    if lab.topology.nodes[learner].role is Role.BIRD:
        return (
            f"%%router_config {learner}\n"
            f"# BIRD: this cell replaces {learner}'s whole bird.conf when you run it.\n"
            f"# Start from the current one: %router_config {learner}"
        )
    return (
        f"%%router_config {learner}\n"
        f"# FRR: these commands are applied on top of {learner}'s running configuration\n"
        "# when you run this cell (as in `configure terminal`)."
    )


def _task_markdown(lab: LoadedLab, index: int) -> str:
    task = lab.spec.tasks[index]
    checks = [c.title for c in lab.spec.checks if c.task == task.id]
    points = f"{task.points} point{'s' if task.points != 1 else ''}"
    title = task.title
    if not title.lower().startswith("task"):
        title = f"Task {index + 1}: {title}"
    text = [f"## {title}\n\n*{points}.* The grader checks:\n"]
    text += [f"- {c}" for c in checks]
    for n, hint in enumerate(task.hints, start=1):
        text.append(
            f"\n<details><summary>Hint {n}</summary>\n\n{notebook_wording(hint)}\n\n</details>"
        )
    return "\n".join(text)


def _readiness_note(lab: LoadedLab) -> str:
    if not readiness.auto_shown(lab):
        return ""
    return (
        "Under the score, **Check** also shows the *MANRS readiness* of your AS, as the MANRS "
        "Observatory scores real networks: per MANRS action, a verdict (ready, aspiring, "
        "lagging) with the evidence the grader's probes gave, and a link to download it as "
        "JSON (`lab.readiness()` in a cell does the same).\n\n"
    )


def build_notebook(lab: LoadedLab, number: int, *, instructor: bool = False) -> NotebookNode:
    """The lab's notebook; `instructor` adds the reference solution for nbgrader's source."""
    cells = _Cells(instructor)
    cells.markdown("intro", _intro(lab, number))
    cells.code(
        "setup",
        "from manrs_lab.notebook import Lab\n\n"
        f'lab = Lab("{lab.id}")  # finds the running lab, or starts it (a few seconds)\n'
        "lab.panel()",
        locked=True,
    )
    readme = _readme(lab)
    if readme is not None:
        # The learner's guide already draws the topology, by hand and with addresses.
        cells.markdown("guide", "## About this lab\n\n" + readme)
    else:
        cells.markdown("topology", _topology_markdown(lab))
    _inspection(lab, cells)
    learner = lab.spec.learner
    solution = lab.solution_path(learner).read_text() if learner in lab.spec.solution else None
    for index, task in enumerate(lab.spec.tasks):
        cells.markdown(f"{task.id}-text", _task_markdown(lab, index))
        if lab.staged:  # each task is a state of its own, with its own model answer
            path = lab.task_solution_paths(task.id).get(learner)
            answer = path.read_text() if path is not None else None
        else:  # the whole reference solution goes with the first task (one file per node)
            answer = solution if index == 0 else None
        cells.work(f"{task.id}-work", _work_header(lab, task.id), answer)
        cells.grade(
            task.id,
            "# Grades this task on the live lab with fresh probes; fails with what went wrong.\n"
            f'lab.assert_task("{task.id}")',
            task.points,
        )
    if _registry_work(lab):
        cells.markdown(
            "submit-text",
            "## Check\n\n"
            "**Check** in the panel grades every task again. "
            + _registry_save_note(lab)
            + _readiness_note(lab)
            + "When you are done, **Stop** the lab in the panel (or run `lab.stop()`).",
        )
    else:
        _submit_cells(lab, cells)
    nb = nbformat.v4.new_notebook()
    nb.cells = cells.cells
    nb.metadata = {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
        "manrs_lab": {"lab": lab.id, "generator": GENERATOR},
    }
    nbformat.validate(nb)
    built: NotebookNode = nb
    return built


def _live_only_note(lab: LoadedLab) -> str:
    """Labs whose tasks are partly registry updates: those are not in a saved configuration."""
    tasks = [t.id for t in lab.spec.tasks if registry_task(lab, t.id)]
    if not tasks:
        return ""
    rpki = any(n.role is Role.RTR for n in lab.topology.nodes.values())
    what, where = ("and ROAs", "registry and RPKI") if rpki else ("", "registry")
    return (
        f"Your registry updates ({', '.join(tasks)}) {what} live in the lab's {where}, not in "
        "a router's configuration: they are graded on the live lab (Check, grade cells), and "
        "they are gone once the lab stops.\n\n"
    ).replace(")  live", ") live")


def _submit_cells(lab: LoadedLab, cells: _Cells) -> None:
    learner = lab.spec.learner
    cells.markdown(
        "submit-text",
        "## Check and submit\n\n"
        "**Check** in the panel grades every task again. Before you hand in this notebook, run "
        f"the cell below: it saves `{learner}`'s running configuration in "
        f"`.manrs-lab/{lab.id}/` beside the notebook, and that is what the grader replays "
        "(checks and grade cells save it too). The notebook's outputs are not graded.\n\n"
        + _live_only_note(lab)
        + _readiness_note(lab)
        + "When you are done, **Stop** the lab in the panel (or run `lab.stop()`).",
    )
    cells.code("submit", "lab.save()")


def notebook_text(nb: NotebookNode) -> str:
    return str(nbformat.writes(nb)) + "\n"


def assign_numbers(labs: Sequence[str], existing: Sequence[str]) -> dict[str, int]:
    """Existing `NN-<lab>.ipynb` names keep their NN; new labs get the next numbers, in
    curriculum order, then alphabetically."""
    numbers: dict[str, int] = {}
    for name in existing:
        match = NAME_RE.match(name)
        if match and match.group(2) in labs and match.group(2) not in numbers:
            numbers[match.group(2)] = int(match.group(1))
    following = max(numbers.values(), default=0)
    rank = {lab: i for i, lab in enumerate(CURRICULUM)}
    for lab in sorted(labs, key=lambda lab: (rank.get(lab, len(rank)), lab)):
        if lab not in numbers:
            following += 1
            numbers[lab] = following
    return numbers


def plan(notebooks_dir: Path, course_dir: Path | None) -> tuple[list[Built], list[Path]]:
    """Files to write, and stale generated files to remove."""
    labs = lab_ids()
    existing = sorted(p.name for p in notebooks_dir.glob("*.ipynb"))
    numbers = assign_numbers(labs, existing)
    out: list[Built] = []
    for lab_id in labs:
        try:
            lab = load_lab(lab_id)
        except SpecError as exc:
            raise SpecError(exc.path, [*exc.problems, "(fix the lab, then build again)"]) from exc
        filename = f"{numbers[lab_id]:02d}-{lab_id}.ipynb"
        learner_nb = build_notebook(lab, numbers[lab_id])
        out.append(Built(notebooks_dir / filename, notebook_text(learner_nb)))
        if course_dir is not None:
            source = course_dir / "source" / lab_id / filename
            text = notebook_text(build_notebook(lab, numbers[lab_id], instructor=True))
            out.append(Built(source, text))
    wanted = {b.path for b in out}
    stale = [p for p in notebooks_dir.glob("*.ipynb") if p not in wanted and _generated(p)]
    if course_dir is not None:
        stale += [
            p
            for p in (course_dir / "source").glob("*/*.ipynb")
            if p not in wanted and _generated(p)
        ]
    return out, stale


def _generated(path: Path) -> bool:
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return False
    return bool(nb.metadata.get("manrs_lab", {}).get("generator") == GENERATOR)


def main(argv: Sequence[str] | None = None) -> int:
    root = content_root()
    parser = argparse.ArgumentParser(
        prog="python -m manrs_lab.notebook.build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--notebooks", type=Path, default=root / "notebooks")
    parser.add_argument(
        "--course", type=Path, default=root / "grader", help="nbgrader course folder (source/)"
    )
    parser.add_argument("--no-course", action="store_true", help="only the learner notebooks")
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    args = parser.parse_args(argv)
    course = None if args.no_course else args.course
    built, stale = plan(args.notebooks, course)
    changed = [b for b in built if not b.path.is_file() or b.path.read_text() != b.text]
    if args.check:
        for b in changed:
            print(f"out of date: {b.path}")
        for p in stale:
            print(f"stale: {p}")
        if changed or stale:
            print("run: python -m manrs_lab.notebook.build")
            return 1
        return 0
    for b in changed:
        b.path.parent.mkdir(parents=True, exist_ok=True)
        b.path.write_text(b.text)
        print(f"wrote {b.path}")
    if course is not None:
        for saved in (course / "source").glob(f"*/{SAVE_DIR}"):
            # Saved while someone ran a source notebook: nbgrader would release these files to
            # learners, and copy them over the learners' own at autograde.
            shutil.rmtree(saved)
            print(f"removed {saved}")
    for p in stale:
        p.unlink()
        print(f"removed {p} (its lab is gone)")
    if not changed and not stale:
        print("notebooks are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
