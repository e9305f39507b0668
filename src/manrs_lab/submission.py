"""A submission's saved router configurations, read as data by the grading machine.

Everything under `<notebook-dir>/.manrs-lab/<lab>/` came from a learner and is hostile until
checked. This module is the only reader the grader uses:
- files: regular files only (no symlinks, devices, FIFOs, hard links), opened without following
  links, at most `MAX_FILE_BYTES`, UTF-8 text without control characters, with names from the
  lab's own editable nodes (`<node>.conf`, `<node>.nft`, `<node>.sysctl`) and, in a staged lab,
  `tasks/<task>/`; anything else is refused, naming the file;
- FRR configs: lines that leave configuration mode, run a shell or another program, or touch
  the file system (`do`, `start-shell`, `write`, `log file`, `dump`, ...) are refused;
- BIRD configs: statements that read or write files (`include`, `log "file"`, `mrtdump`, MRT
  protocols, RPKI over SSH with key files) are refused;
- packet filters: an nftables ruleset of `table` blocks only (no `include`, no `define`, not the
  grader's own counting tables) and sysctl values from an allow-list (`rp_filter` and friends).
A refused line or statement is left out and the rest is graded, so a submission is graded as if
its forged part were absent; every refusal says which file and why.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from manrs_lab.spec.loader import Lab as LoadedLab
from manrs_lab.spec.topology import Role

SAVE_DIR = ".manrs-lab"
TASKS_DIR = "tasks"
MAX_FILE_BYTES = 256 * 1024
CONFIG_SUFFIX = ".conf"
NFT_SUFFIX = ".nft"
SYSCTL_SUFFIX = ".sysctl"
LEGACY_FILTER_SUFFIX = ".filter.sh"
REGISTRY_FILE = "registry.rpsl"  # the learner maintainer's registry objects (registry_replay)
RESERVED_NFT_TABLES = ("manrs_count",)  # the grader's counting tables (host.py, policy.py)
NFT_FAMILIES = frozenset({"ip", "ip6", "inet", "arp", "bridge", "netdev"})
SYSCTL_KEYS = frozenset({"rp_filter", "accept_source_route", "accept_redirects", "send_redirects"})
_SYSCTL_RE = re.compile(
    r"^net[./]ipv4[./]conf[./](?P<iface>[A-Za-z0-9_-]{1,15})[./](?P<key>[a-z_]+)$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# FRR: first words (after an optional `no`) never accepted in a submitted config. They leave
# configuration mode or act on the machine: programs (`start-shell`, `ping`, `ssh`, ...),
# files (`write`, `copy`, `dump`, `banner motd file`, `log file`), scripts, SNMP, other netns.
_FRR_DENIED = frozenset(
    {
        "do", "start-shell", "write", "copy", "configure", "terminal", "show", "clear", "ping",
        "traceroute", "mtrace", "ssh", "telnet", "quit", "enable", "disable", "list", "find",
        "echo", "watchfrr", "dump", "agentx", "script", "netns", "file", "rpki-cache-ssh",
        "logmsg", "vtysh",
    }
)  # fmt: skip
# `|` pipes vtysh output to a shell command; only these lines (regular expressions) may hold it.
_FRR_REGEX_LINES = ("bgp as-path access-list", "bgp community-list", "bgp large-community-list",
                    "bgp extcommunity-list", "ip as-path access-list")  # fmt: skip
_FRR_RPKI_CACHE = re.compile(r"^rpki cache \S+ \d+( preference \d+)?$")

# BIRD: keywords whose statement reads or writes files.
_BIRD_DENIED = frozenset({"include", "mrtdump", "mrt", "filename", "ssh", "private", "public"})
_BIRD_TOKEN = re.compile(
    r'(?P<comment>#[^\n]*|/\*.*?\*/)|(?P<string>"[^"\n]*")|(?P<word>[A-Za-z_][A-Za-z0-9_]*)'
    r"|(?P<punct>[{};])|(?P<other>\S)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Refusal:
    """Part of a submission the grader did not use, and why."""

    file: str  # relative to the lab's save folder, printable
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass(frozen=True)
class PacketFilter:
    """A node's packet filtering: an nftables ruleset and sysctl settings, both data."""

    ruleset: str | None = None
    sysctls: tuple[tuple[str, str, int], ...] = ()  # (interface, key, value)

    @property
    def empty(self) -> bool:
        return self.ruleset is None and not self.sysctls


@dataclass
class Submission:
    """What the grader replays: accepted configs and filters per node, and what it refused."""

    folder: str
    configs: dict[str, str] = field(default_factory=dict)
    filters: dict[str, PacketFilter] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)

    def refuse(self, file: str, reason: str) -> None:
        self.refused.append(Refusal(file, reason))


