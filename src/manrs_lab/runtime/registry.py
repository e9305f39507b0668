"""Runtimes by name: an explicit registry that refuses duplicates and lists known names."""

from __future__ import annotations

from collections.abc import Callable

from manrs_lab.errors import LabError
from manrs_lab.runtime.base import Runtime
from manrs_lab.runtime.containerlab import ContainerlabRuntime
from manrs_lab.runtime.netns import NetnsRuntime
from manrs_lab.spec.loader import Lab

RuntimeFactory = Callable[[Lab], Runtime]
_RUNTIMES: dict[str, RuntimeFactory] = {}
DEFAULT_RUNTIME = "netns"


def register_runtime(name: str, factory: RuntimeFactory) -> None:
    if name in _RUNTIMES:
        raise LabError(f"runtime {name!r} is registered twice")
    _RUNTIMES[name] = factory


def runtime_names() -> list[str]:
    return sorted(_RUNTIMES)


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
