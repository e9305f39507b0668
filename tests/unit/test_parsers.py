"""Parsers against output captured from the real daemons (tests/fixtures/capture.py)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from manrs_lab.drivers import bird_parse, frr_parse
from manrs_lab.state import BgpRoute, RpkiCacheState, RpkiState, SessionHeard

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def frr(name: str) -> dict:
    return json.loads((FIXTURES / "frr" / f"edge_{name}.json").read_text())


def bird(name: str) -> str:
    return (FIXTURES / "bird" / f"cust1_{name}.txt").read_text()


def test_frr_summary_lists_every_peer_with_state_and_prefix_count():
    sessions = {s.peer: s for s in frr_parse.parse_summary(frr("show_bgp_summary_json"))}
    assert set(sessions) == {"10.0.1.2", "10.0.2.2", "10.0.10.2"}
    assert all(s.established for s in sessions.values())
    assert sessions["10.0.1.2"].remote_as == 64501
    assert sessions["10.0.2.2"].prefixes_received == 3  # its own /24 and two hijacks
    assert sessions["10.0.2.2"].name == "cust2"


def test_frr_prefix_detail_has_both_paths_and_the_best():
    routes = frr_parse.parse_prefix_detail(frr("show_bgp_ipv4_unicast_198.18.1.0_24_json"), 64500)
    by_origin = {r.origin_as: r for r in routes}
    assert set(by_origin) == {64501, 64502}
    legit, hijack = by_origin[64501], by_origin[64502]
    assert legit.best  # the older path wins between equals
    assert not hijack.best
    assert hijack.as_path == (64502,)
    assert hijack.peer == "10.0.2.2"
    assert hijack.next_hop == "10.0.2.2"
    assert all(r.prefix == "198.18.1.0/24" for r in routes)


def test_frr_prefix_detail_of_unknown_prefix_is_empty():
    assert frr_parse.parse_prefix_detail(frr("show_bgp_ipv4_unicast_198.18.99.0_24_json"), 1) == []


def test_frr_table_marks_local_routes_and_origins():
    routes = frr_parse.parse_table(frr("show_bgp_ipv4_unicast_json"), 64500)
    own = [r for r in routes if r.prefix == "198.18.0.0/24"]
    assert own == [BgpRoute("198.18.0.0/24", (), 64500, own[0].next_hop, True, None)]
    more_specific = [r for r in routes if r.prefix == "198.18.1.128/25"]
    assert [(r.origin_as, r.best) for r in more_specific] == [(64502, True)]
    transit = next(r for r in routes if r.prefix == "198.18.10.0/24")
    assert transit.as_path == (64510,)
    assert transit.peer == "10.0.10.2"


def test_frr_as_path_string_with_a_set():
    doc = {"routes": {"192.0.2.0/24": [{"path": "64500 {64501,64502}", "bestpath": True}]}}
    (route,) = frr_parse.parse_table(doc, 1)
    assert route.as_path == (64500, 64501, 64502)


def test_frr_back_to_back_json_documents():
    assert frr_parse.json_documents('{"a": 1}\n{"b": 2}\n') == [{"a": 1}, {"b": 2}]


def test_bird_protocols_gives_the_bgp_session():
    (session,) = bird_parse.parse_protocols_all(bird("show_protocols_all"))
    assert session.name == "edge"
    assert session.peer == "10.0.1.1"
    assert session.remote_as == 64500
    assert session.established
    assert session.prefixes_received == 4
    assert not session.limit_hit


def test_bird_session_whose_import_limit_was_hit():
    text = (FIXTURES / "bird" / "rs_show_protocols_all_limit_hit.txt").read_text()
    sessions = {s.name: s for s in bird_parse.parse_protocols_all(text)}
    assert sessions["content"].limit_hit  # "Import limit: 5 [HIT]", still Established
    assert sessions["content"].established
    assert sessions["content"].prefixes_received == 5
    assert not sessions["access"].limit_hit  # a limit, not hit
    assert not sessions["regional"].limit_hit


def test_bird_sessions_time_in_their_state_from_since():
    text = (FIXTURES / "bird" / "rs_show_protocols_all_restarted.txt").read_text()
    now = datetime(2026, 12, 7, 0, 11, 49, 659000)  # 2 s after content's limit restarted it
    sessions = {s.name: s for s in bird_parse.parse_protocols_all(text, now)}
    assert sessions["content"].up_for == pytest.approx(2.0)
    assert sessions["access"].up_for == pytest.approx(7.891)
    # a Since later in the day than the read is yesterday's (BIRD writes no date for 20 h)
    early = datetime(2026, 12, 8, 0, 11, 46, 659000)
    wrapped = {s.name: s for s in bird_parse.parse_protocols_all(text, early)}
    assert wrapped["content"].up_for == pytest.approx(86399.0)
    assert bird_parse.parse_protocols_all(text)[0].up_for is None  # no clock, no guess


def test_bird_since_as_a_date_is_at_least_twenty_hours():
    now = datetime(2026, 12, 7, 12, 0)
    assert bird_parse._in_state_for("2026-12-05", None, now) == bird_parse.LONG_AGO
    assert bird_parse._in_state_for("2026-12-07", "11:59:58.500", now) == pytest.approx(1.5)


def test_frr_paths_being_withdrawn_are_gone():
    # cust2 had just withdrawn its probe: bgpd still lists it, marked "removed"
    detail = json.loads(
        (
            FIXTURES / "frr" / "cust2_removed_show_bgp_ipv4_unicast_198.18.77.0_24_json.json"
        ).read_text()
    )
    assert detail["paths"][0]["removed"]
    assert frr_parse.parse_prefix_detail(detail, 64502) == []
    table = json.loads(
        (FIXTURES / "frr" / "cust2_removed_show_bgp_ipv4_unicast_json.json").read_text()
    )
    assert "198.18.77.0/24" in table["routes"]
    prefixes = {r.prefix for r in frr_parse.parse_table(table, 64502)}
    assert "198.18.77.0/24" not in prefixes
    assert "198.18.2.0/24" in prefixes  # its own, still there


def test_frr_session_time_in_state_is_an_upper_bound():
    sessions = frr_parse.parse_summary(frr("show_bgp_summary_json"))
    # "peerUptimeMsec": 1000 counts whole seconds: up at most 2 s
    assert {s.up_for for s in sessions} == {2.0}


def test_bird_routes_with_paths_origins_and_local_statics():
    routes = {r.prefix: r for r in bird_parse.parse_routes_all(bird("show_route_all"), 64501)}
    assert set(routes) == {
        "198.18.0.0/24",
        "198.18.1.0/24",
        "198.18.1.128/25",
        "198.18.2.0/24",
        "198.18.10.0/24",
    }
    hijack = routes["198.18.1.128/25"]
    assert hijack.as_path == (64500, 64502)
    assert hijack.origin_as == 64502
    assert hijack.best
    assert hijack.peer == "10.0.1.1"
    own = routes["198.18.1.0/24"]
    assert own.as_path == ()
    assert own.origin_as == 64501
    assert own.peer is None


def test_bird_route_filter_output_and_banner():
    routes = bird_parse.parse_routes_all(bird("show_route_all_where_net_198.18.0.0_24"), 64501)
    assert [(r.prefix, r.as_path) for r in routes] == [("198.18.0.0/24", (64500,))]
    assert bird_parse.strip_banner("BIRD 2.0.12 ready.\nTable master4:") == "Table master4:"


def test_bird_second_route_for_the_same_net_keeps_the_prefix():
    text = (FIXTURES / "bird" / "b1_show_route_all_where_net_198.18.50.0_24.txt").read_text()
    first, second = bird_parse.parse_routes_all(text, 64501)
    assert (first.prefix, first.best, first.origin_as, first.peer) == (
        "198.18.50.0/24",
        True,
        64500,
        "10.0.1.1",
    )
    assert (second.prefix, second.best, second.origin_as, second.peer) == (
        "198.18.50.0/24",
        False,
        64502,
        "10.1.2.2",
    )


def test_bird_rpki_cache_state_and_sessions_from_one_output():
    text = (FIXTURES / "bird" / "b1_show_protocols_all.txt").read_text()
    assert bird_parse.parse_rpki(text) == RpkiCacheState(connected=True, vrp_count=3)
    assert {s.name for s in bird_parse.parse_protocols_all(text)} == {"r1", "r2"}


def test_bird_rpki_without_a_cache_is_disconnected():
    assert bird_parse.parse_rpki(bird("show_protocols_all")) == RpkiCacheState(False, 0, False)


def test_frr_rpki_cache_state_and_validation_state():
    connections = json.loads(
        (FIXTURES / "frr" / "r1_show_rpki_cache-connection_json.json").read_text()
    )
    table = json.loads((FIXTURES / "frr" / "r1_show_rpki_prefix-table_json.json").read_text())
    assert frr_parse.parse_rpki(connections, table) == RpkiCacheState(connected=True, vrp_count=3)
    doc = json.loads(
        (FIXTURES / "frr" / "r1_show_bgp_ipv4_unicast_198.18.50.0_24_json.json").read_text()
    )
    own = [r for r in frr_parse.parse_prefix_detail(doc, 64500) if r.peer is None]
    # r1 originates 198.18.50.0/24 but the ROA names AS64502: origin-invalid.
    assert [r.rpki_state for r in own] == [RpkiState.INVALID]


def test_frr_zebra_installed_route_is_what_the_kernel_forwards_with():
    bgp = frr("show_ip_route_198.18.1.0_24_json")
    assert frr_parse.installed(bgp, "198.18.1.0/24")
    assert not frr_parse.installed(bgp, "198.18.1.0/25")  # only the exact prefix counts
    assert frr_parse.installed(frr("show_ip_route_10.0.1.0_30_json"), "10.0.1.0/30")
    # Before the kernel acknowledges it, zebra's entry is the same without `installed`.
    pending = {
        p: [{k: v for k, v in e.items() if k != "installed"} for e in es] for p, es in bgp.items()
    }
    assert not frr_parse.installed(pending, "198.18.1.0/24")


def test_frr_neighbours_give_message_counts_per_established_session():
    heard = {h.peer: h for h in frr_parse.parse_heard(frr("show_bgp_neighbors_json"))}
    assert set(heard) == {"10.0.1.2", "10.0.2.2", "10.0.10.2"}
    for h in heard.values():
        assert h.received is not None
        assert h.received >= 3  # OPEN, KEEPALIVE, UPDATEs
        assert h.silent_for is not None
        assert h.silent_for <= 9


def test_bird_hold_timer_tells_how_long_since_the_last_message():
    (heard,) = bird_parse.parse_heard(bird("show_protocols_all"))
    assert heard.peer == "10.0.1.1"
    assert heard.received is None
    assert heard.silent_for == pytest.approx(9 - 8.896)


def test_bird_connections_bytes_received_by_neighbour():
    received = bird_parse.parse_ss_received(bird("ss_bgp_established"))
    assert received == {"10.0.1.1": 8727, "fd00:0:1::1": 12729}


def test_a_connection_without_data_yet_and_noise_are_read_safely():
    text = (
        "0      0           10.0.11.2:179      10.0.11.1:53702\n"
        "\t bbr wscale:10,10 rto:204 lastsnd:2132\n"
        "garbage line\n"
    )
    assert bird_parse.parse_ss_received(text) == {"10.0.11.1": 0}


def test_heard_since_uses_counters_where_there_are_any():
    before = SessionHeard("p", received=10, silent_for=2.0)
    assert not SessionHeard("p", received=10, silent_for=0.0).heard_since(before, 3.0)
    assert SessionHeard("p", received=11, silent_for=3.0).heard_since(before, 3.0)
    bird_before = SessionHeard("p", silent_for=2.0)
    assert SessionHeard("p", silent_for=0.5).heard_since(bird_before, 1.0)
    assert not SessionHeard("p", silent_for=3.5).heard_since(bird_before, 1.0)


def test_a_bird_hold_timer_restarted_with_jitter_counts_as_heard():
    # Read with 7 s left of 9; a keepalive 1 s later restarted it at 6.8 s (BIRD's jitter);
    # 3 s after that 3.8 s are left: "silent for 5.2 s" after 4 s, yet a message came.
    before = SessionHeard("p", silent_for=2.0)
    assert SessionHeard("p", silent_for=5.2).heard_since(before, 4.0)
    # Not restarted: the silence grew by the time gone by.
    assert not SessionHeard("p", silent_for=5.95).heard_since(before, 4.0)
