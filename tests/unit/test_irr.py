"""`manrs-lab irr` before it reaches bgpq4: the request is checked (nothing unchecked reaches
bgpq4's command line) and bgpq4's arguments are the ones an operator would type.

bgpq4 itself, against the real IRRd, is tested in tests/registry/test_lab_registry.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from manrs_lab import irr
from manrs_lab.cli import main


def test_bgpq4_arguments_for_bird_and_frr():
    assert irr.bgpq4_args("AS-EDGE") == ["-4", "-l", "AS_EDGE", "-b", "AS-EDGE"]
    assert irr.bgpq4_args("AS64500:AS-CUSTOMERS", fmt="frr", version=6, max_length=56) == [
        "-6",
        "-l",
        "AS_CUSTOMERS",
        "-R",
        "56",
        "AS64500:AS-CUSTOMERS",
    ]
    assert irr.bgpq4_args("AS64501", name="CUST1-IN", fmt="frr") == [
        "-4",
        "-l",
        "CUST1-IN",
        "AS64501",
    ]


def test_set_names_become_filter_names():
    assert irr.set_name("AS-CONTENT") == "AS_CONTENT"
    assert irr.set_name("AS64500:AS-CUST-1") == "AS_CUST_1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"as_set": "-h evil.example"}, "an as-set name"),
        ({"as_set": "AS-X;rm"}, "an as-set name"),
        ({"as_set": "AS4294967296"}, "an as-set name"),
        ({"as_set": "AS-X", "fmt": "junos"}, "format 'junos'"),
        ({"as_set": "AS-X", "max_length": 33}, "IPv4 prefix is /0 to /32"),
        ({"as_set": "AS-X", "max_length": 129, "version": 6}, "IPv6 prefix is /0 to /128"),
        ({"as_set": "AS-X", "name": "-b"}, "--name '-b'"),
    ],
)
def test_bad_requests_are_refused_before_bgpq4(kwargs: dict[str, object], message: str):
    with pytest.raises(irr.IrrError, match=message):
        irr.bgpq4_args(**kwargs)  # type: ignore[arg-type]


def test_empty_answers_are_told_apart():
    assert not irr.has_prefixes("AS_X = [\n];\n")  # bgpq4 -b, unknown as-set
    assert not irr.has_prefixes(
        "no ip prefix-list X\n! generated prefix-list X is empty\nip prefix-list X deny 0.0.0.0/0\n"
    )
    assert irr.has_prefixes("AS_X = [\n    198.18.1.0/24\n];\n")


def test_unreadable_or_non_utf8_files_are_named(tmp_path: Path):
    with pytest.raises(irr.IrrError, match="cannot read"):
        irr.build_filter(tmp_path / "missing.db", "AS-X")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"route: 198.18.0.0/24\norigin: AS1\ndescr: caf\xe9\n")
    with pytest.raises(irr.IrrError, match=r"bad.db: line 3: byte 0xe9 is not UTF-8"):
        irr.build_filter(bad, "AS-X")


def test_the_cli_wants_a_file_or_a_registry(capsys: pytest.CaptureFixture[str]):
    assert main(["irr", "--as-set", "AS-X"]) == 2
    assert "name an RPSL FILE or a running --registry NAME" in capsys.readouterr().err
    assert main(["irr", "x.db", "--registry", "r1", "--as-set", "AS-X"]) == 2
    assert main(["irr", "--registry", "no-such-registry", "--as-set", "AS-X"]) == 2
    assert "no registry no-such-registry" in capsys.readouterr().err
