"""Every check module, imported so that its checks register. Add new modules here."""

from manrs_lab.grader.checks import (
    bgp,
    bogons,
    hijack,
    leaks,
    policy,
    registry_objects,
    routeserver,
    rpki,
    traffic,
)

__all__ = [
    "bgp",
    "bogons",
    "hijack",
    "leaks",
    "policy",
    "registry_objects",
    "routeserver",
    "rpki",
    "traffic",
]
