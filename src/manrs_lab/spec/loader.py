"""Find and load labs: `lab.yaml` + its topology + its files, checked across files."""

from __future__ import annotations

import hashlib
import re
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from manrs_lab.errors import LabError, SpecError
from manrs_lab.grader.registry import get_check, validate_check_params
from manrs_lab.paths import labs_dir
from manrs_lab.spec.lab import LabSpecFile
from manrs_lab.spec.topology import Node, Role, Topology, load_topology
from manrs_lab.spec.validation import format_validation_error
from manrs_lab.spec.yaml_files import load_yaml_file, utf8_problem

NEEDS_CONFIG = {Role.FRR, Role.BIRD, Role.RTR}


@dataclass(frozen=True)
class Lab:
    """A lab as loaded from disk: its spec, topology and the files it points at."""

    spec: LabSpecFile
    folder: Path
    topology: Topology

    @property
    def id(self) -> str:
        return self.spec.id

    def config_path(self, node: str) -> Path | None:
        files = self.spec.nodes.get(node)
        return self.folder / files.config if files else None

    def solution_path(self, node: str) -> Path:
        return self.folder / self.spec.solution[node]

    @property
    def registry_data(self) -> Path | None:
        """The RPSL file the lab's registry starts with; None: the lab has no registry."""
        if self.spec.registry is None:
            return None
        return self.folder / self.spec.registry.data

    @property
    def staged(self) -> bool:
        """Tasks are successive states, each with its own solution (see `Task.solution`)."""
        return any(task.solution for task in self.spec.tasks)

    def task_solution_paths(self, task_id: str) -> dict[str, Path]:
        task = next(t for t in self.spec.tasks if t.id == task_id)
        return {node: self.folder / rel for node, rel in task.solution.items()}


def lab_ids() -> list[str]:
    root = labs_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "lab.yaml").is_file())


def find_lab_file(lab: str) -> Path:
    """A lab id (`customer-filtering`) or a path to a lab folder or its lab.yaml."""
    candidate = Path(lab)
    if candidate.is_file():
        return candidate
    if (candidate / "lab.yaml").is_file():
        return candidate / "lab.yaml"
    path = labs_dir() / lab / "lab.yaml"
    if not path.is_file():
        known = ", ".join(lab_ids()) or "none"
        raise SpecError(path, [f"no lab {lab!r} (known labs: {known})"])
    return path


# A notebook kernel checks the same lab again and again: parsing and validating the capstone's
# YAML is a tenth of a check's CPU. A loaded lab is kept while none of the files it was made
# from changed: its folder's, its topology file, and the files it names outside its folder (a
# variant's shared configs).
_cache_guard = threading.Lock()
_cache: dict[Path, tuple[tuple[Path, ...], tuple[tuple[str, str], ...], Lab]] = {}
_named_files: ContextVar[list[Path] | None] = ContextVar("_named_files", default=None)


def _signature(folder: Path, extra: tuple[Path, ...]) -> tuple[tuple[str, str], ...]:
    """Path and content digest of every file under `folder` and of each of `extra` (content,
    not mtime: a file rewritten within the clock's tick is still seen; reading them costs well
    under a millisecond, parsing them is what is saved)."""
    paths = sorted(p for p in folder.rglob("*") if not p.is_dir()) + list(extra)
    seen = []
    for path in paths:
        try:
            digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        except OSError:
            digest = "-"
        seen.append((str(path), digest))
    return tuple(seen)


def load_lab(lab: str) -> Lab:
    """The lab `lab` names (see find_lab_file), validated; the same object again while none of
    the files it was made from changed."""
    given = find_lab_file(lab)
    path = given.resolve()
    with _cache_guard:
        cached = _cache.get(path)
    if cached is not None and cached[1] == _signature(path.parent, cached[0]):
        return cached[2]
    named: list[Path] = []
    token = _named_files.set(named)
    try:
        before = _signature(path.parent, ())
        loaded = _load_lab(given)
    finally:
        _named_files.reset(token)
    topology = path.parent.parent.parent / "topologies" / f"{loaded.spec.topology}.clab.yml"
    extra: tuple[Path, ...] = (topology,)
    extra += tuple(p for p in dict.fromkeys(named) if not p.is_relative_to(path.parent))
    signature = _signature(path.parent, extra)
    if signature[: len(before)] == before:  # nothing changed while it loaded
        with _cache_guard:
            _cache[path] = (extra, signature, loaded)
    return loaded


