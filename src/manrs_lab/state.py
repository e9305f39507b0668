"""Router state as typed values: what every check sees, whatever daemon produced it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from ipaddress import ip_network


class RpkiState(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    NOT_FOUND = "not found"


@lru_cache(maxsize=1 << 16)
def canonical_prefix(prefix: str) -> str:
    """One spelling per prefix (`2001:DB8:0::/48` -> `2001:db8::/48`). Checks compare the
    prefixes of whole tables with their probes' on every poll: the same few hundred strings,
    parsed once each."""
    return str(ip_network(prefix))


@dataclass(frozen=True)
class BgpSession:
    peer: str
    remote_as: int
    state: str
    prefixes_received: int | None = None
    name: str | None = None
    # A receive/import limit stops the session's routes (BIRD `action block`); FRR instead
    # shuts the session (state "Idle (PfxCt)")
    limit_hit: bool = False
    # At most how many seconds the session had been in its state when read (FRR's
    # peerUptimeMsec, BIRD's Since): one re-established during a probe passed none of the
    # probe's routes for a while
    up_for: float | None = None

    @property
    def established(self) -> bool:
        return self.state == "Established"


TIMER_RESTART_MARGIN = 0.5  # s: a restarted hold timer shows at least 0.75 s less silence


@dataclass(frozen=True)
class SessionHeard:
    """What a router last heard on one session: proof the session is alive *now*, which
    Established alone is not (a filter that drops BGP packets shows only when the hold timer
    expires). FRR counts messages; for BIRD, the kernel counts the bytes its BGP connection
    received, and BIRD tells how long its hold timer has run since the last message."""

    peer: str
    received: int | None = None  # received so far: messages (FRR), TCP bytes (BIRD)
    silent_for: float | None = None  # seconds since the last message (BIRD: hold timer)

    def heard_since(self, before: SessionHeard, elapsed: float) -> bool:
        """A message arrived after `before` was read, `elapsed` seconds ago.

        BIRD starts its hold timer at a random 75-100 % of the hold time (RFC 4271's jitter),
        so `silent_for` (hold time minus what is left) can overstate the silence by a quarter
        of the hold time; a timer that restarted since `before` also shows as less silence than
        `before` plus the time gone by."""
        if self.received is not None and before.received is not None:
            return self.received > before.received  # counted: nothing else is needed
        if self.silent_for is None:
            return False
        restarted = (
            before.silent_for is not None
            and self.silent_for < before.silent_for + elapsed - TIMER_RESTART_MARGIN
        )
        return self.silent_for < elapsed or restarted


@dataclass(frozen=True)
class BgpRoute:
    """One path for a prefix in a router's BGP table (after import policy)."""

    prefix: str
    as_path: tuple[int, ...]
    origin_as: int
    next_hop: str | None
    best: bool
    peer: str | None
    rpki_state: RpkiState | None = None

    @property
    def path_text(self) -> str:
        return " ".join(str(a) for a in self.as_path) or "(local)"


@dataclass(frozen=True)
class RpkiCacheState:
    connected: bool
    vrp_count: int
    configured: bool = True  # False: the router names no RTR cache at all (nothing to wait for)
