"""The RTR cache (stayrtr): serves the VRP file the lab owns; edits reach routers on refresh."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass

from manrs_lab.drivers.handle import NodeHandle


@dataclass(frozen=True)
class Vrp:
    prefix: str
    max_length: int
    asn: int


class RtrCache:
    def __init__(self, handle: NodeHandle) -> None:
        self.handle = handle
        self.name = handle.name

    def _path(self) -> str:
        local = self.handle.local_dir
        return str(local / "vrps.json") if local is not None else "/etc/stayrtr/vrps.json"

    def vrps(self) -> list[Vrp]:
        data = json.loads(self.handle.exec_ok(["cat", self._path()]))
        return [
            Vrp(r["prefix"], int(r["maxLength"]), int(str(r["asn"]).removeprefix("AS")))
            for r in data["roas"]
        ]

    def set_vrps(self, vrps: list[Vrp]) -> None:
        doc = {
            "roas": [
                {"prefix": v.prefix, "maxLength": v.max_length, "asn": f"AS{v.asn}"} for v in vrps
            ]
        }
        text = json.dumps(doc, indent=2) + "\n"
        local = self.handle.local_dir
        if local is not None:
            # A temp file of its own: two writers never rename each other's file away.
            fd, tmp = tempfile.mkstemp(dir=local, prefix=".vrps.json.", suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)  # noqa: PTH101 - a path from mkstemp
            os.replace(tmp, local / "vrps.json")  # noqa: PTH105
        else:
            self.handle.exec_ok(["sh", "-c", f"cat > {self._path()}"], input_text=text)
