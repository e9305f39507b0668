"""A corpus of broken lab and topology files: each case breaks one thing in a copy of the
customer-filtering lab, and names the file and the field `lint` must report.

Classes (issue 14): node names in checks and probes, probe lengths against their prefix, config
and solution paths outside the lab, encodings (lab, topology, configs), YAML that is not YAML or
not a mapping, shell in sysctls and `exec:` lines, sysctls outside the namespace, the daemons'
syntax errors, and the usual spec mistakes. `random_cases` adds seeded mutations of node names
and probe lengths, so the corpus covers more than the values written here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LAB = "customer-filtering"
TOPOLOGY = f"topologies/{LAB}.clab.yml"
LAB_FILE = f"labs/{LAB}/lab.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the file lint must name, relative to the content root
    field: str  # text the problem must contain (the field, and what is wrong)
    apply: Callable[[Path], None]  # breaks the content root in place
    daemons: bool = False  # found by the daemons' dry runs only


def _edit_yaml(rel: str, change: Callable[[Any], Any]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    return apply


def _write(rel: str, data: bytes) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / rel).write_bytes(data)

    return apply


def _replace(rel: str, old: bytes, new: bytes) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_bytes()
        assert old in text, f"{old!r} not in {rel}"
        path.write_bytes(text.replace(old, new, 1))

    return apply


def _check(d: Any, check_id: str) -> dict[str, Any]:
    return next(c for c in d["checks"] if c["id"] == check_id)


def _lab(change: Callable[[Any], Any]) -> Callable[[Path], None]:
    return _edit_yaml(LAB_FILE, change)


def _topo(change: Callable[[Any], Any]) -> Callable[[Path], None]:
    return _edit_yaml(TOPOLOGY, change)


def _node(d: Any, name: str) -> dict[str, Any]:
    node: dict[str, Any] = d["topology"]["nodes"][name]
    node.setdefault("sysctls", {})
    node.setdefault("exec", [])
    return node


def _probe_lengths(lengths: list[int]) -> Callable[[Any], None]:
    def change(d: Any) -> None:
        prefix = _check(d, "more-specific-hijack-dropped")["probe"]["announce"]["prefixes"][0]
        prefix["lengths"] = lengths

    return change


CASES: list[Case] = [
    # -- node names in checks and probes --
    Case(
        "check-observer-unknown",
        LAB_FILE,
        "with: 'trnasit' is not a router",
        _lab(lambda d: _check(d, "cust1-reaches-transit")["with"].update(observer="trnasit")),
    ),
    Case(
        "check-observers-unknown",
        LAB_FILE,
        "'ghost' is not a router",
        _lab(lambda d: _check(d, "exact-hijack-dropped")["with"].update(observers=["ghost"])),
    ),
    Case(
        "check-nodes-unknown",
        LAB_FILE,
        "'nowhere' is not a router",
        _lab(lambda d: _check(d, "sessions-up").update({"with": {"nodes": ["edge", "nowhere"]}})),
    ),
    Case(
        "probe-node-unknown",
        LAB_FILE,
        "probe.announce.node",
        _lab(lambda d: _check(d, "exact-hijack-dropped")["probe"]["announce"].update(node="c2")),
    ),
    Case(
        "converged-node-unknown",
        LAB_FILE,
        "converged.routes[0].node",
        _lab(lambda d: d["converged"]["routes"][0].update(node="ghost")),
    ),
    Case(
        "learner-unknown",
        LAB_FILE,
        "learner: 'me' is not a router",
        _lab(lambda d: d.update(learner="me")),
    ),
    # -- probe lengths against their prefix --
    Case("probe-lengths-too-long", LAB_FILE, "lengths [33, 40]", _lab(_probe_lengths([33, 40]))),
    Case("probe-lengths-not-inside", LAB_FILE, "lengths [16, 20]", _lab(_probe_lengths([16, 20]))),
    Case("probe-lengths-reversed", LAB_FILE, "lengths", _lab(_probe_lengths([28, 25]))),
    Case("probe-lengths-negative", LAB_FILE, "lengths", _lab(_probe_lengths([-1, 26]))),
    # -- config and solution paths --
    Case(
        "config-absolute",
        LAB_FILE,
        "nodes.edge.config: '/etc/hostname' is an absolute path",
        _lab(lambda d: d["nodes"]["edge"].update(config="/etc/hostname")),
    ),
    Case(
        "config-escapes",
        LAB_FILE,
        "nodes.edge.config: '../../../../../etc/passwd' is outside the lab folder",
        _lab(lambda d: d["nodes"]["edge"].update(config="../../../../../etc/passwd")),
    ),
    Case(
        "config-missing",
        LAB_FILE,
        "nodes.cust2.config:",
        _lab(lambda d: d["nodes"]["cust2"].update(config="configs/nope.conf")),
    ),
    Case(
        "solution-absolute",
        LAB_FILE,
        "solution.edge: '/etc/shadow' is an absolute path",
        _lab(lambda d: d["solution"].update(edge="/etc/shadow")),
    ),
    Case(
        "solution-escapes",
        LAB_FILE,
        "solution.edge:",
        _lab(lambda d: d["solution"].update(edge="../../topologies/customer-filtering.clab.yml")),
    ),
    # -- encodings and YAML --
    Case(
        "lab-latin1",
        LAB_FILE,
        "byte 0xe9 is not UTF-8",
        _replace(LAB_FILE, b"Customer prefix filtering", b"Filtrage des pr\xe9fixes"),
    ),
    Case("lab-nul", LAB_FILE, "NUL byte", _replace(LAB_FILE, b"schema: 1", b"schema: 1\x00")),
    Case("lab-not-yaml", LAB_FILE, "not valid YAML", _write(LAB_FILE, b"id: [unclosed\n")),
    Case("lab-a-list", LAB_FILE, "(top level)", _write(LAB_FILE, b"- just\n- a list\n")),
    Case("lab-empty", LAB_FILE, "(top level)", _write(LAB_FILE, b"")),
    Case(
        "topology-utf16",
        TOPOLOGY,
        "is not UTF-8",
        lambda root: (root / TOPOLOGY).write_bytes((root / TOPOLOGY).read_text().encode("utf-16")),
    ),
    Case("topology-not-yaml", TOPOLOGY, "not valid YAML", _write(TOPOLOGY, b"name: x\n\t- y: [\n")),
    Case(
        "config-latin1",
        LAB_FILE,
        "nodes.transit.config",
        _replace(
            f"labs/{LAB}/configs/transit.conf",
            b"!",
            b"! caf\xe9",
        ),
    ),
    # -- what reached a shell --
    Case(
        "sysctl-shell",
        TOPOLOGY,
        "topology.nodes.edge.sysctls.net.ipv4.icmp_ratelimit: '1; touch /tmp/x' is not a number",
        _topo(
            lambda d: _node(d, "edge")["sysctls"].update(
                {"net.ipv4.icmp_ratelimit": "1; touch /tmp/x"}
            )
        ),
    ),
    Case(
        "sysctl-host-key",
        TOPOLOGY,
        "sysctls.kernel.core_pattern: only the namespace's own net.* sysctls",
        _topo(lambda d: _node(d, "edge")["sysctls"].update({"kernel.core_pattern": "1"})),
    ),
    Case(
        "sysctl-path-key",
        TOPOLOGY,
        "only the namespace's own net.* sysctls",
        _topo(lambda d: _node(d, "edge")["sysctls"].update({"net/../../kernel/x": "1"})),
    ),
    Case(
        "exec-shell-semicolon",
        TOPOLOGY,
        "topology.nodes.cust1.exec[0]:",
        _topo(
            lambda d: _node(d, "cust1")["exec"].__setitem__(
                0, "ip addr add 10.0.1.2/30 dev eth1; touch /tmp/x"
            )
        ),
    ),
    Case(
        "exec-shell-substitution",
        TOPOLOGY,
        "is shell syntax",
        _topo(lambda d: _node(d, "cust1")["exec"].append("ip link set $(touch /tmp/x) up")),
    ),
    Case(
        "exec-unbalanced-quote",
        TOPOLOGY,
        "topology.nodes.cust1.exec[1]: ",
        _topo(lambda d: _node(d, "cust1")["exec"].__setitem__(1, "ip addr add 'x")),
    ),
    # -- topology mistakes --
    Case(
        "role-unknown",
        TOPOLOGY,
        "labels.manrs.role: 'quagga'",
        _topo(lambda d: _node(d, "transit")["labels"].update({"manrs.role": "quagga"})),
    ),
    Case(
        "asn-not-a-number",
        TOPOLOGY,
        "labels.manrs.asn: 'AS64510' is not an AS number",
        _topo(lambda d: _node(d, "transit")["labels"].update({"manrs.asn": "AS64510"})),
    ),
    Case(
        "router-without-asn",
        TOPOLOGY,
        "a router needs its AS number",
        _topo(lambda d: _node(d, "transit")["labels"].pop("manrs.asn")),
    ),
    Case(
        "link-unknown-node",
        TOPOLOGY,
        "topology.links[2].endpoints: unknown node 'transt'",
        _topo(lambda d: d["topology"]["links"][2].update(endpoints=["edge:eth3", "transt:eth1"])),
    ),
    Case(
        "link-no-interface",
        TOPOLOGY,
        "is not 'node:interface'",
        _topo(lambda d: d["topology"]["links"][0].update(endpoints=["edge", "cust1:eth1"])),
    ),
    Case(
        "kind-not-linux",
        TOPOLOGY,
        "kind: only 'linux' nodes",
        _topo(lambda d: _node(d, "edge").update(kind="ceos")),
    ),
    Case(
        "topology-name-path",
        LAB_FILE,
        "topology: ",
        _lab(lambda d: d.update(topology="../../etc/x")),
    ),
    # -- spec mistakes --
    Case("unknown-field", LAB_FILE, "titel: unknown field", _lab(lambda d: d.update(titel="x"))),
    Case("schema-2", LAB_FILE, "schema:", _lab(lambda d: d.update(schema=2))),
    Case(
        "check-unknown",
        LAB_FILE,
        "check: unknown check 'route_recieved'",
        _lab(lambda d: _check(d, "cust1-reaches-transit").update(check="route_recieved")),
    ),
    Case(
        "check-task-unknown",
        LAB_FILE,
        "task: no task 'nosuch'",
        _lab(lambda d: _check(d, "cust1-reaches-transit").update(task="nosuch")),
    ),
    Case(
        "check-param-type",
        LAB_FILE,
        "with.origin_as:",
        _lab(lambda d: _check(d, "cust1-reaches-transit")["with"].update(origin_as="many")),
    ),
    Case(
        "check-id-twice",
        LAB_FILE,
        "used twice",
        _lab(lambda d: _check(d, "cust2-reaches-transit").update(id="cust1-reaches-transit")),
    ),
    # -- the daemons' own syntax checks (name the lab's file and line, not the state copy) --
    Case(
        "frr-syntax",
        LAB_FILE,
        f"labs/{LAB}/configs/transit.conf",
        _replace(
            f"labs/{LAB}/configs/transit.conf",
            b"neighbor 10.0.10.1 remote-as",
            b"neighbour 10.0.10.1 remote-as",
        ),
        daemons=True,
    ),
    Case(
        "bird-syntax",
        LAB_FILE,
        f"labs/{LAB}/configs/cust1.conf",
        _replace(f"labs/{LAB}/configs/cust1.conf", b"protocol", b"protocoll"),
        daemons=True,
    ),
]


NODE_FIELDS = [
    ("cust1-reaches-transit", "observer"),
    ("cust2-reaches-transit", "observer"),
]


def _set_with(check_id: str, field: str, value: str) -> Callable[[Any], None]:
    def change(d: Any) -> None:
        _check(d, check_id)["with"][field] = value

    return change


def _probe_node(node: str) -> Callable[[Any], None]:
    def change(d: Any) -> None:
        _check(d, "exact-hijack-dropped")["probe"]["announce"]["node"] = node

    return change


def random_cases(seed: int = 14, count: int = 16) -> list[Case]:
    """Seeded mutations: misspelt node names in check parameters and probes, and probe
    lengths that cannot fit their prefix."""
    rng = random.Random(seed)
    cases = []
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    for k in range(count):
        junk = rng.choice("abcdefghijklmnopqrstuvwxyz") + "".join(
            rng.choice(alphabet) for _ in range(rng.randint(0, 10))
        )
        if junk in ("edge", "cust1", "cust2", "transit"):
            junk += "x"
        kind = k % 3
        if kind == 0:
            check_id, field = rng.choice(NODE_FIELDS)
            cases.append(
                Case(
                    f"random-{k}-{field}",
                    LAB_FILE,
                    repr(junk),
                    _lab(_set_with(check_id, field, junk)),
                )
            )
        elif kind == 1:
            cases.append(
                Case(
                    f"random-{k}-probe-node",
                    LAB_FILE,
                    "probe.announce.node",
                    _lab(_probe_node(junk)),
                )
            )
        else:
            lo = rng.choice([rng.randint(-5, 24), rng.randint(29, 140)])
            hi = lo + rng.randint(0, 10)
            if lo >= 25 and hi <= 32:
                hi = 33
            cases.append(
                Case(f"random-{k}-lengths", LAB_FILE, "lengths", _lab(_probe_lengths([lo, hi])))
            )
    return cases


ALL_CASES = CASES + random_cases()
