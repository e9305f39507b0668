"""`containerlab inspect --format json` as typed values.

Two shapes exist: containerlab >= 0.68 prints `{"<lab name>": [container, ...]}`; older releases
print `{"containers": [container, ...]}`. Both carry the same per-container keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from manrs_lab.errors import LabError


@dataclass(frozen=True)
class ClabContainer:
    lab_name: str
    name: str  # the container: clab-<lab>-<node>
    node: str  # the topology node
    container_id: str
    image: str
    kind: str
    state: str  # running, exited, created, ...
    status: str  # Docker's words: "Up 4 hours"
    ipv4_address: str
    ipv6_address: str
    lab_path: str
    owner: str

    @property
    def running(self) -> bool:
        return self.state == "running"


def _text(item: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = item.get(key)
        if value not in (None, ""):
            return str(value)
    return ""


def _node_name(container: str, lab: str, labels: dict[str, Any]) -> str:
    node = labels.get("clab-node-name")
    if node:
        return str(node)
    prefix = f"clab-{lab}-"
    return container.removeprefix(prefix) if lab else container


def _container(item: Any, lab_key: str) -> ClabContainer:
    if not isinstance(item, dict):
        raise LabError(f"containerlab inspect: a container entry is not an object: {item!r}")
    lab = _text(item, "lab_name", "labName") or lab_key
    name = _text(item, "name")
    if not name:
        raise LabError(f"containerlab inspect: a container entry has no name: {item!r}")
    labels = item.get("labels") if isinstance(item.get("labels"), dict) else {}
    return ClabContainer(
        lab_name=lab,
        name=name,
        node=_node_name(name, lab, labels or {}),
        container_id=_text(item, "container_id", "id"),
        image=_text(item, "image"),
        kind=_text(item, "kind"),
        state=_text(item, "state").lower(),
        status=_text(item, "status"),
        ipv4_address=_text(item, "ipv4_address"),
        ipv6_address=_text(item, "ipv6_address"),
        lab_path=_text(item, "absLabPath", "labPath"),
        owner=_text(item, "owner"),
    )


def parse_inspect(text: str) -> list[ClabContainer]:
    """Every container in the output, in the order containerlab printed them."""
    if not text.strip():
        return []  # containerlab prints nothing when no container of the lab exists
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabError(f"containerlab inspect did not print JSON: {text[:200]!r}") from exc
    if isinstance(doc, list):  # a bare list of containers
        doc = {"containers": doc}
    if not isinstance(doc, dict):
        raise LabError(f"containerlab inspect: expected an object, got {type(doc).__name__}")
    out: list[ClabContainer] = []
    for key, items in doc.items():
        if items is None:
            continue
        if not isinstance(items, list):
            raise LabError(f"containerlab inspect: {key!r} is not a list of containers")
        lab_key = "" if key == "containers" else key
        out.extend(_container(item, lab_key) for item in items)
    return out
