"""Runtimes by name: an explicit registry that refuses duplicates and lists known names."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from manrs_lab.errors import LabError
from manrs_lab.runtime.base import Runtime
from manrs_lab.runtime.containerlab import ContainerlabRuntime
from manrs_lab.runtime.netns import NetnsRuntime
from manrs_lab.spec.loader import Lab

RuntimeFactory = Callable[[Lab], Runtime]
_RUNTIMES: dict[str, RuntimeFactory] = {}
DEFAULT_RUNTIME = "netns"
# The server-wide default for notebooks (`Lab(...)` without `runtime=`): a workshop that runs
# its labs with containerlab sets MANRS_LAB_RUNTIME=containerlab for every kernel.
RUNTIME_ENV = "MANRS_LAB_RUNTIME"


def register_runtime(name: str, factory: RuntimeFactory) -> None:
    if name in _RUNTIMES:
        raise LabError(f"runtime {name!r} is registered twice")
    _RUNTIMES[name] = factory


def runtime_names() -> list[str]:
    return sorted(_RUNTIMES)


def choose_runtime(explicit: str | None = None) -> str:
    """The runtime a notebook's lab uses: `explicit` if given (a LabError if unknown); else
    $MANRS_LAB_RUNTIME, except that containerlab falls back to netns where its binary is not
    installed (the default stays usable on a machine without it); else netns."""
    if explicit is not None:
        if explicit not in _RUNTIMES:
            known = ", ".join(runtime_names())
            raise LabError(f"unknown runtime {explicit!r}; known runtimes: {known}")
        return explicit
    wanted = os.environ.get(RUNTIME_ENV, "").strip()
    if not wanted:
        return DEFAULT_RUNTIME
    if wanted not in _RUNTIMES:
        known = ", ".join(runtime_names())
        raise LabError(f"${RUNTIME_ENV}={wanted!r} is not a runtime; known runtimes: {known}")
    if wanted == "containerlab" and shutil.which("containerlab") is None:
        return DEFAULT_RUNTIME
    return wanted


def make_runtime(name: str, lab: Lab) -> Runtime:
    try:
        factory = _RUNTIMES[name]
    except KeyError:
        raise LabError(
            f"unknown runtime {name!r}; known runtimes: {', '.join(runtime_names())}"
        ) from None
    return factory(lab)


register_runtime("netns", NetnsRuntime)
register_runtime("containerlab", ContainerlabRuntime)
