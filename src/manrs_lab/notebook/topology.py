"""The lab's topology as an SVG picture: nodes, links, AS numbers and live BGP session state.

Pure functions of the topology and a state snapshot, so the picture can be tested without a
browser. The learner's router sits in the middle; the others are placed in rings by their
distance from it, providers above and customers below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from manrs_lab.spec.topology import Node, Role, Topology
from manrs_lab.state import BgpSession

BOX_W = 116
BOX_H = 50
LEARNER_H = 64
RING_X = 230.0
RING_Y = 165.0
MARGIN = 30

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
    """The BGP session across one link, as seen from either end; None: no session there."""

    state: str | None
    prefixes: int | None = None

    @property
    def established(self) -> bool:
        return self.state == "Established"


@dataclass(frozen=True)
class TopologyState:
    """What the picture colours: which nodes run, and the session state per link index."""

    nodes_up: Mapping[str, bool] = field(default_factory=dict)
    links: Mapping[int, LinkState] = field(default_factory=dict)


def link_states(
    topology: Topology, sessions: Mapping[str, Sequence[BgpSession]]
) -> dict[int, LinkState]:
    """Match each router's sessions to the links they run over, by the neighbour's AS number.

    A session seen from the first end wins; the second end is used when the first cannot be
    read (a BIRD node whose daemon is down, say).
    """
    out: dict[int, LinkState] = {}
    for index, link in enumerate(topology.links):
        a, b = topology.nodes.get(link.a.node), topology.nodes.get(link.b.node)
        if a is None or b is None or not (a.role.is_router and b.role.is_router):
            continue
        for local, remote in ((a, b), (b, a)):
            match = [s for s in sessions.get(local.name, ()) if s.remote_as == remote.asn]
            if match:
                up = [s for s in match if s.established]
                best = up[0] if up else match[0]
                out[index] = LinkState(best.state, best.prefixes_received)
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


def layout(topology: Topology, centre: str) -> dict[str, tuple[float, float]]:
    """Positions for the boxes: a small force-directed layout, deterministic (it starts from
    rings around `centre` and uses no randomness), with providers pulled up and customers and
    hosts down, then boxes pushed apart until none overlap."""
    if centre not in topology.nodes:
        centre = next(iter(topology.nodes))
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
            f'<text x="{x:.1f}" y="{top + 15:.1f}" text-anchor="middle" font-size="9.5" '
            f'font-weight="700" letter-spacing="0.06em" fill="{stroke}">YOUR ROUTER</text>'
        )
    name_y = y + 4 if learner else y - 3
    parts += [
        f'<text x="{x:.1f}" y="{name_y:.1f}" text-anchor="middle" font-size="14" '
        f'font-weight="600" fill="{text}">{escape(node.name)}</text>',
        f'<text x="{x:.1f}" y="{name_y + 16:.1f}" text-anchor="middle" font-size="11" '
        f'fill="{text}">{escape(asn)}</text>',
        "</g>",
    ]
    return "".join(parts)


def _border_point(
    x1: float, y1: float, x2: float, y2: float, *, half_h: float, gap: float
) -> tuple[float, float]:
    """Where the line from box centre (x1, y1) towards (x2, y2) leaves the box, plus `gap`,
    nudged sideways off the line so a label there does not sit on it."""
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    to_border = min((BOX_W / 2) / abs(ux) if ux else math.inf, half_h / abs(uy) if uy else math.inf)
    dist = to_border + gap
    # Perpendicular nudge, always towards the right-hand side of the line's direction.
    return x1 + ux * dist - uy * 11, y1 + uy * dist + ux * 11


def render_svg(topology: Topology, learner: str, state: TopologyState | None = None) -> str:
    """The topology as an inline SVG document (no external resources, no script)."""
    pos = layout(topology, learner)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    left = min(xs) - BOX_W / 2 - MARGIN
    top = min(ys) - LEARNER_H / 2 - MARGIN
    width = max(xs) - min(xs) + BOX_W + 2 * MARGIN
    height = max(ys) - min(ys) + LEARNER_H + 2 * MARGIN
    links = []
    labels = []
    for index, link in enumerate(topology.links):
        if link.a.node not in pos or link.b.node not in pos:
            continue
        pos_a, pos_b = pos[link.a.node], pos[link.b.node]
        (x1, y1), (x2, y2) = pos_a, pos_b
        session = state.links.get(index) if state is not None else None
        if session is None or session.state is None:
            colour, label = NO_SESSION, None
        elif session.established:
            colour = SESSION_UP
            label = "Established"
            if session.prefixes is not None:
                label += f" · {session.prefixes} pfx"
        else:
            colour, label = SESSION_DOWN, session.state
        links.append(
            f'<line class="link" data-link="{escape(str(link.a))}-{escape(str(link.b))}" '
            f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{3 if session and session.state else 2}"/>'
        )
        for (ax, ay), (bx, by), end in ((pos_a, pos_b, link.a), (pos_b, pos_a, link.b)):
            half_h = (LEARNER_H if end.node == learner else BOX_H) / 2
            lx, ly = _border_point(ax, ay, bx, by, half_h=half_h, gap=12)
            iface = end.iface
            labels.append(
                f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" font-size="10" '
                f'fill="#4b5563" paint-order="stroke" stroke="#ffffff" stroke-width="3">'
                f"{escape(iface)}</text>"
            )
        if label is not None:
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            labels.append(
                f'<text class="session" x="{mx:.1f}" y="{my + 4:.1f}" text-anchor="middle" '
                f'font-size="11" font-weight="600" fill="{colour}" paint-order="stroke" '
                f'stroke="#ffffff" stroke-width="4">{escape(label)}</text>'
            )
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
        f'style="width:100%;max-width:{max(width, 420):.0f}px;height:auto;'
        f'font-family:system-ui,sans-serif" role="img" '
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
