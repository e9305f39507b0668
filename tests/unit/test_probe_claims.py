"""ProbeBook claims: which checks may announce a prefix (or probe from a node) at the same time;
and when a probe kept out counts (the learner's sessions with its node stayed up)."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from manrs_lab.drivers import bird_parse
from manrs_lab.errors import LabError
from manrs_lab.grader.context import ProbeResult
from manrs_lab.grader.engine import ProbeBook, _kept_out_by_limit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bird"

P = "198.18.12.0/24"


def claim_in_thread(book: ProbeBook, check: str, wants: dict[str, bool]) -> threading.Event:
    """Claim from another thread; the event is set once the claim is taken."""
    taken = threading.Event()

    def run() -> None:
        book.claim(check, wants, timeout=10)
        taken.set()

    threading.Thread(target=run, daemon=True).start()
    return taken


def test_shared_prefixes_are_claimed_at_once():
    book = ProbeBook()
    book.claim("a", {P: False, "@content": False}, timeout=1)
    assert book.claim("b", {P: False, "@regional": False}, timeout=1) < 1


def test_an_exclusive_probe_waits_for_the_prefix_and_holds_it_alone():
    book = ProbeBook()
    book.claim("a", {P: False}, timeout=1)
    exclusive = claim_in_thread(book, "b", {P: True, "198.19.10.0/24": True})
    assert not exclusive.wait(0.3)  # "a" still announces P
    book.unclaim("a", [P])
    assert exclusive.wait(5)
    later = claim_in_thread(book, "c", {P: False})
    assert not later.wait(0.3)  # nobody joins an exclusive claim
    book.unclaim("b", [P, "198.19.10.0/24"])
    assert later.wait(5)


def test_a_check_alone_on_its_node_waits_for_the_nodes_other_probes():
    book = ProbeBook()
    book.claim("a", {"198.18.8.0/24": False, "@content": False}, timeout=1)
    book.claim("b", {"198.18.5.0/24": False, "@access": False}, timeout=1)
    alone = claim_in_thread(book, "c", {"198.18.3.0/24": False, "@content": True})
    assert not alone.wait(0.3)  # "a" probes from content
    book.unclaim("a", ["198.18.8.0/24", "@content"])
    assert alone.wait(5)  # "b" probes from access: no matter


def test_a_claim_that_never_comes_free_is_an_error_naming_it():
    book = ProbeBook()
    book.claim("a", {P: True}, timeout=1)
    with pytest.raises(LabError, match=r"check b: other checks kept announcing 198\.18\.12\.0/24"):
        book.claim("b", {P: False}, timeout=0.2)


def route_server(fixture: str, now: datetime | None = None) -> list[Any]:
    return bird_parse.parse_protocols_all((FIXTURES / fixture).read_text(), now)


CONTENT = ProbeResult(node="content", asn=64505, prefixes=("198.18.10.0/24",))
ACCESS = ProbeResult(node="access", asn=64506, prefixes=("198.18.10.0/24",))
AT_RS: Any = SimpleNamespace(learner="rs")


def test_a_probe_kept_out_counts_only_while_the_session_stayed_up():
    # content's import limit restarted its session (`action restart`); read 2 s later
    sessions = route_server(
        "rs_show_protocols_all_restarted.txt", datetime(2026, 12, 7, 0, 11, 49, 659000)
    )
    why = _kept_out_by_limit(AT_RS, CONTENT, sessions, probed_for=5.0)
    assert why is not None
    assert "went down and came back up" in why
    assert _kept_out_by_limit(AT_RS, CONTENT, sessions, probed_for=1.5) is None  # up before
    assert _kept_out_by_limit(AT_RS, ACCESS, sessions, probed_for=5.0) is None


def test_a_probe_kept_out_by_a_hit_limit_does_not_count():
    sessions = route_server("rs_show_protocols_all_limit_hit.txt")
    why = _kept_out_by_limit(AT_RS, CONTENT, sessions, probed_for=1.0)
    assert why is not None
    assert "prefix limit for content was hit" in why
    assert _kept_out_by_limit(AT_RS, ACCESS, sessions, probed_for=1.0) is None
