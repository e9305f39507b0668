"""Reading YAML files: libyaml's C parser when PyYAML has it (about ten times faster, and
loading a lab's files is on the path of every `up` and `check`), the pure-Python one otherwise.

Lab files are UTF-8: anything else is an error naming the file and the first bad byte's line,
never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from manrs_lab.errors import SpecError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader, C or Python


def utf8_problem(data: bytes) -> str | None:
    """Why `data` is not UTF-8 text (line and byte named), or None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return f"line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 (save the file as UTF-8)"
    if "\0" in text:
        return f"line {text[: text.index(chr(0))].count(chr(10)) + 1}: a NUL byte (not a text file)"
    return None


def read_text_file(path: Path) -> str:
    """A lab or topology file's text; SpecError if it cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(path, [f"cannot read: {exc.strerror or exc}"]) from None
    problem = utf8_problem(data)
    if problem is not None:
        raise SpecError(path, [problem])
    return data.decode("utf-8")


def load_yaml_file(path: Path) -> Any:
    """Parse a YAML file; SpecError naming the file (and line) for every way it can fail."""
    text = read_text_file(path)
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        raise SpecError(path, [f"not valid YAML: {exc}"]) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise SpecError(path, [f"not valid YAML: {exc}"]) from None
