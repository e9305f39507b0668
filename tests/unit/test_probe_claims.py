"""ProbeBook claims: which checks may announce a prefix (or probe from a node) at the same time."""

from __future__ import annotations

import threading

import pytest

from manrs_lab.errors import LabError
from manrs_lab.grader.engine import ProbeBook

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