def _load_lab(path: Path) -> Lab:
    raw: Any = load_yaml_file(path)
    try:
        spec = LabSpecFile.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(path, format_validation_error(exc)) from exc
    folder = path.parent.resolve()
    # A lab folder finds its topology in its own content root (labs/<id>/ -> topologies/), so
    # a checkout, a copy, or test content elsewhere all resolve alike.
    topo_path = folder.parent.parent / "topologies" / f"{spec.topology}.clab.yml"
    if not NAME_RE.fullmatch(spec.topology):
        raise SpecError(path, [f"topology: {spec.topology!r} is not a topology name"])
    if not topo_path.is_file():
        raise SpecError(path, [f"topology: {topo_path} does not exist"])
    topology = load_topology(topo_path)
    problems = _cross_check(spec, folder, topology)
    if problems:
        raise SpecError(path, problems)
    return Lab(spec=spec, folder=folder, topology=topology)


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Check parameters that name nodes (`with:`), checked against the topology beyond the routers
# each check's `router_names` lists: a misspelt host or observer fails at `lint`, not `check`.
NODE_FIELDS = frozenset(
    {
        "cache",
        "ends_at",
        "host",
        "leakers",
        "neighbour",
        "node",
        "nodes",
        "observer",
        "observers",
        "receiver",
        "receivers",
        "router",
        "routers",
        "sender",
    }
)


def lab_file_problem(folder: Path, rel: str, where: str) -> str | None:
    """A file a lab names: relative, inside the lab's folder (or a sibling lab's, whose configs
    a variant of it shares: `../manrs-capstone/configs/...`), a UTF-8 text file."""
    if Path(rel).is_absolute():
        return f"{where}: {rel!r} is an absolute path; name a file inside the lab folder"
    target = (folder / rel).resolve()
    named = _named_files.get()
    if named is not None:
        named.append(target)
    labs = folder.parent
    if not target.is_relative_to(labs) or target.parent == labs:
        return f"{where}: {rel!r} is outside the lab folder {folder}"
    if not target.is_file():
        return f"{where}: {folder / rel} does not exist"
    try:
        data = target.read_bytes()
    except OSError as exc:
        return f"{where}: {folder / rel}: cannot read: {exc.strerror or exc}"
    problem = utf8_problem(data)
    if problem is not None:
        return f"{where}: {folder / rel}: {problem}"
    return None


def _named_nodes(value: object, key: str | None = None) -> list[tuple[str, str]]:
    """(field path, node name) for every NODE_FIELDS value inside validated check params."""
    found: list[tuple[str, str]] = []
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            sub = getattr(value, name)
            for path, node in _named_nodes(sub, name):
                found.append(
                    (
                        f"{name}{path}"
                        if path.startswith("[")
                        else f"{name}.{path}"
                        if path
                        else name,
                        node,
                    )
                )
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            for path, node in _named_nodes(item, key):
                found.append(
                    (f"[{i}]{'.' + path if path and not path.startswith('[') else path}", node)
                )
    elif isinstance(value, str) and key in NODE_FIELDS:
        found.append(("", value))
    return found


def _check_nodes(check: Any, topology: Topology) -> list[str]:
    """Node names in a check's `with:` that the topology does not have."""
    try:
        params = get_check(check.check).params.model_validate(check.params)
    except (LabError, ValidationError):
        return []  # reported by validate_check_params
    return [
        f"with.{path}: no node {node!r} in topology {topology.name!r}"
        for path, node in _named_nodes(params)
        if node not in topology.nodes
    ]


def _cross_check(spec: LabSpecFile, folder: Path, topology: Topology) -> list[str]:
    problems: list[str] = []
    if folder.name != spec.id:
        problems.append(f"id: {spec.id!r} differs from the lab's folder name {folder.name!r}")
    nodes = topology.nodes
    for name, node in nodes.items():
        if node.role in NEEDS_CONFIG and name not in spec.nodes:
            problems.append(f"nodes: {name} ({node.role}) needs a starting config")
    for name, files in spec.nodes.items():
        if name not in nodes:
            problems.append(f"nodes.{name}: not a node of topology {topology.name!r}")
        problem = lab_file_problem(folder, files.config, f"nodes.{name}.config")
        if problem is not None:
            problems.append(problem)
        elif name in nodes:
            problems.extend(
                _startup_bind_problem(name, nodes[name], folder / files.config, topology)
            )
    learner = nodes.get(spec.learner)
    if learner is None or not learner.role.is_router:
        problems.append(f"learner: {spec.learner!r} is not a router of the topology")
    for name, rel in spec.solution.items():
        if name not in spec.nodes:
            problems.append(f"solution.{name}: not a node with a config")
        elif (problem := lab_file_problem(folder, rel, f"solution.{name}")) is not None:
            problems.append(problem)

    if spec.registry is not None:
        rel = spec.registry.data
        problem = lab_file_problem(folder, rel, "registry.data")
        if problem is None and not (folder / rel).resolve().is_relative_to(folder):
            problem = f"registry.data: {rel!r} is outside the lab folder {folder}"
        mntner = spec.registry.learner_mntner
        if problem is None and mntner is not None:
            text = (folder / rel).read_text(errors="replace")
            if not re.search(rf"^mntner:[ \t]*{re.escape(mntner)}[ \t]*$", text, re.M | re.I):
                problem = f"registry.learner_mntner: {rel} holds no mntner {mntner}"
        if problem is not None:
            problems.append(problem)

    task_ids = [t.id for t in spec.tasks]
    if len(set(task_ids)) != len(task_ids):
        problems.append("tasks: task ids must be unique")
    staged = [t for t in spec.tasks if t.solution]
    if staged and len(staged) != len(spec.tasks):
        problems.append("tasks: give every task a `solution` or none (a staged lab has one each)")
    for task in staged:
        for name, rel in task.solution.items():
            where = f"tasks.{task.id}.solution.{name}"
            if name not in spec.nodes:
                problems.append(f"{where}: not a node with a config")
            elif (problem := lab_file_problem(folder, rel, where)) is not None:
                problems.append(problem)
    problems += _checks_problems(spec, topology, task_ids)
    for task in spec.tasks:
        if not any(c.task == task.id for c in spec.checks):
            problems.append(f"tasks.{task.id}: no check grades this task")
    for j, route in enumerate(spec.converged.routes):
        if route.node not in nodes:
            problems.append(f"converged.routes[{j}].node: no node {route.node!r}")
        elif not nodes[route.node].role.is_router:
            problems.append(f"converged.routes[{j}].node: {route.node!r} is not a router")
    return problems


