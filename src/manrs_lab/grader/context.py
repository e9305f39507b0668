"""What a check function gets: the running lab and, for probe checks, what the probe did."""

from __future__ import annotations

from dataclasses import dataclass

from manrs_lab.running import RunningLab

LEAK_SETTLE = 0.3  # s a seen leak gets to finish spreading before a check words its verdict


@dataclass(frozen=True)
class ProbeResult:
    node: str
    asn: int
    prefixes: tuple[str, ...]
    as_path: tuple[int, ...] = ()  # relayed or forged ASes after `asn`, origin last
    next_hop: str | None = None  # a third-party next hop the probe announced, if any

    @property
    def origin_as(self) -> int:
        """The origin the probe's routes carry (forged or relayed paths end elsewhere)."""
        return self.as_path[-1] if self.as_path else self.asn


@dataclass(frozen=True)
class CheckContext:
    running: RunningLab
    probe: ProbeResult | None = None
    seed: int = 0  # this check's own, from the report's seed: draw with random.Random(seed)
    # Prefixes other checks' probes announce in this grading run, possibly at the same time:
    # "receives exactly" checks leave them out, so they can run alongside those probes.
    others_probe: frozenset[str] = frozenset()

    @property
    def learner(self) -> str:
        return self.running.lab.spec.learner

    def require_probe(self) -> ProbeResult:
        if self.probe is None:
            raise RuntimeError("this check needs a probe: in lab.yaml, give it `probe:`")
        return self.probe
