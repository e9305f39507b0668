"""Reading YAML files: libyaml's C parser when PyYAML has it (about ten times faster, and
loading a lab's files is on the path of every `up` and `check`), the pure-Python one otherwise."""

from __future__ import annotations

from typing import Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader, C or Python