def editable_nodes(lab: LoadedLab) -> list[str]:
    """Nodes whose configuration is the learner's work: saved, and replayed when grading.

    Only these: replaying a neighbour's configuration from a submission would let it change
    what the grader observes.
    """
    nodes = [lab.spec.learner, *lab.spec.solution]
    return [n for n in dict.fromkeys(nodes) if n in lab.spec.nodes]


def printable(name: str | bytes, limit: int = 60) -> str:
    """A file name as it may be shown in a grade cell: escaped, no control characters, short."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    text = raw.decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- reading files safely ---------------------------------------------------------------------
class _Unsafe(Exception):
    """A path that is not a plain directory or regular file."""


def _open_dir(parent_fd: int | None, path: str | Path) -> int:
    """A directory opened without following a symbolic link at its last component."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _Unsafe("is not a folder (a symbolic link or a file)") from exc
        raise


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _read_text(dir_fd: int, name: str) -> str:
    """A regular file's text; _Unsafe (with the reason) for anything else or anything odd."""
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        raise _Unsafe(f"is {_kind(info.st_mode)}, not a regular file")
    if info.st_nlink > 1:
        raise _Unsafe("is a hard link to another file")
    if info.st_size > MAX_FILE_BYTES:
        raise _Unsafe(f"is {info.st_size} bytes (at most {MAX_FILE_BYTES})")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            info.st_dev,
            info.st_ino,
        ):
            raise _Unsafe("changed while it was read")
        data = b""
        while len(data) <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise _Unsafe(f"is more than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unsafe(f"is not UTF-8 text (byte {data[exc.start]:#04x} at {exc.start})") from exc
    bad = _CONTROL.search(text)
    if bad:
        raise _Unsafe(f"holds a control character ({ord(bad.group()):#04x} at {bad.start()})")
    return text


def read_submission(lab: LoadedLab, notebook_dir: Path, task: str | None = None) -> Submission:
    """The accepted parts of what a submission saved for `lab` (a staged lab: for `task`)."""
    rel = f"{SAVE_DIR}/{lab.id}" + (f"/{TASKS_DIR}/{task}" if task else "")
    sub = Submission(folder=rel)
    fds: list[int] = []
    try:
        try:
            fds.append(_open_dir(None, notebook_dir))
            for part in rel.split("/"):
                fds.append(_open_dir(fds[-1], part))
        except FileNotFoundError:
            return sub
        except _Unsafe as exc:
            sub.refuse(rel, f"{exc}: nothing in it was read")
            return sub
        _read_folder(lab, fds[-1], sub, staged=task is None and lab.staged)
    finally:
        for fd in fds:
            os.close(fd)
    return sub


def saves_registry(lab: LoadedLab) -> bool:
    """The lab's registry objects are the learner's work too (lab.yaml names its maintainer)."""
    return lab.spec.registry is not None and lab.spec.registry.learner_mntner is not None


def read_registry_text(lab: LoadedLab, notebook_dir: Path) -> tuple[str | None, list[Refusal]]:
    """The saved registry objects' text (None: not saved), read as safely as the configs (a
    regular file, no link, at most MAX_FILE_BYTES of UTF-8 without control characters)."""
    rel = f"{SAVE_DIR}/{lab.id}"
    shown = f"{rel}/{REGISTRY_FILE}"
    fds: list[int] = []
    try:
        try:
            fds.append(_open_dir(None, notebook_dir))
            for part in rel.split("/"):
                fds.append(_open_dir(fds[-1], part))
            return _read_text(fds[-1], REGISTRY_FILE), []
        except FileNotFoundError:
            return None, []
        except _Unsafe as exc:
            return None, [Refusal(shown, f"refused: it {exc}")]
        except OSError as exc:
            return None, [Refusal(shown, f"refused: could not be read ({exc.strerror})")]
    finally:
        for fd in fds:
            os.close(fd)


def _read_folder(lab: LoadedLab, dir_fd: int, sub: Submission, *, staged: bool) -> None:
    nodes = editable_nodes(lab)
    roles = {n: lab.topology.nodes[n].role for n in nodes}
    with os.scandir(dir_fd) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        shown = f"{sub.folder}/{printable(name)}"
        node, dot, suffix = name.partition(".")
        suffix = dot + suffix
        if name == TASKS_DIR and staged:
            continue  # snapshots per task: read when that task is graded
        if name.startswith(".") and name.endswith(".tmp"):
            continue  # an interrupted save's leftover (save_configs writes through a .tmp)
        if name == REGISTRY_FILE and saves_registry(lab):
            continue  # read by read_registry_text
        if node not in roles or suffix not in (
            CONFIG_SUFFIX,
            NFT_SUFFIX,
            SYSCTL_SUFFIX,
            LEGACY_FILTER_SUFFIX,
        ):
            known = ", ".join(f"{n}{CONFIG_SUFFIX}" for n in nodes)
            sub.refuse(shown, f"not a file the grader reads (it reads {known} and filters)")
            continue
        if suffix == LEGACY_FILTER_SUFFIX:
            sub.refuse(
                shown,
                "shell scripts are never run when grading: packet filters are replayed from "
                f"{node}{NFT_SUFFIX} (nftables) and {node}{SYSCTL_SUFFIX}; check again, resubmit",
            )
            continue
        if suffix in (NFT_SUFFIX, SYSCTL_SUFFIX) and not roles[node].is_router:
            sub.refuse(shown, f"{node} is a {roles[node]} node: it has no packet filters")
            continue
        try:
            text = _read_text(dir_fd, name)
        except _Unsafe as exc:
            sub.refuse(shown, f"refused: it {exc}")
            continue
        except OSError as exc:
            sub.refuse(shown, f"refused: could not be read ({exc.strerror})")
            continue
        if suffix == CONFIG_SUFFIX:
            sub.configs[node] = accept_config(roles[node], text, shown, sub)
        elif suffix == NFT_SUFFIX:
            old = sub.filters.get(node, PacketFilter())
            ruleset = accept_nft(text, shown, sub)
            sub.filters[node] = PacketFilter(ruleset, old.sysctls)
        else:
            ifaces = {"all", "default", "lo"} | {
                local.iface for local, _ in lab.topology.links_of(node)
            }
            old = sub.filters.get(node, PacketFilter())
            sub.filters[node] = PacketFilter(old.ruleset, accept_sysctls(text, ifaces, shown, sub))


# -- content checks ---------------------------------------------------------------------------
def accept_config(role: Role, text: str, shown: str, sub: Submission) -> str:
    if role is Role.FRR:
        return accept_frr(text, shown, sub)
    if role is Role.BIRD:
        return accept_bird(text, shown, sub)
    return text  # RTR: a JSON VRP file, checked by the runtime (daemons.check_vrps)


def _frr_problem(line: str, last: bool) -> str | None:
    words = line.split()
    first = words[1] if words[0] == "no" and len(words) > 1 else words[0]
    first = first.lower()
    if first in _FRR_DENIED:
        return f"`{first}` is not a configuration statement the grader runs"
    if first == "end" and not last:
        return "`end` before the end of the configuration"
    if first == "log" and len(words) > 1 and words[1] in ("file", "syslog", "monitor"):
        return f"`log {words[1]}` writes outside the lab"
    if first == "banner":
        return "`banner` is not replayed"
    if words[0] in ("match", "set", "call") and "script" in words:
        return "scripts are not run"
    rpki_cache = words[0] == "rpki" and len(words) > 1 and words[1] == "cache"
    if rpki_cache and not _FRR_RPKI_CACHE.match(" ".join(words)):
        return "only `rpki cache ADDRESS PORT preference N` (no SSH keys)"
    if "|" in line and not " ".join(words).startswith(_FRR_REGEX_LINES):
        return "`|` runs a shell command in vtysh"
    return None


def accept_frr(text: str, shown: str, sub: Submission) -> str:
    """The FRR config without lines that leave configuration mode or act on the machine."""
    lines = text.splitlines()
    statements = [i for i, ln in enumerate(lines) if ln.strip() and ln.strip()[0] not in "!#"]
    last = statements[-1] if statements else -1
    kept = []
    for i, line in enumerate(lines):
        problem = _frr_problem(line.strip(), i == last) if i in statements else None
        if problem is None:
            kept.append(line)
        else:
            sub.refuse(shown, f"line {i + 1} left out: {problem}")
            kept.append("!")
    return "\n".join(kept).rstrip() + "\n"


def _bird_statement(tokens: list[tuple[str, str, int, int]], at: int) -> tuple[int, int]:
    """(start, end) character span of the statement holding token `at`: back to the previous
    `;`, `{` or `}` at its depth, forward to its `;` (or the `}` closing a block it opens)."""
    start_tok = at
    depth = 0
    while start_tok > 0:
        kind, value = tokens[start_tok - 1][0], tokens[start_tok - 1][1]
        if kind == "punct":
            if value == "}":
                depth += 1
            elif value == "{":
                if depth == 0:
                    break
                depth -= 1
            elif value == ";" and depth == 0:
                break
        start_tok -= 1
    end_tok = at
    depth = 0
    while end_tok < len(tokens):
        kind, value = tokens[end_tok][0], tokens[end_tok][1]
        if kind == "punct":
            if value == "{":
                depth += 1
            elif value == "}":
                if depth == 0:
                    end_tok -= 1
                    break
                depth -= 1
                if depth == 0:
                    nxt = tokens[end_tok + 1] if end_tok + 1 < len(tokens) else None
                    if nxt is not None and nxt[1] == ";":
                        end_tok += 1
                    break
            elif value == ";" and depth == 0:
                break
        end_tok += 1
    end_tok = min(end_tok, len(tokens) - 1)
    return tokens[start_tok][2], tokens[end_tok][3]


def accept_bird(text: str, shown: str, sub: Submission) -> str:
    """bird.conf without statements that read or write files (blanked, line numbers kept)."""
    tokens = [
        (m.lastgroup or "other", m.group(), m.start(), m.end())
        for m in _BIRD_TOKEN.finditer(text)
        if m.lastgroup != "comment"
    ]
    spans: list[tuple[int, int, str]] = []
    for i, (kind, value, _start, _end) in enumerate(tokens):
        if kind != "word":
            continue
        word = value.lower()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        reason = None
        if word in _BIRD_DENIED:
            reason = f"`{value}` reads or writes files"
        elif word == "log" and nxt is not None and nxt[0] == "string":
            reason = "`log` to a file"
        if reason is not None:
            start, end = _bird_statement(tokens, i)
            if not any(s <= start and end <= e for s, e, _ in spans):
                spans.append((start, end, reason))
    out = text
    for start, end, reason in sorted(spans, reverse=True):
        line = text.count("\n", 0, start) + 1
        sub.refuse(shown, f"statement at line {line} left out: {reason}")
        out = out[:start] + re.sub(r"[^\n]", " ", out[start:end]) + out[end:]
    return out


def accept_nft(text: str, shown: str, sub: Submission) -> str | None:
    """An nftables ruleset of `table FAMILY NAME { ... }` blocks (what `nft list ruleset`
    prints); tables with another shape, `include`/`define` or a grader table are left out."""
    kept: list[str] = []
    block: list[str] = []
    depth = 0
    header_ok = True
    for number, line in enumerate(text.splitlines(), start=1):
        code = re.sub(r'"[^"\n]*"', '""', line).split("#", 1)[0]
        words = code.split()
        if depth == 0:
            if not words:
                continue
            header_ok = _nft_header(words, number, shown, sub)
            block = []
        if re.search(r"\b(include|define)\b", code) and header_ok:
            sub.refuse(shown, f"line {number}: `include`/`define` are not accepted: table left out")
            header_ok = False
        block.append(line)
        depth += code.count("{") - code.count("}")
        if depth < 0:
            sub.refuse(shown, f"line {number}: unbalanced braces: the rest is left out")
            return "\n".join(kept) + "\n" if kept else None
        if depth == 0:
            if header_ok:
                kept += block
            block = []
    if depth != 0:
        sub.refuse(shown, "unbalanced braces at the end: the last table is left out")
    return "\n".join(kept) + "\n" if kept else None


def _nft_header(words: list[str], number: int, shown: str, sub: Submission) -> bool:
    if (
        len(words) >= 3
        and words[0] == "table"
        and words[1] in NFT_FAMILIES
        and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", words[2])
        and words[3:] in (["{"], [])
    ):
        if words[2].startswith(RESERVED_NFT_TABLES):
            sub.refuse(shown, f"line {number}: table {words[2]} is the grader's: left out")
            return False
        return True
    sub.refuse(shown, f"line {number}: only `table FAMILY NAME {{ ... }}` blocks are accepted")
    return False


def accept_sysctls(
    text: str, ifaces: set[str], shown: str, sub: Submission
) -> tuple[tuple[str, str, int], ...]:
    """`net.ipv4.conf.IFACE.KEY = VALUE` lines with allow-listed keys, known interfaces."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, eq, value = (p.strip() for p in line.partition("="))
        match = _SYSCTL_RE.match(name)
        if (
            not eq
            or match is None
            or match["key"] not in SYSCTL_KEYS
            or match["iface"] not in ifaces
            or value not in ("0", "1", "2")
        ):
            allowed = ", ".join(sorted(SYSCTL_KEYS))
            sub.refuse(
                shown,
                f"line {number} left out: only net.ipv4.conf.<interface>.<{allowed}> = 0|1|2 "
                "of the node's own interfaces",
            )
            continue
        out.append((match["iface"], match["key"], int(value)))
    return tuple(out)


def sysctl_text(settings: list[tuple[str, str, int]]) -> str:
    return "".join(f"net.ipv4.conf.{i}.{k} = {v}\n" for i, k, v in settings)
