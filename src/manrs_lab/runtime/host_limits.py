"""Kernel limits that all labs on a machine share, raised (never lowered) before a deploy.

The kernel's neighbour tables (ARP and IPv6 neighbour discovery) are one table each for every
network namespace on the machine, sized by the initial namespace's `gc_thresh*` sysctls: with
the default hard limit (1024 entries) some 120 capstone instances fill it, and the next labs'
routers cannot resolve each other ("neighbor table overflow", sessions stuck in Connect). A
capstone holds about 40 entries (both ends of every link, IPv4 and IPv6, link-local included).
In a container these sysctls are not there (only the host's namespace has them): nothing done.
"""

from __future__ import annotations

from pathlib import Path

from manrs_lab.progress import Progress

PROC_SYS_NET = Path("/proc/sys/net")
# Soft limit (above it the kernel collects entries older than 5 s) and hard limit.
NEIGHBOUR_ROOM = {"gc_thresh2": 16384, "gc_thresh3": 32768}


def ensure_neighbour_room(progress: Progress | None = None, base: Path = PROC_SYS_NET) -> list[str]:
    """Raise the neighbour tables' limits to NEIGHBOUR_ROOM where they are lower; returns what
    was raised, as `ipv4 gc_thresh3 1024 -> 32768`."""
    raised = []
    for family in ("ipv4", "ipv6"):
        for name, want in NEIGHBOUR_ROOM.items():
            path = base / family / "neigh" / "default" / name
            try:
                have = int(path.read_text().strip())
                if have < want:
                    path.write_text(f"{want}\n")
                    raised.append(f"{family} {name} {have} -> {want}")
            except (OSError, ValueError):
                continue  # not there (a container) or not ours to change: labs still deploy
    if raised and progress is not None:
        progress.step(
            "raised the kernel's neighbour table limits for many labs at once: " + ", ".join(raised)
        )
    return raised
