"""The lab's topology as an SVG picture: nodes, links, AS numbers and live BGP session state.

Pure functions of the topology and a state snapshot, so the picture can be tested without a
browser. Where the topology file places its nodes (containerlab's own `graph-posX` and
`graph-posY` labels, as `containerlab graph` reads them), the picture follows it; otherwise the
learner's router sits in the middle and the others are placed in rings by their distance from
it, providers above and customers below. The SVG is drawn at its own size (labels at least
11 px) and only shrinks when the page is narrower.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from manrs_lab.errors import LabError
from manrs_lab.spec.topology import Node, Role, Topology
from manrs_lab.spec.yaml_files import load_yaml_file
from manrs_lab.state import BgpSession

BOX_W = 116
BOX_H = 50
LEARNER_H = 64
RING_X = 230.0
RING_Y = 165.0
MARGIN = 30
LABEL_PX = 11  # the smallest text in the picture
POS_X_LABEL = "graph-posX"
POS_Y_LABEL = "graph-posY"

ROLE_COLOURS = {
    Role.FRR: ("#dbeafe", "#1d4ed8", "FRR"),
    Role.BIRD: ("#dcfce7", "#15803d", "BIRD"),
    Role.RTR: ("#f3e8ff", "#7e22ce", "RPKI cache"),
    Role.HOST: ("#f1f5f9", "#475569", "host"),
}
DOWN = ("#f3f4f6", "#9ca3af")
SESSION_UP = "#16a34a"
SESSION_DOWN = "#dc2626"
NO_SESSION = "#9ca3af"
# Drawn above the learner's router: whoever it buys transit from or peers with; below: its
# customers and the hosts behind routers (names as in lab-conventions.md).
UPPER_NAMES = ("transit", "upstream", "peer", "rs", "ixp")
LOWER_NAMES = ("cust", "h-")


@dataclass(frozen=True)
class LinkState:
    """The BGP session across one link, as seen from either end; None: no session there.
    `family`: "IPv4" or "IPv6" (a dual-stack link carries one session of each)."""

    state: str | None
    prefixes: int | None = None
    family: str = "IPv4"

    @property
    def established(self) -> bool:
        return self.state == "Established"


@dataclass(frozen=True)
class TopologyState:
    """What the picture colours: which nodes run, and the session state per link index."""

    nodes_up: Mapping[str, bool] = field(default_factory=dict)
    links: Mapping[int, Sequence[LinkState]] = field(default_factory=dict)


def _family(peer: str) -> str:
    return "IPv6" if ":" in peer else "IPv4"


def link_states(
    topology: Topology, sessions: Mapping[str, Sequence[BgpSession]]
) -> dict[int, list[LinkState]]:
    """Match each router's sessions to the links they run over, by the neighbour's AS number:
    per link, one state per address family (IPv4 first).

    A session seen from the first end wins; the second end is used when the first cannot be
    read (a BIRD node whose daemon is down, say).
    """
    out: dict[int, list[LinkState]] = {}
    for index, link in enumerate(topology.links):
        a, b = topology.nodes.get(link.a.node), topology.nodes.get(link.b.node)
        if a is None or b is None or not (a.role.is_router and b.role.is_router):
            continue
        for local, remote in ((a, b), (b, a)):
            match = [s for s in sessions.get(local.name, ()) if s.remote_as == remote.asn]
            if not match:
                continue
            states = []
            for family in ("IPv4", "IPv6"):
                mine = [s for s in match if _family(s.peer) == family]
                if mine:
                    up = [s for s in mine if s.established]
                    best = up[0] if up else mine[0]
                    states.append(LinkState(best.state, best.prefixes_received, family))
            out[index] = states
            break
    return out


def _rings(topology: Topology, centre: str) -> dict[str, tuple[float, float]]:
    """Starting positions: `centre` at the origin, the others in rings by hop distance."""
    nodes = list(topology.nodes)
    neighbours = _neighbours(topology)
    parent: dict[str, str] = {}
    rings: list[list[str]] = [[centre]]
    seen = {centre}
    while True:
        ring = []
        for node in rings[-1]:
            for other in neighbours[node]:
                if other not in seen:
                    seen.add(other)
                    parent[other] = node
                    ring.append(other)
        if not ring:
            break
        rings.append(ring)
    pos: dict[str, tuple[float, float]] = {centre: (0.0, 0.0)}
    angle: dict[str, float] = {centre: -math.pi / 2}
    for depth, ring in enumerate(rings[1:], start=1):
        ordered = sorted(ring, key=lambda n: (angle[parent[n]], _height(n), n))
        for i, node in enumerate(ordered):
            base = angle[parent[node]] if depth > 1 else -math.pi / 2
            spread = 2 * math.pi / len(ordered) if depth == 1 else 0.5 / depth
            offset = i * spread if depth == 1 else (i - (len(ordered) - 1) / 2) * spread
            angle[node] = base + offset
            pos[node] = (
                depth * RING_X * math.cos(angle[node]),
                depth * RING_Y * math.sin(angle[node]),
            )
    rest = [n for n in nodes if n not in pos]
    bottom = max((y for _, y in pos.values()), default=0.0) + RING_Y
    for i, node in enumerate(rest):
        pos[node] = ((i - (len(rest) - 1) / 2) * (BOX_W + 24), bottom)
    return pos


def _neighbours(topology: Topology) -> dict[str, list[str]]:
    neighbours: dict[str, list[str]] = {n: [] for n in topology.nodes}
    for link in topology.links:
        if link.a.node in neighbours and link.b.node in neighbours:
            neighbours[link.a.node].append(link.b.node)
            neighbours[link.b.node].append(link.a.node)
    return neighbours


def _height(name: str) -> int:
    """-1: drawn high (providers, peers), 1: drawn low (customers, hosts), 0: no preference."""
    if name.startswith(UPPER_NAMES):
        return -1
    if name.startswith(LOWER_NAMES):
        return 1
    return 0


def graph_positions(topology: Topology) -> dict[str, tuple[float, float]] | None:
    """Every node's (x, y) from its `graph-posX`/`graph-posY` labels in the topology file, or
    None unless every node has both (numbers)."""
    try:
        raw = load_yaml_file(topology.path)
        nodes = raw["topology"]["nodes"]
        out = {}
        for name in topology.nodes:
            labels = nodes[name].get("labels") or {}
            out[name] = (float(labels[POS_X_LABEL]), float(labels[POS_Y_LABEL]))
    except (LabError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return out


def layout(topology: Topology, centre: str) -> dict[str, tuple[float, float]]:
    """Positions for the boxes: the topology file's own (`graph_positions`), or a small
    force-directed layout, deterministic (it starts from rings around `centre` and uses no
    randomness), with providers pulled up and customers and hosts down, then boxes pushed
    apart until none overlap."""
    if centre not in topology.nodes:
        centre = next(iter(topology.nodes))
    fixed = graph_positions(topology)
    if fixed is not None:
        cx, cy = fixed[centre]
        return {n: (x - cx, y - cy) for n, (x, y) in fixed.items()}
    pos = {n: list(xy) for n, xy in _rings(topology, centre).items()}
    names = list(pos)
    edges = [
        (link.a.node, link.b.node)
        for link in topology.links
        if link.a.node in pos and link.b.node in pos
    ]
    ideal = 150.0
    step = 40.0
    for _ in range(300):
        force = {n: [0.0, 0.0] for n in names}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                dx = (pos[a][0] - pos[b][0]) / 1.6  # boxes are wide: count x distance less
                dy = pos[a][1] - pos[b][1]
                dist = max(math.hypot(dx, dy), 1.0)
                push = ideal * ideal / dist
                force[a][0] += dx / dist * push
                force[a][1] += dy / dist * push
                force[b][0] -= dx / dist * push
                force[b][1] -= dy / dist * push
        for a, b in edges:
            dx, dy = pos[a][0] - pos[b][0], pos[a][1] - pos[b][1]
            dist = max(math.hypot(dx, dy), 1.0)
            pull = dist * dist / ideal
            force[a][0] -= dx / dist * pull
            force[a][1] -= dy / dist * pull
            force[b][0] += dx / dist * pull
            force[b][1] += dy / dist * pull
        for n in names:
            force[n][1] += _height(n) * ideal * 0.6
            size = math.hypot(*force[n]) or 1.0
            pos[n][0] += force[n][0] / size * min(size, step)
            pos[n][1] += force[n][1] / size * min(size, step)
        step = max(step * 0.985, 2.0)
    _separate(pos)
    cx, cy = pos[centre]
    return {n: (x - cx, y - cy) for n, (x, y) in pos.items()}


def _separate(pos: dict[str, list[float]]) -> None:
    """Push overlapping boxes apart (with room for labels) along the shorter axis."""
    room_x, room_y = BOX_W + 90, LEARNER_H + 36
    names = list(pos)
    for _ in range(200):
        moved = False
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                dx, dy = pos[b][0] - pos[a][0], pos[b][1] - pos[a][1]
                over_x, over_y = room_x - abs(dx), room_y - abs(dy)
                if over_x <= 0 or over_y <= 0:
                    continue
                moved = True
                if over_x / room_x < over_y / room_y:
                    shift = (over_x / 2 + 1) * (1 if dx >= 0 else -1)
                    pos[a][0] -= shift
                    pos[b][0] += shift
                else:
                    shift = (over_y / 2 + 1) * (1 if dy >= 0 else -1)
                    pos[a][1] -= shift
                    pos[b][1] += shift
        if not moved:
            return


def _node_svg(node: Node, x: float, y: float, *, up: bool | None, learner: bool) -> str:
    fill, stroke, kind = ROLE_COLOURS.get(node.role, ROLE_COLOURS[Role.HOST])
    text = "#111827"
    dash = ""
    if up is False:
        fill, stroke = DOWN
        text = "#6b7280"
        dash = ' stroke-dasharray="5 3"'
    width = 3.5 if learner else 1.5
    height = LEARNER_H if learner else BOX_H
    asn = f"AS{node.asn} · {kind}" if node.asn is not None else kind
    top = y - height / 2
    parts = [
        f'<g class="node" data-node="{escape(node.name)}" data-up="{str(up).lower()}">',
        f'<rect x="{x - BOX_W / 2:.1f}" y="{top:.1f}" width="{BOX_W}" '
        f'height="{height}" rx="9" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>',
    ]
    if learner:
        parts.append(
            f'<text x="{x:.1f}" y="{top + 15:.1f}" text-anchor="middle" font-size="{LABEL_PX}" '
            f'font-weight="700" letter-spacing="0.04em" fill="{stroke}">YOUR ROUTER</text>'
        )
    name_y = y + 4 if learner else y - 3
    parts += [
        f'<text x="{x:.1f}" y="{name_y:.1f}" text-anchor="middle" font-size="14" '
        f'font-weight="600" fill="{text}">{escape(node.name)}</text>',
        f'<text x="{x:.1f}" y="{name_y + 16:.1f}" text-anchor="middle" font-size="{LABEL_PX}" '
        f'fill="{text}">{escape(asn)}</text>',
        "</g>",
    ]
    return "".join(parts)


def _border_distance(ux: float, uy: float, half_h: float) -> float:
    """How far from a box's centre a line in direction (ux, uy) leaves the box."""
    return min((BOX_W / 2) / abs(ux) if ux else math.inf, half_h / abs(uy) if uy else math.inf)


