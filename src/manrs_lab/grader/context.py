"""What a check function gets: the running lab and, for probe checks, what the probe did."""

from __future__ import annotations

from dataclasses import dataclass

from manrs_lab.running import RunningLab


@dataclass(frozen=True)
class ProbeResult:
    node: str
    asn: int
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class CheckContext:
    running: RunningLab
    probe: ProbeResult | None = None

    @property
    def learner(self) -> str:
        return self.running.lab.spec.learner

    def require_probe(self) -> ProbeResult:
        if self.probe is None:
            raise RuntimeError("this check needs a probe: in lab.yaml, give it `probe:`")
        return self.probe
