"""The drivers' RPKI reading (rpki(), rpki_vrps(), routes' validation state) against output
captured from the real daemons by tests/fixtures/capture_rpki.py. The drivers run on a stand-in
node that answers each command with its capture, so the whole read path is tested."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from manrs_lab.drivers import bird_parse, frr_parse
from manrs_lab.drivers.bird import BirdRouter
from manrs_lab.drivers.frr import FrrRouter
from manrs_lab.drivers.rtr import Vrp
from manrs_lab.errors import ExecError
from manrs_lab.runtime.base import ExecResult
from manrs_lab.state import RpkiCacheState, RpkiState

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def capture(daemon: str, label: str, command: str) -> str:
    """The raw output of `command` on node `label`, as capture_rpki.py named it."""
    name = command.replace(" = ", " ").replace(" ", "_").replace("/", "_").replace(":", "-")
    suffix = "json" if daemon == "frr" else "txt"
    return (FIXTURES / daemon / f"rpki-{label}_{name}.{suffix}").read_text()


@dataclass
class StandInNode:
    """A node that answers commands from captures; a command it does not know fails, the way
    bgpd refuses `show rpki prefix-table` before a cache is connected."""

    answers: dict[str, str]
    asn: int = 64500
    name: str = "edge"
    local_dir: None = None
    asked: list[str] = field(default_factory=list)

    @property
    def node(self) -> StandInNode:
        return self

    def exec(self, argv: list[str], *, input_text: str | None = None, timeout: float = 30.0):
        command = " ".join(argv[argv.index("-c") + 1 :] if "-c" in argv else argv[1:])
        self.asked.append(command)
        if command in self.answers:
            return ExecResult(tuple(argv), 0, self.answers[command], "")
        return ExecResult(tuple(argv), 1, "", f"% unknown: {command}")

    def exec_ok(self, argv: list[str], *, input_text: str | None = None) -> str:
        result = self.exec(argv, input_text=input_text)
        if not result.ok:
            raise ExecError(result.stderr)
        return result.stdout


def frr_router(label: str, *commands: str) -> FrrRouter:
    node = StandInNode({c: capture("frr", label, c) for c in commands})
    return FrrRouter(node)  # type: ignore[arg-type]


def bird_router(answers: dict[str, str]) -> BirdRouter:
    return BirdRouter(StandInNode(answers))  # type: ignore[arg-type]


# -- FRR ------------------------------------------------------------------------------------
EDGE_VRPS = {
    Vrp("198.18.0.0/24", 24, 64500),
    Vrp("198.18.1.0/24", 24, 64501),
    Vrp("198.18.10.0/24", 24, 64510),
    Vrp("198.18.11.0/24", 24, 64511),
    Vrp("198.18.20.0/24", 24, 64520),
    Vrp("198.18.21.0/24", 24, 64521),
}


def test_frr_connected_cache_with_its_vrps():
    edge = frr_router("edge", "show rpki cache-connection json", "show rpki prefix-table json")
    assert edge.rpki() == RpkiCacheState(connected=True, vrp_count=6)
    assert set(edge.rpki_vrps()) == EDGE_VRPS


def test_frr_configured_cache_that_does_not_answer_is_not_connected():
    # `show rpki cache-connection json` answers `{}`; bgpd refuses the prefix table.
    edge = frr_router(
        "unreachable", "show rpki cache-connection json", "show rpki cache-server json"
    )
    assert capture("frr", "unreachable", "show rpki cache-connection json").strip() == "{\n}"
    assert "10.255.0.9" in capture("frr", "unreachable", "show rpki cache-server json")
    assert edge.rpki() == RpkiCacheState(connected=False, vrp_count=0, configured=True)
    assert edge.rpki_vrps() == []


def test_frr_without_a_cache_is_not_configured():
    # No `rpki cache`: both connection commands fail; the server list is empty.
    edge = frr_router("unconfigured", "show rpki cache-server json")
    assert edge.rpki() == RpkiCacheState(connected=False, vrp_count=0, configured=False)


def test_frr_prefix_table_holds_both_families_and_max_lengths():
    table = json.loads(capture("frr", "upstream1", "show rpki prefix-table json"))
    vrps = frr_parse.parse_rpki_prefix_table(table)
    assert Vrp("2001:db8::/48", 56, 64500) in vrps  # canonical prefix text, its maxLength
    assert Vrp("2001:db8:3::/48", 48, 64503) in vrps
    assert Vrp("198.18.0.0/24", 24, 64500) in vrps
    assert len(vrps) == table["ipv4PrefixCount"] + table["ipv6PrefixCount"] == 7


@pytest.mark.parametrize(
    ("prefix", "state", "origin"),
    [
        ("198.18.10.0/24", RpkiState.VALID, 64510),
        ("198.18.21.0/24", RpkiState.INVALID, 65551),  # ROA says AS64521
        ("198.18.40.0/24", RpkiState.NOT_FOUND, 64540),  # no ROA
    ],
)
def test_frr_routes_carry_their_validation_state(prefix, state, origin):
    command = f"show bgp ipv4 unicast {prefix} json"
    (route,) = frr_router("edge", command).routes(prefix)
    assert route.rpki_state is state
    assert route.origin_as == origin
    assert route.as_path == tuple(dict.fromkeys((64510, origin)))  # from or through transit


def test_frr_ipv6_route_state_at_a_validating_upstream():
    command = "show bgp ipv6 unicast 2001:db8::/48 json"
    upstream = frr_router("upstream1", command)
    upstream.asn = 64503
    (route,) = upstream.routes("2001:db8::/48")
    assert (route.origin_as, route.rpki_state) == (64500, RpkiState.VALID)


# -- BIRD -----------------------------------------------------------------------------------
def test_bird_established_cache_counts_both_roa_channels():
    protocols = capture("bird", "edge", "show protocols all")
    edge = bird_router(
        {
            "show protocols all": protocols,
            "show route table vrps_v4": capture("bird", "edge", "show route table vrps_v4"),
            "show route table vrps_v6": capture("bird", "edge", "show route table vrps_v6"),
        }
    )
    assert edge.rpki() == RpkiCacheState(connected=True, vrp_count=7)
    assert set(edge.rpki_vrps()) == EDGE_VRPS | {Vrp("2001:db8::/48", 48, 64500)}
    # The tables come from the RPKI protocol's channels, whatever the learner named them.
    assert bird_parse.rpki_roa_tables(protocols) == ["vrps_v4", "vrps_v6"]


def test_bird_cache_still_connecting_is_not_connected():
    text = capture("bird", "connecting", "show protocols all validator")
    assert bird_parse.parse_rpki(text) == RpkiCacheState(connected=False, vrp_count=0)
    assert bird_parse.rpki_roa_tables(text) == ["vrps_v4", "vrps_v6"]


def test_bird_without_rpki_has_no_roa_tables():
    text = capture("bird", "edge", "show protocols all").split("validator  RPKI")[0]
    assert bird_parse.rpki_roa_tables(text) == []
    assert bird_router({"show protocols all": text}).rpki_vrps() == []


def test_bird_roa_table_lines():
    text = capture("bird", "edge", "show route table vrps_v6")
    assert bird_parse.parse_roa_table(text) == [Vrp("2001:db8::/48", 48, 64500)]
    assert bird_parse.parse_roa_table("Table r4:\n") == []
