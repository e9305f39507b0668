"""What "converged" asks of each router: sessions up, expected routes in BGP and in the kernel.

The routers here are stand-ins answering from tables set by each test: what is under test is
how RunningLab combines their answers (the lab tests converge real daemons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manrs_lab.instance import Instance
from manrs_lab.running import RunningLab
from manrs_lab.spec.loader import load_lab
from manrs_lab.state import BgpRoute, BgpSession


@dataclass
class TableRouter:
    name: str
    learned: set[str] = field(default_factory=set)  # prefixes with a path from a peer
    originated: set[str] = field(default_factory=set)  # prefixes it announces itself
    in_kernel: set[str] = field(default_factory=set)

    def sessions(self) -> list[BgpSession]:
        return [BgpSession("10.0.0.1", 64999, "Established")]

    def routes(self, prefix: str | None = None) -> list[BgpRoute]:
        own = [BgpRoute(p, (), 64500, None, True, None) for p in self.originated]
        heard = [BgpRoute(p, (64999,), 64999, "10.0.0.1", True, "10.0.0.1") for p in self.learned]
        return [r for r in own + heard if prefix in (None, r.prefix)]

    def forwards(self, prefix: str) -> bool:
        return prefix in self.in_kernel


def lab_with(routers: dict[str, TableRouter]) -> RunningLab:
    """customer-filtering expects transit to have 198.18.0-2.0/24 and cust1, cust2 10.0/24."""
    lab = load_lab("customer-filtering")
    inst = Instance(name="unit", lab=lab.id, runtime="netns", lab_folder=str(lab.folder))
    running = RunningLab(inst, lab, runtime=None)  # type: ignore[arg-type]
    running._routers.update(routers)  # type: ignore[arg-type]
    return running


def converged_lab() -> dict[str, TableRouter]:
    transit = {"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24"}
    return {
        "edge": TableRouter("edge"),
        "transit": TableRouter("transit", learned=set(transit), in_kernel=set(transit)),
        "cust1": TableRouter("cust1", learned={"198.18.10.0/24"}, in_kernel={"198.18.10.0/24"}),
        "cust2": TableRouter("cust2", learned={"198.18.10.0/24"}, in_kernel={"198.18.10.0/24"}),
    }


def test_routes_in_bgp_and_in_the_kernel_are_converged():
    assert lab_with(converged_lab())._not_converged() == []


def test_a_learned_route_the_kernel_lacks_is_not_converged_yet():
    routers = converged_lab()
    routers["transit"].in_kernel.discard("198.18.1.0/24")
    assert lab_with(routers)._not_converged() == [
        "transit: 198.18.1.0/24 not in its kernel table yet"
    ]


def test_a_missing_route_is_named_before_the_kernel_is_asked():
    routers = converged_lab()
    routers["cust2"].learned.clear()
    assert lab_with(routers)._not_converged() == ["cust2: no route for 198.18.10.0/24 yet"]


def test_a_route_the_router_originates_needs_no_kernel_entry():
    routers = converged_lab()
    routers["cust1"] = TableRouter("cust1", originated={"198.18.10.0/24"})
    assert lab_with(routers)._not_converged() == []