def _text(x: float, y: float, text: str, *, anchor: str, extra: str = "", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text{klass} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{LABEL_PX}" '
        f'paint-order="stroke" stroke="#ffffff" stroke-width="3" {extra}>{escape(text)}</text>'
    )


def _session_text(session: LinkState, both: bool) -> str:
    if session.established:
        text = "Established"
        if session.prefixes is not None:
            text += f" · {session.prefixes}" + ("" if both else " pfx")
    else:
        text = str(session.state)
    return f"{session.family} {text}" if both else text


def picture_width(topology: Topology, learner: str) -> float:
    """The SVG's own width in px (what it is drawn at when the page has room)."""
    xs = [x for x, _ in layout(topology, learner).values()]
    return max(xs) - min(xs) + BOX_W + 2 * MARGIN


Box = tuple[float, float, float, float]  # x0, y0, x1, y1
CHAR_W = {False: 6.3, True: 6.9}  # px per character at LABEL_PX, normal and bold (estimate)


def _label_box(x: float, y: float, text: str, anchor: str, *, bold: bool) -> Box:
    width = len(text) * CHAR_W[bold]
    x0 = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
    return (x0 - 2, y - LABEL_PX, x0 + width + 2, y + 3)


def _clash(box: Box, taken: Sequence[Box]) -> bool:
    return any(
        box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]
        for other in taken
    )


