"""The configuration a probe sends bgpd: one address-family block per family, every prefix in
it (bgpd matches each command against its whole command graph, so fewer lines cost it less)."""

from __future__ import annotations

from types import SimpleNamespace

from manrs_lab.drivers.frr import FrrRouter

PREFIXES = ["198.18.1.0/25", "2001:db8:1::/49", "10.1.0.0/16", "::/0", "0.0.0.0/0"]


def router() -> FrrRouter:
    handle = SimpleNamespace(name="edge", node=SimpleNamespace(asn=64500), local_dir=None)
    return FrrRouter(handle)  # type: ignore[arg-type]


def blocks(commands: list[str]) -> dict[str, list[str]]:
    """address-family -> the lines inside its block(s)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in commands:
        if line.startswith("address-family "):
            assert current is None
            current = line.split()[1]
            assert current not in out, "one block per family"
            out[current] = []
        elif line == "exit-address-family":
            current = None
        elif current is not None:
            out[current].append(line)
    return out


def test_announce_puts_each_family_in_one_block():
    commands = router()._network_commands(PREFIXES, withdraw=False, as_path=(64511,))
    assert commands[0] == "configure terminal"
    assert commands[-1] == "end"
    assert "router bgp 64500" in commands
    found = blocks(commands)
    (name,) = {line.split()[-1] for lines in found.values() for line in lines}
    assert name.startswith("MANRS-PROBE")
    assert found == {
        "ipv4": [f"network {p} route-map {name}" for p in PREFIXES if ":" not in p],
        "ipv6": [f"network {p} route-map {name}" for p in PREFIXES if ":" in p],
    }


def test_withdraw_of_one_family_has_no_empty_block_for_the_other():
    v4 = [p for p in PREFIXES if ":" not in p]
    found = blocks(router()._network_commands(v4, withdraw=True))
    assert found == {"ipv4": [f"no network {p}" for p in v4]}
