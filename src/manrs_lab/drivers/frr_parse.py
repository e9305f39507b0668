"""FRR JSON output (8.4) -> typed state. Paths verified against captured output in tests."""

from __future__ import annotations

import json
import re
from ipaddress import ip_network
from typing import Any

from manrs_lab.drivers.rtr import Vrp
from manrs_lab.state import BgpRoute, BgpSession, RpkiCacheState, RpkiState, SessionHeard


def json_documents(text: str) -> list[Any]:
    """Several JSON documents can come back to back (one per daemon)."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        doc, end = decoder.raw_decode(text, pos)
        docs.append(doc)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return docs


def _up_for(info: dict[str, Any]) -> float | None:
    """At most how long the session has been in its state: bgpd counts whole seconds
    (peerUptimeMsec is a multiple of 1000), so the true time is up to a second more."""
    msec = info.get("peerUptimeMsec")
    return None if msec is None else msec / 1000 + 1.0


def parse_summary(doc: dict[str, Any]) -> list[BgpSession]:
    """`show bgp summary json`: one entry per address family, merged by peer."""
    sessions: dict[str, BgpSession] = {}
    for family in doc.values():
        if not isinstance(family, dict):
            continue
        for peer, info in family.get("peers", {}).items():
            received = info.get("pfxRcd")
            previous = sessions.get(peer)
            if previous is not None and previous.prefixes_received is not None:
                received = (received or 0) + previous.prefixes_received
            sessions[peer] = BgpSession(
                peer=peer,
                remote_as=int(info["remoteAs"]),
                state=str(info["state"]),
                prefixes_received=received,
                name=info.get("desc"),
                up_for=_up_for(info),
            )
    return list(sessions.values())


def parse_heard(doc: dict[str, Any]) -> list[SessionHeard]:
    """`show bgp neighbors json`: messages received per established neighbour
    (`messageStats.totalRecv`; `bgpTimerLastRead` only has whole seconds)."""
    heard = []
    for peer, info in doc.items():
        if not isinstance(info, dict) or info.get("bgpState") != "Established":
            continue
        stats = info.get("messageStats", {})
        last = info.get("bgpTimerLastRead")
        heard.append(
            SessionHeard(
                peer=peer,
                received=int(stats["totalRecv"]) if "totalRecv" in stats else None,
                silent_for=last / 1000 if isinstance(last, int) else None,
            )
        )
    return heard


def _as_path_from_segments(aspath: dict[str, Any]) -> tuple[int, ...]:
    hops: list[int] = []
    for seg in aspath.get("segments", []):
        hops.extend(int(a) for a in seg.get("list", []))
    return tuple(hops)


def parse_prefix_detail(doc: dict[str, Any], local_as: int) -> list[BgpRoute]:
    """`show bgp ipv4 unicast PREFIX json`: all paths for one prefix (no `paths` when none),
    but those bgpd is taking away (`removed`, see parse_table)."""
    prefix = doc.get("prefix")
    routes: list[BgpRoute] = []
    for path in doc.get("paths", []):
        if path.get("removed"):
            continue
        as_path = _as_path_from_segments(path.get("aspath", {}))
        nexthops = path.get("nexthops") or [{}]
        peer_id = path.get("peer", {}).get("peerId")
        rpki = path.get("rpkiValidationState")
        routes.append(
            BgpRoute(
                prefix=str(prefix),
                as_path=as_path,
                origin_as=as_path[-1] if as_path else local_as,
                next_hop=nexthops[0].get("ip"),
                best=bool(path.get("bestpath", {}).get("overall", False)),
                peer=None if peer_id in (None, "0.0.0.0", "::") else str(peer_id),
                rpki_state=RpkiState(rpki) if rpki else None,
            )
        )
    return routes


def _path_string(text: str) -> tuple[int, ...]:
    """'64500 64501 {64502,64503}' -> hops; an AS set counts its members."""
    return tuple(int(tok) for tok in re.split(r"[\s{},]+", text) if tok.isdigit())


def parse_table(doc: dict[str, Any], local_as: int) -> list[BgpRoute]:
    """`show bgp ipv4|ipv6 unicast json`: every path of every prefix (no RPKI state here), but
    those bgpd is taking away: a withdrawn path (`no network`, or a neighbour's withdrawal)
    shows `"removed": true` at once and is dropped when bgpd's route-processing queue next
    runs, ~50 ms later. It is gone as far as anyone routes by it."""
    routes: list[BgpRoute] = []
    for prefix, paths in doc.get("routes", {}).items():
        for path in paths:
            if path.get("removed"):
                continue
            as_path = _path_string(path.get("path", ""))
            nexthops = path.get("nexthops") or [{}]
            peer_id = path.get("peerId")
            routes.append(
                BgpRoute(
                    prefix=prefix,
                    as_path=as_path,
                    origin_as=as_path[-1] if as_path else local_as,
                    next_hop=nexthops[0].get("ip"),
                    best=bool(path.get("bestpath", False)),
                    peer=None if peer_id in (None, "(unspec)", "0.0.0.0", "::") else peer_id,
                )
            )
    return routes


def parse_rpki(connections: dict[str, Any], table: dict[str, Any]) -> RpkiCacheState:
    """`show rpki cache-connection json` and `show rpki prefix-table json`."""
    connected = any(c.get("state") == "connected" for c in connections.get("connections", []))
    count = int(table.get("ipv4PrefixCount", 0)) + int(table.get("ipv6PrefixCount", 0))
    return RpkiCacheState(connected=connected, vrp_count=count)


def parse_rpki_prefix_table(table: dict[str, Any]) -> list[Vrp]:
    """`show rpki prefix-table json`: `.prefixes[]` with prefix, prefixLenMin/Max and asn."""
    return [
        Vrp(
            str(ip_network(f"{p['prefix']}/{p['prefixLenMin']}")),
            int(p["prefixLenMax"]),
            int(p["asn"]),
        )
        for p in table.get("prefixes", [])
    ]


def selected_prefixes(table: dict[str, Any]) -> set[str]:
    """`show ip|ipv6 route [connected] json`: the prefixes zebra has a selected route for."""
    return {
        str(ip_network(prefix))
        for prefix, entries in table.items()
        if any(e.get("selected") for e in entries)
    }


def installed(table: dict[str, Any], prefix: str) -> bool:
    """`show ip|ipv6 route PREFIX json`: zebra has put a route for exactly `prefix` in the
    kernel (`installed`), whichever protocol it came from."""
    return any(
        e.get("installed")
        for key, entries in table.items()
        if str(ip_network(key)) == prefix
        for e in entries
    )
