"""What checks and probes may ask of any router, FRR or BIRD."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from manrs_lab.drivers.rtr import Vrp
from manrs_lab.state import BgpRoute, BgpSession, RpkiCacheState, SessionHeard


class Router(Protocol):
    name: str
    asn: int

    def sessions(self) -> list[BgpSession]: ...

    def heard(self) -> list[SessionHeard]:
        """Per established session, what shows the neighbour was heard from lately."""
        ...

    def request_refresh(self, *, resend: bool = False) -> None:
        """Ask every neighbour to send its routes again (BGP ROUTE-REFRESH): each session
        carries a message both ways at once, instead of at the next keepalive. `resend`: also
        send every route of ours to each neighbour again (a soft reset out), so that they
        apply their import policy to all of them anew."""
        ...

    def routes(self, prefix: str | None = None, *, family: int | None = None) -> list[BgpRoute]:
        """Paths in the BGP table after import policy; `prefix` = exactly that prefix;
        `family` (4 or 6) = at least that family's (a router may give both)."""
        ...

    def forwards(self, prefix: str) -> bool:
        """The router's kernel forwarding table holds a route for exactly `prefix`: what
        packets follow, which can lag the BGP table."""
        ...

    def announce(
        self, prefixes: list[str], as_path: tuple[int, ...] = (), next_hop: str | None = None
    ) -> None:
        """Originate `prefixes`; `as_path`: ASes to put after our own, origin last;
        `next_hop`: a third-party next hop to announce instead of our own address."""
        ...

    def withdraw(self, prefixes: list[str]) -> None: ...

    def running_config(self) -> str: ...

    def apply_config(self, text: str) -> None:
        """FRR: commands applied on top of the running config. BIRD: a whole new config."""
        ...

    def rpki(self) -> RpkiCacheState: ...

    def rpki_vrps(self) -> list[Vrp]:
        """The VRPs the router loaded from its RTR caches (empty without a cache)."""
        ...


class ParsedAnswers:
    """The routes parsed from a router's last answer to each query: the same answer again is
    the same routes (parsing is a pure function of the text; `BgpRoute` is immutable). A
    check polls the same tables some two hundred times and most answers are unchanged, so
    most reads skip the decoding (FRR's JSON, BIRD's text) and the building of routes."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, list[BgpRoute]]] = {}

    def routes(
        self, query: str, text: str, parse: Callable[[str], list[BgpRoute]]
    ) -> list[BgpRoute]:
        last = self._last.get(query)
        if last is not None and last[0] == text:
            return list(last[1])
        routes = parse(text)
        self._last[query] = (text, routes)  # one tuple: a reader never sees half of it
        return list(routes)
