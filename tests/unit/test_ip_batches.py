"""`up` runs a node's consecutive `ip` commands of one family as one `ip -batch`, in order."""

from __future__ import annotations

from manrs_lab.runtime.netns import Step, _failed_batch_line, exec_argv, ip_batches


def steps(*lines: str) -> list[Step]:
    return [Step(None, ("ip", "link", "set", "lo", "up"))] + [
        Step(line, tuple(exec_argv(line))) for line in lines
    ]


def test_consecutive_ip_lines_of_one_family_share_a_batch_in_their_order():
    groups = ip_batches(
        steps(
            "ip addr add 198.18.1.10/24 dev eth1",
            "ip route add default via 198.18.1.1",
            "ip -6 addr add 2001:db8:1::10/64 dev eth1",
            "ip -6 route add default via 2001:db8:1::1",
            "sysctl -w net.ipv4.ip_forward=1",
            "ip addr add 10.0.0.1/30 dev eth2",
        )
    )
    assert [[s.line for s in g] for g in groups] == [
        [None, "ip addr add 198.18.1.10/24 dev eth1", "ip route add default via 198.18.1.1"],
        ["ip -6 addr add 2001:db8:1::10/64 dev eth1", "ip -6 route add default via 2001:db8:1::1"],
        ["sysctl -w net.ipv4.ip_forward=1"],
        ["ip addr add 10.0.0.1/30 dev eth2"],
    ]
    assert groups[1][0].options == ("-6",)
    assert groups[1][1].command == ("route", "add", "default", "via", "2001:db8:1::1")


def test_what_a_batch_line_cannot_carry_runs_alone():
    groups = ip_batches(
        steps(
            "ip -n other addr add 10.0.0.1/30 dev eth1",  # an option with a value
            'ip link set eth1 alias "a # b"',  # quotes and a comment sign
            "ip addr add 10.0.0.5/30 dev eth1",
        )
    )
    assert [len(g) for g in groups] == [1, 1, 1, 1]
    assert not groups[1][0].batchable
    assert not groups[2][0].batchable


def test_a_failed_batch_names_its_line():
    assert _failed_batch_line("Error: Nexthop has invalid gateway.\nCommand failed -:3\n", 4) == 2
    assert _failed_batch_line("something else", 4) == 3
