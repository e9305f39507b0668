"""Checks by name. `lab.yaml` names a check and gives its parameters; no eval anywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from manrs_lab.errors import LabError
from manrs_lab.spec.topology import Topology

if TYPE_CHECKING:
    from manrs_lab.grader.context import CheckContext


class CheckFailed(Exception):
    """A check's verdict: what was observed, in words a learner can act on.

    `final`: waiting cannot change it (nothing is configured that could still come up), so the
    check's `wait:` is not spent on it."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def router_names(self) -> list[str]:
        """Nodes the parameters name; the loader verifies they are routers of the topology."""
        return []


P = TypeVar("P", bound=Params)
CheckFn = Callable[["CheckContext", Any], str]


@dataclass(frozen=True)
class CheckDef:
    name: str
    fn: CheckFn
    params: type[Params]
    needs_probe: bool
    doc: str
    # A pass means the probe's routes were kept out: judged only if they could reach the learner
    refuses: bool = False


_CHECKS: dict[str, CheckDef] = {}


def check(
    name: str, params: type[P], *, needs_probe: bool = False, refuses: bool = False
) -> Callable[[Callable[[CheckContext, P], str]], Callable[[CheckContext, P], str]]:
    """Register a check: `fn(ctx, params) -> evidence`, raising CheckFailed on failure.

    `refuses`: the check passes when a probe's routes do not get through. The engine then
    also asks whether they could: a pass counts only if the learner's session with the
    probing neighbour stayed up and under its prefix limit (a limit that other leaked routes
    filled stops the probe whatever the filters say)."""

    def register(fn: Callable[[CheckContext, P], str]) -> Callable[[CheckContext, P], str]:
        if name in _CHECKS:
            raise LabError(f"check {name!r} is registered twice")
        _CHECKS[name] = CheckDef(name, fn, params, needs_probe, (fn.__doc__ or "").strip(), refuses)
        return fn

    return register


def get_check(name: str) -> CheckDef:
    _load_builtin_checks()
    try:
        return _CHECKS[name]
    except KeyError:
        raise LabError(f"unknown check {name!r}; known: {', '.join(sorted(_CHECKS))}") from None


def check_names() -> list[str]:
    _load_builtin_checks()
    return sorted(_CHECKS)


def validate_check_params(
    name: str, raw: dict[str, Any], topology: Topology, *, has_probe: bool
) -> list[str]:
    """Problems with a check's name, `with:` parameters or probe, as 'field: message' lines."""
    _load_builtin_checks()
    definition = _CHECKS.get(name)
    if definition is None:
        return [f"check: unknown check {name!r} (known: {', '.join(sorted(_CHECKS))})"]
    if definition.needs_probe and not has_probe:
        return [f"probe: check {name!r} grades what a probe does; give it `probe:`"]
    try:
        params = definition.params.model_validate(raw)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = "unknown parameter" if err["type"] == "extra_forbidden" else err["msg"]
            out.append(f"with.{loc}: {msg}")
        return out
    problems = []
    for node in params.router_names():
        topo_node = topology.nodes.get(node)
        if topo_node is None or not topo_node.role.is_router:
            problems.append(f"with: {node!r} is not a router of topology {topology.name!r}")
    return problems


def _load_builtin_checks() -> None:
    # Importing the package registers every check (its __init__ lists the modules). Not at the
    # top: checks use the running-lab layer, which imports the spec loader, which imports us.
    import manrs_lab.grader.checks  # noqa: F401, PLC0415
