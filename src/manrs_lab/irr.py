"""`manrs-lab irr`: a prefix filter for an as-set, built by bgpq4 from a lab registry (IRRd).

A thin wrapper over bgpq4, as operators use it against a real IRR:

    manrs-lab irr --registry NAME --as-set AS-EDGE      the running lab registry NAME
    manrs-lab irr FILE --as-set AS-CONTENT              a registry loaded from an RPSL file,
                                                        started for this one query, then stopped

bgpq4 always runs inside the registry's namespace with `-h 127.0.0.1 -S LABIRR` (its default
server is a real one on the Internet: never asked). BIRD output (`-b`) is prefixed with
`define` so that it can be pasted into a BIRD config as it is; FRR gets bgpq4's prefix-list
(its Cisco format, which FRR reads).

Like bgpq4, a prefix set says which prefixes a neighbour may announce, not which AS may
originate each one: origin validation is RPKI's job.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from manrs_lab import irr_registry
from manrs_lab.errors import LabError
from manrs_lab.progress import Progress, SilentProgress

ASN_RE = re.compile(r"^AS(\d+)$", re.IGNORECASE)
# RPSL set names: an optional hierarchy (AS64500:AS-FOO), the set part starting with AS-.
AS_SET_RE = re.compile(r"^(?:AS\d+:)*AS-[A-Z0-9_-]+(?::AS-[A-Z0-9_-]+)*$", re.IGNORECASE)
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
FORMATS = ("bird", "frr")
MAX_ASN = 2**32 - 1


class IrrError(LabError):
    """The request cannot be turned into a filter."""


def set_name(as_set: str) -> str:
    """A filter name from an as-set name, as BIRD and FRR accept it: AS-FOO -> AS_FOO."""
    return re.sub(r"[^A-Za-z0-9_]", "_", as_set.rsplit(":", maxsplit=1)[-1]).upper()


def bgpq4_args(
    as_set: str,
    *,
    fmt: str = "bird",
    name: str | None = None,
    version: int = 4,
    max_length: int | None = None,
) -> list[str]:
    """bgpq4's arguments for the request, checked first (nothing reaches bgpq4 unchecked)."""
    if fmt not in FORMATS:
        raise IrrError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    asn = ASN_RE.match(as_set)
    if not (AS_SET_RE.match(as_set) or (asn and int(asn.group(1)) <= MAX_ASN)):
        raise IrrError(f"--as-set {as_set!r}: an as-set name (AS-FOO, AS64500:AS-FOO) or ASn")
    if version not in (4, 6):
        raise IrrError(f"IP version {version}: 4 or 6")
    top = 32 if version == 4 else 128
    if max_length is not None and not 0 <= max_length <= top:
        family = "IPv4" if version == 4 else "IPv6"
        raise IrrError(f"--max-length {max_length}: an {family} prefix is /0 to /{top}")
    filter_name = name or set_name(as_set)
    if not NAME_RE.match(filter_name):
        raise IrrError(f"--name {filter_name!r}: letters, digits, _ and -, starting with a letter")
    args = ["-6" if version == 6 else "-4", "-l", filter_name]
    if fmt == "bird":
        args.append("-b")
    if max_length is not None:
        args += ["-R", str(max_length)]
    return [*args, as_set]


def has_prefixes(output: str) -> bool:
    """bgpq4 found prefixes (for an unknown or empty set it prints an empty list, or a deny)."""
    return any("/" in line and "deny" not in line for line in output.splitlines())


def from_registry(
    registry: str,
    as_set: str,
    *,
    fmt: str = "bird",
    name: str | None = None,
    version: int = 4,
    max_length: int | None = None,
) -> str:
    """The filter for `as_set` from the running lab registry `registry` (bgpq4's output)."""
    args = bgpq4_args(as_set, fmt=fmt, name=name, version=version, max_length=max_length)
    output = irr_registry.bgpq4(registry, args)
    if not has_prefixes(output):
        kind = "route6" if version == 6 else "route"
        raise IrrError(
            f"{as_set}: bgpq4 found no {kind} objects (is the as-set registered, with members "
            f"that have {kind} objects?)"
        )
    if fmt == "bird" and not output.lstrip().startswith("define "):
        output = "define " + output.lstrip()
    return output


def check_file(path: Path) -> None:
    """An RPSL file that can be loaded: readable and UTF-8 (a clear error otherwise)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IrrError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IrrError(f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8") from None


def build_filter(
    path: Path,
    as_set: str,
    *,
    fmt: str = "bird",
    name: str | None = None,
    version: int = 4,
    max_length: int | None = None,
    progress: Progress | None = None,
) -> str:
    """The filter for `as_set` from the RPSL file at `path`: a registry loaded from the file is
    started for this query (a few seconds), asked by bgpq4, and stopped."""
    bgpq4_args(as_set, fmt=fmt, name=name, version=version, max_length=max_length)
    check_file(path)
    registry = f"irr-file-{os.getpid()}"
    irr_registry.start(registry, data=path, progress=progress or SilentProgress())
    try:
        return from_registry(
            registry, as_set, fmt=fmt, name=name, version=version, max_length=max_length
        )
    except IrrError as exc:
        raise IrrError(f"{path}: {exc}") from None
    finally:
        irr_registry.stop(registry)


class StderrProgress:
    """Progress on stderr, so that stdout stays the filter (for `> file`)."""

    def step(self, message: str) -> None:
        sys.stderr.write(f"... {message}\n")

    def node(self, node: str, state: str) -> None:
        sys.stderr.write(f"... {node}: {state}\n")
