"""Every check module, imported so that its checks register. Add new modules here."""

from manrs_lab.grader.checks import (
    bgp,
    bogons,
    contacts,
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
    "contacts",
    "hijack",
    "leaks",
    "policy",
    "registry_objects",
    "routeserver",
    "rpki",
    "traffic",
]