class _Placer:
    """Labels go to the first of their candidate places that overlaps nothing placed yet (the
    boxes, the other labels, the picture's edge); the first candidate if none is free."""

    def __init__(self, frame: Box, boxes: Sequence[Box]) -> None:
        self.frame = frame
        self.taken: list[Box] = list(boxes)

    def place(
        self, candidates: Sequence[tuple[float, float, str]], text: str, *, bold: bool
    ) -> tuple[float, float, str]:
        for x, y, anchor in candidates:
            box = _label_box(x, y, text, anchor, bold=bold)
            inside = (
                box[0] >= self.frame[0]
                and box[1] >= self.frame[1]
                and box[2] <= self.frame[2]
                and box[3] <= self.frame[3]
            )
            if inside and not _clash(box, self.taken):
                self.taken.append(box)
                return x, y, anchor
        x, y, anchor = candidates[0]
        self.taken.append(_label_box(x, y, text, anchor, bold=bold))
        return x, y, anchor


def _iface_candidates(
    ax: float, ay: float, ux: float, uy: float, half_h: float
) -> list[tuple[float, float, str]]:
    """Places for an interface name at the end of a link leaving a box at (ax, ay)."""
    d = _border_distance(ux, uy, half_h)
    out = []
    if abs(ux) * half_h >= abs(uy) * BOX_W / 2:  # leaves by a side: below, else above the line
        anchor = "start" if ux > 0 else "end"
        for along in (5.0, 14.0):
            px, py = ax + ux * (d + along), ay + uy * (d + along)
            out += [(px, py + 14, anchor), (px, py - 5, anchor)]
    else:  # leaves by the top or bottom: beside the line, off the box
        for along in (12.0, 24.0):
            px, py = ax + ux * (d + along), ay + uy * (d + along)
            left, right = (px - 6, py + 4, "end"), (px + 6, py + 4, "start")
            out += [left, right] if ux >= -0.05 else [right, left]
    return out