def _startup_bind_problem(name: str, node: Node, config: Path, topology: Topology) -> list[str]:
    """The topology file binds a node's starting config (for `containerlab deploy -t`): it must
    be the very file lab.yaml names, so there is one source of truth."""
    bound = node.startup_bind(topology.path.parent)
    if bound is None or bound == config.resolve():
        return []
    return [
        f"nodes.{name}.config: {config} differs from the file topology {topology.path.name} binds "
        f"for {name} ({bound}): bind the same file"
    ]


def _checks_problems(spec: LabSpecFile, topology: Topology, task_ids: list[str]) -> list[str]:
    problems: list[str] = []
    nodes = topology.nodes
    seen: set[str] = set()
    for i, check in enumerate(spec.checks):
        where = f"checks[{i}] ({check.id})"
        if check.id in seen:
            problems.append(f"{where}.id: used twice")
        if check.task is not None and check.task not in task_ids:
            problems.append(f"{where}.task: no task {check.task!r}")
        for field_name, refs in (("requires", check.requires), ("after", check.after)):
            problems.extend(
                f"{where}.{field_name}: {ref!r} is not an earlier check"
                for ref in refs
                if ref not in seen
            )
        seen.add(check.id)
        if check.probe is not None:
            probe_node = nodes.get(check.probe.announce.node)
            if probe_node is None or not probe_node.role.is_router:
                problems.append(f"{where}.probe.announce.node: not a router of the topology")
        param_problems = validate_check_params(
            check.check, check.params, topology, has_probe=check.probe is not None
        )
        if not param_problems:
            param_problems = _check_nodes(check, topology)
        problems.extend(f"{where}.{msg}" for msg in param_problems)
    return problems or _hidden_probe_problems(spec)


def _observers(check: Any) -> set[str]:
    return set(get_check(check.check).params.model_validate(check.params).router_names())


def _hidden_probe_problems(spec: LabSpecFile) -> list[str]:
    """Two checks that may run at once, announcing one fixed prefix from two nodes, and graded
    only at routers past the learner: a router there passes on one best path per prefix (a
    route server does), so one probe's route can hide the other's leak. The learner's own
    router lists every path it accepted, so checks it observes are safe."""
    # (index, check, node, its fixed prefixes, whether the learner observes it), once each
    probing = [
        (i, c, c.probe.announce.node, fixed, spec.learner in _observers(c))
        for i, c in enumerate(spec.checks)
        if c.probe is not None
        and not c.probe.exclusive
        and (fixed := {p for p in c.probe.announce.prefixes if isinstance(p, str)})
    ]
    waits = {c.id: set(c.requires) | set(c.after) for c in spec.checks}

    def ordered(first: str, later: str) -> bool:
        seen, stack = set(), [later]
        while stack:
            for dep in waits.get(stack.pop(), ()):
                if dep == first:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return False

    problems = []
    for n, (i, a, node_a, fixed_a, seen_a) in enumerate(probing):
        for j, b, node_b, fixed_b, seen_b in probing[n + 1 :]:
            # one router, one route (the engine shares it); or the learner lists every path
            if node_a == node_b or (seen_a and seen_b) or not fixed_a & fixed_b:
                continue
            if ordered(a.id, b.id) or ordered(b.id, a.id):
                continue
            problems.append(
                f"checks[{j}] ({b.id}).probe: announces {', '.join(sorted(fixed_a & fixed_b))} "
                f"from {node_b} while checks[{i}] ({a.id}) may announce it from {node_a}, and "
                f"one of them is graded only past {spec.learner}, where one best path per "
                f"prefix can hide the other's leak: give it `after: [{a.id}]` or "
                "`exclusive: true`"
            )
    return problems
