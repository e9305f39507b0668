"""Probe ROAs (grader/roa_probe.py): drawn for every seed, clear of the lab, as asked."""

from __future__ import annotations

import json
import random
from ipaddress import ip_network

import pytest

from manrs_lab.grader.engine import _draw_probes
from manrs_lab.grader.roa_probe import draw_probe_roas
from manrs_lab.paths import labs_dir
from manrs_lab.roa import rov_state
from manrs_lab.spec.loader import load_lab
from manrs_lab.state import RpkiState


@pytest.mark.parametrize("lab_id", ["rpki-rov", "rpki-rov-bird", "ixp-route-server"])
def test_probe_roas_fit_for_every_seed_and_give_the_state_asked(lab_id):
    lab = load_lab(labs_dir() / lab_id)
    asns = {n.name: n.asn for n in lab.topology.nodes.values() if n.asn}
    vrps = json.loads((labs_dir() / lab_id / "configs" / "rpki.json").read_text())["roas"]
    taken = [ip_network(v["prefix"]) for v in vrps]
    by_id = {c.id: c for c in lab.spec.checks}
    for seed in range(300):
        draws = _draw_probes(lab.spec.checks, random.Random(seed), frozenset(asns.values()))
        roas = draw_probe_roas(lab.spec.checks, draws, taken, random.Random(seed), asns)
        published = [v for vs in roas.vrps.values() for v in vs]
        for v in published:
            assert not any(ip_network(v.prefix).overlaps(t) for t in taken)
        for cid, vs in roas.vrps.items():
            chk, drawn = by_id[cid], roas.draws[cid]
            assert chk.probe is not None
            assert chk.probe.roa is not None
            origin = drawn.as_path[-1] if drawn.as_path else asns[chk.probe.announce.node]
            lo = chk.probe.roa.max_length[0]
            want = RpkiState.VALID if chk.probe.roa.asn == "origin" and lo >= 0 else None
            for prefix in drawn.prefixes:
                state = rov_state(prefix, origin, published)
                assert state is (want or RpkiState.INVALID), (seed, cid, prefix, vs)