def _session_candidates(
    x1: float, y1: float, x2: float, y2: float, *, k: int, n: int
) -> list[tuple[float, float, str]]:
    """Places for the k-th of n session labels of a link: the middle, then further along."""
    level = abs(x2 - x1) >= abs(y2 - y1)
    out = []
    for t in (0.5, 0.4, 0.6, 0.3, 0.7):
        mx, my = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
        if level:  # above the line (IPv6 above IPv4), else below it
            out.append((mx, my - 7 - 15 * (n - 1 - k), "middle"))
            out.append((mx, my + 16 + 15 * k, "middle"))
        else:  # right of the line (IPv4 above IPv6), else left of it
            y = my + 4 - 8 * (n - 1) + 16 * k
            out += [(mx + 8, y, "start"), (mx - 8, y, "end")]
    return out


def render_svg(topology: Topology, learner: str, state: TopologyState | None = None) -> str:
    """The topology as an inline SVG document (no external resources, no script).

    Per link: the interface names beside each end and the BGP session state of each address
    family, each label where it overlaps no box and no other label (`_Placer`)."""
    pos = layout(topology, learner)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    left = min(xs) - BOX_W / 2 - MARGIN
    top = min(ys) - LEARNER_H / 2 - MARGIN
    width = max(xs) - min(xs) + BOX_W + 2 * MARGIN
    height = max(ys) - min(ys) + LEARNER_H + 2 * MARGIN
    boxes = []
    for name, (x, y) in pos.items():
        half_h = (LEARNER_H if name == learner else BOX_H) / 2
        boxes.append((x - BOX_W / 2 - 2, y - half_h - 2, x + BOX_W / 2 + 2, y + half_h + 2))
    placer = _Placer((left, top, left + width, top + height), boxes)
    links = []
    labels = []
    drawn = [
        (index, link)
        for index, link in enumerate(topology.links)
        if link.a.node in pos and link.b.node in pos
    ]
    grey = 'fill="#4b5563"'
    for _, link in drawn:  # interface names first: they belong next to their box
        (x1, y1), (x2, y2) = pos[link.a.node], pos[link.b.node]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        for (ax, ay), (bx, by), end in (
            ((x1, y1), (x2, y2), link.a),
            ((x2, y2), (x1, y1), link.b),
        ):
            ux, uy = (bx - ax) / length, (by - ay) / length
            half_h = (LEARNER_H if end.node == learner else BOX_H) / 2
            candidates = _iface_candidates(ax, ay, ux, uy, half_h)
            x, y, anchor = placer.place(candidates, end.iface, bold=False)
            labels.append(_text(x, y, end.iface, anchor=anchor, extra=grey))
    for index, link in drawn:
        (x1, y1), (x2, y2) = pos[link.a.node], pos[link.b.node]
        sessions = list(state.links.get(index, ())) if state is not None else []
        sessions = [s for s in sessions if s.state is not None]
        if not sessions:
            colour = NO_SESSION
        elif all(s.established for s in sessions):
            colour = SESSION_UP
        else:
            colour = SESSION_DOWN
        links.append(
            f'<line class="link" data-link="{escape(str(link.a))}-{escape(str(link.b))}" '
            f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{3 if sessions else 2}"/>'
        )
        both = len(sessions) > 1
        for k, session in enumerate(sessions):
            fill = SESSION_UP if session.established else SESSION_DOWN
            extra = f'font-weight="600" fill="{fill}" data-family="{session.family}"'
            text = _session_text(session, both)
            candidates = _session_candidates(x1, y1, x2, y2, k=k, n=len(sessions))
            x, y, anchor = placer.place(candidates, text, bold=True)
            labels.append(_text(x, y, text, anchor=anchor, extra=extra, cls="session"))
    nodes = [
        _node_svg(
            node,
            *pos[name],
            up=state.nodes_up.get(name) if state is not None else None,
            learner=name == learner,
        )
        for name, node in topology.nodes.items()
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="manrs-topology" '
        f'viewBox="{left:.1f} {top:.1f} {width:.1f} {height:.1f}" '
        f'width="{width:.0f}" height="{height:.0f}" '
        f'style="max-width:100%;height:auto;font-family:system-ui,sans-serif" role="img" '
        f'aria-label="topology of {escape(topology.name)}">'
        + "".join(links)
        + "".join(nodes)
        + "".join(labels)
        + "</svg>"
    )


LEGEND = (
    '<div style="font-size:11px;color:#4b5563;line-height:1.4">BGP session: '
    f'<b style="color:{SESSION_UP}">━ Established</b> &nbsp;'
    f'<b style="color:{SESSION_DOWN}">━ not established</b> &nbsp;'
    f'<b style="color:{NO_SESSION}">━ none / unknown</b> &nbsp;· dashed box: node down</div>'
)
