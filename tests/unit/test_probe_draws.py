"""Probe draws cover the whole space a rule covers (issue 12): every special-purpose range, both
sides of every boundary, whole ASN classes, never the lab's own Internet or ASNs."""

from __future__ import annotations

import random
from ipaddress import ip_network

import pytest
from pydantic import ValidationError

from manrs_lab.grader.engine import draw_as_path
from manrs_lab.spec.lab import Announce, Covering, MoreSpecific, Outside, SpecialPurpose
from manrs_lab.special_purpose import (
    SPECIAL_RANGES,
    bogon_of,
    bogon_ranges,
    special_asn,
)

LAB_INTERNET = [ip_network("198.18.0.0/15"), ip_network("2001:db8::/32")]


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_special_purpose_draws_one_prefix_inside_every_probeable_bogon_range(family: str):
    draw = SpecialPurpose(special_purpose=family)
    version = 4 if family == "ipv4" else 6
    shortest, longest = (8, 24) if version == 4 else (16, 48)
    probeable = [
        r for r in bogon_ranges(version) if not r.bgp_discards and r.network.prefixlen <= longest
    ]
    lengths_seen: set[int] = set()
    for seed in range(40):
        prefixes = [ip_network(p) for p in draw.draws(random.Random(seed))]
        assert len(prefixes) == len(probeable)
        for r, net in zip(probeable, prefixes, strict=True):
            assert net.subnet_of(r.network)  # type: ignore[arg-type]
            assert shortest <= net.prefixlen <= longest or net.prefixlen == r.network.prefixlen
            assert bogon_of(str(net)) is not None
            assert not any(net.overlaps(x) for x in LAB_INTERNET if x.version == net.version)  # type: ignore[arg-type]
            lengths_seen.add(net.prefixlen)
    # lengths vary over the whole allowed range, the longest one included
    assert longest in lengths_seen
    assert len(lengths_seen) > 6


def test_the_table_covers_more_than_any_guide_names():
    names = {r.prefix for r in bogon_ranges()}
    for prefix in ("192.0.2.0/24", "203.0.113.0/24", "100::/64", "2001:10::/28", "fec0::/10"):
        assert prefix in names
    assert bogon_of("198.18.3.0/24") is None  # the lab's Internet is not a bogon
    assert bogon_of("2001:db8:5::/48") is None
    assert bogon_of("10.1.2.0/24") is not None
    assert all(r.rfc.startswith("RFC") for r in SPECIAL_RANGES)


def test_more_specific_lengths_must_fit_the_prefix():
    with pytest.raises(ValidationError, match="longer than /24"):
        MoreSpecific(more_specific_of="198.18.1.0/24", lengths=(24, 28))
    with pytest.raises(ValidationError, match="/0 to /32"):
        MoreSpecific(more_specific_of="198.18.1.0/24", lengths=(33, 40))
    with pytest.raises(ValidationError, match="shorter than /24"):
        Covering(covering_of="198.18.1.0/24", lengths=(16, 24))


def test_covering_draws_supernets_of_every_length_in_range():
    draw = Covering(covering_of="198.18.1.0/24", lengths=(16, 23))
    seen = {draw.draw_one(random.Random(s)) for s in range(200)}
    assert {ip_network(p).prefixlen for p in seen} == set(range(16, 24))
    assert all(ip_network("198.18.1.0/24").subnet_of(ip_network(p)) for p in seen)  # type: ignore[arg-type]


def test_outside_never_overlaps_registered_space_and_spreads():
    draw = Outside(
        outside_of=["198.18.1.0/24", "198.18.0.0/24"],
        within=["198.18.0.0/15"],
        lengths=(16, 28),
        count=3,
    )
    seen = set()
    for seed in range(100):
        for p in draw.draws(random.Random(seed)):
            net = ip_network(p)
            assert net.subnet_of(ip_network("198.18.0.0/15"))  # type: ignore[arg-type]
            assert not net.overlaps(ip_network("198.18.1.0/24"))
            assert not net.overlaps(ip_network("198.18.0.0/24"))
            seen.add(net.prefixlen)
    assert seen == set(range(16, 29))


def test_as_path_draws_whole_classes_and_pads_to_the_exact_length():
    announce = Announce(
        node="peer",
        prefixes=["198.18.5.0/24"],
        as_path=[{"asn": "private"}, 64497],
        as_path_length=51,
    )
    lab = frozenset({64500, 64501, 64510, 64511})
    privates = set()
    for seed in range(300):
        path = draw_as_path(announce, random.Random(seed), lab)
        assert len(path) == 50  # + the announcing node's own AS = 51 hops
        assert path[-1] == 64497
        assert not lab & set(path[:-2])
        kind = special_asn(path[-2])
        assert kind is not None
        assert kind.kind == "private"
        privates.add(path[-2])
    assert any(a > 4200000000 for a in privates)  # 32-bit private ASNs are drawn too
    assert any(a < 65535 for a in privates)
    assert {4200000000, 4294967294} & privates or {64512, 65534} & privates


def test_as_path_length_shorter_than_the_path_is_refused():
    with pytest.raises(ValidationError, match="as_path_length"):
        Announce(node="peer", prefixes=["198.18.5.0/24"], as_path=[1, 2, 3], as_path_length=3)


@pytest.mark.parametrize("kind", ["private", "reserved", "public"])
@pytest.mark.parametrize("bits", [16, 32])
def test_asn_draws_of_one_size_stay_in_that_size(kind: str, bits: int):
    announce = Announce(
        node="peer", prefixes=["198.18.5.0/24"], as_path=[{"asn": kind, "bits": bits}]
    )
    lab = frozenset({64500, 64501, 64510, 64511})
    for seed in range(100):
        (asn,) = draw_as_path(announce, random.Random(seed), lab)
        assert (asn <= 65535) == (bits == 16)
        found = special_asn(asn)
        assert found is not None
        assert found.kind == ("documentation" if kind == "public" else kind)
        assert asn not in lab


def test_asn_draws_between_two_numbers_stay_in_that_part_of_the_class():
    announce = Announce(
        node="peer",
        prefixes=["198.18.5.0/24"],
        as_path=[{"asn": "reserved", "between": [65536, 4294967294]}],
    )
    drawn = {draw_as_path(announce, random.Random(seed))[0] for seed in range(200)}
    assert all(65552 <= a <= 131071 for a in drawn)  # IANA-reserved 32-bit, not 4294967295
    assert {65552, 131071} & drawn  # its ends are drawn now and then


def test_asn_draw_between_numbers_outside_the_class_is_refused():
    with pytest.raises(ValidationError, match="no private AS number"):
        Announce(
            node="peer",
            prefixes=["198.18.5.0/24"],
            as_path=[{"asn": "private", "between": [1, 1000]}],
        )


def test_a_drawn_origin_is_never_an_as_a_roa_authorizes():
    """ixp-route-server's ROA authorizes AS64512, the first 16-bit private ASN: a boundary the
    draw picks often. Drawn as an "invalid" probe's origin, it made the route valid."""
    announce = Announce(
        node="regional", prefixes=["198.18.12.0/24"], as_path=[64507, {"asn": "private"}]
    )
    origins = {draw_as_path(announce, random.Random(s))[-1] for s in range(400)}
    assert 64512 in origins  # without the ROA's AS excluded, it is drawn
    excluded = frozenset({64505, 64507, 64512})
    for seed in range(400):
        assert draw_as_path(announce, random.Random(seed), excluded)[-1] not in excluded
