"""The IRR converter: RPSL parsing, as-set expansion, bgpq4-like BIRD and FRR output."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from manrs_lab import irr
from manrs_lab.cli import main

REPO = Path(__file__).resolve().parents[2]
LAB_DB = REPO / "labs" / "ixp-route-server" / "irr" / "ixp.db"

RPSL = """\
# comment line
% server banner line
as-set:   AS-TOP
members:  AS64500, AS-MID   # end-of-line comment
members:  AS64501
source:   TEST

as-set:   AS-MID
members:  AS64502,
          AS-LOOP
+         AS64503

as-set:   AS-LOOP
members:  AS-TOP

as-set:   AS-V4ONLY
members:  AS64503

route:    198.18.0.0/24
origin:   AS64500

route:    198.18.1.0/24
origin:   as64501

route:    198.18.2.0/23
origin:   AS64502

route:    198.18.3.0/24
origin:   AS64503

route:    198.18.0.0/24
descr:    the same prefix registered twice
origin:   AS64500

route6:   2001:db8::/48
origin:   AS64500

route:    198.18.99.0/24
origin:   AS65551
"""


@pytest.fixture
def db() -> irr.IrrDatabase:
    return irr.load(RPSL)


def test_objects_continuations_and_comments():
    objects = irr.parse_objects(RPSL)
    assert [o.kind for o in objects[:4]] == ["as-set"] * 4
    mid = objects[1]
    assert mid.values("members") == ["AS64502, AS-LOOP AS64503"]
    assert objects[0].values("members") == ["AS64500, AS-MID", "AS64501"]
    assert objects[0].line == 3


def test_as_set_expands_recursively_and_survives_loops(db: irr.IrrDatabase):
    # continuation with "+" joins without a comma: RPSL lists may be space separated too
    assert db.as_sets["AS-MID"] == ["AS64502", "AS-LOOP AS64503"] or db.expand("AS-MID")
    assert db.expand("as-top") >= {64500, 64501, 64502}
    assert 65551 not in db.expand("AS-TOP")


def test_prefixes_are_sorted_deduplicated_and_per_family(db: irr.IrrDatabase):
    v4 = db.prefixes({64500, 64501, 64502})
    assert v4 == [ip_network(p) for p in ("198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/23")]
    assert db.prefixes({64500}, version=6) == [ip_network("2001:db8::/48")]


def test_bird_output_is_a_define_with_optional_more_specifics():
    nets = [ip_network("198.18.0.0/24"), ip_network("198.18.2.0/23")]
    assert irr.render(nets, "AS_TOP") == (
        "define AS_TOP = [\n    198.18.0.0/24,\n    198.18.2.0/23\n];\n"
    )
    text = irr.render(nets, "AS_TOP", max_length=24)
    assert "198.18.0.0/24,\n" in text  # already at the limit: exact
    assert "198.18.2.0/23{23,24}" in text


def test_frr_output_is_a_prefix_list():
    nets = [ip_network("198.18.2.0/23")]
    assert irr.render(nets, "AS_TOP", "frr", max_length=24) == (
        "no ip prefix-list AS_TOP\nip prefix-list AS_TOP permit 198.18.2.0/23 le 24\n"
    )
    v6 = irr.render([ip_network("2001:db8::/48")], "X", "frr")
    assert "ipv6 prefix-list X permit 2001:db8::/48" in v6


def test_set_names_become_filter_names():
    assert irr.set_name("AS-CONTENT") == "AS_CONTENT"
    assert irr.set_name("AS64500:AS-CUSTOMERS") == "AS_CUSTOMERS"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("route: 198.18.0.0/24\n", "needs one 'origin: ASn'"),
        ("route: 198.18.0.1/24\norigin: AS1\n", "host bits set"),
        ("route: 2001:db8::/48\norigin: AS1\n", "in a route object"),
        ("  continued\n", "continuation line outside an object"),
        ("not an attribute\n", "expected 'attribute: value'"),
    ],
)
def test_bad_rpsl_names_the_line(text: str, message: str):
    with pytest.raises(irr.IrrError, match=message):
        irr.load(text)


def test_unknown_sets_are_errors(db: irr.IrrDatabase):
    with pytest.raises(irr.IrrError, match="no as-set AS-NONE"):
        db.expand("AS-NONE")
    broken = irr.load("as-set: AS-A\nmembers: AS1, AS-GONE\n")
    with pytest.raises(irr.IrrError, match="AS-GONE"):
        broken.expand("AS-A")


def test_build_filter_from_a_file(tmp_path: Path):
    path = tmp_path / "db.rpsl"
    path.write_text(RPSL)
    text = irr.build_filter(path, "AS-TOP", name="CUSTOMERS")
    assert text.startswith("# AS-TOP: AS64500, AS64501, AS64502, AS64503 -> 4 prefixes\n")
    assert "define CUSTOMERS = [" in text
    with pytest.raises(irr.IrrError, match="no route6 objects"):
        irr.build_filter(path, "AS-V4ONLY", version=6)
    assert "2001:db8::/48" in irr.build_filter(path, "AS-MID", version=6)


def test_the_ixp_labs_data(capsys: pytest.CaptureFixture[str]):
    """The shipped IRR file: AS-ACCESS pulls in its upstream's set (the lab's leak)."""
    assert main(["irr", str(LAB_DB), "--as-set", "AS-ACCESS"]) == 0
    out = capsys.readouterr().out
    assert "define AS_ACCESS = [" in out
    assert "198.19.17.0/24" in out  # from AS-TRANSIT, nested
    assert main(["irr", str(LAB_DB), "--as-set", "AS-REGIONAL", "--format", "frr"]) == 0
    out = capsys.readouterr().out
    assert "ip prefix-list AS_REGIONAL permit 198.18.7.0/24" in out
    assert "ip prefix-list AS_REGIONAL permit 198.18.9.0/24" in out
    assert main(["irr", str(LAB_DB), "--as-set", "AS-NOPE"]) == 2
