"""harness/base/devlink.py: fw_devlink's supplier links (drivers/base/core.c,
drivers/of/property.c) holding a consumer's probe until its supplier binds."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from harness.base import dd
from harness.base.devlink import DevlinkState, supplier_paths
from harness.board import Board, IommuMapEntry, IommuRef, Node
from harness.boot import ABSENT, BootConfig, DriverConfig
from harness.errno import EPROBE_DEFER
from harness.run import run_scenario
from harness.variant import V614
from tests.harness.test_oracles import rk_board


def test_supplier_paths_follow_of_supplier_bindings() -> None:
    """Table order of of_supplier_bindings[]; the .optional IOMMU and DMA
    bindings only when fw_devlink_is_strict() (property.c:1512); msi-map is
    no supplier binding in 6.12, and msi-parent's providers are irq domains
    initialised without a device, never linked (core.c:2250)."""
    clk = Node("/clk", phandle=1, props={"#clock-cells": [1]})
    pd = Node("/pd", phandle=2, props={"#power-domain-cells": [0]})
    its = Node("/its", phandle=3, props={"#msi-cells": [1]})
    dma = Node("/dma", phandle=4, props={"#dma-cells": [1]})
    con = Node("/dev", iommus=(IommuRef("/smmu", (5,)),),
               iommu_map=(IommuMapEntry(0, "/smmu2", 0, 0x100),),
               props={"clocks": [1, 7, 1, 8], "power-domains": [2], "msi-map": [0, 3, 0, 0x100],
                      "dmas": [4, 1], "msi-parent": [3, 9]})
    by_ph = {1: clk, 2: pd, 3: its, 4: dma}
    assert supplier_paths(con, by_ph) == ["/clk", "/pd"]
    assert supplier_paths(con, by_ph, strict=True) == ["/clk", "/smmu", "/smmu2", "/dma", "/pd"]


def test_no_link_to_disabled_suppliers_or_cycles() -> None:
    """of_link_to_phandle() (property.c:1144): no link when the supplier or
    an ancestor is disabled.  A child waiting for its parent is a real link;
    a parent waiting for its child, like two nodes waiting for each other, is
    a cycle __fw_devlink_relax_cycles() finds (core.c:2055) and not enforced."""
    nodes = [Node("/"), Node("/a", iommus=(IommuRef("/b", ()),)), Node("/b", iommus=(IommuRef("/a", ()),)),
             Node("/off", status="disabled"), Node("/c", iommus=(IommuRef("/off", ()),)),
             Node("/offbus", status="disabled"), Node("/offbus/smmu", iommu_cells=0),
             Node("/d", iommus=(IommuRef("/offbus/smmu", ()),)),
             Node("/p", iommu_cells=0), Node("/p/child", iommus=(IommuRef("/p", ()),)),
             Node("/q", iommus=(IommuRef("/q/smmu", ()),)), Node("/q/smmu", iommu_cells=0)]
    st = DevlinkState("on", nodes, [], strict=True)
    assert st.suppliers == {"/p/child": ["/p"]}


def test_no_link_to_a_supplier_initialised_without_a_driver() -> None:
    """fwnode_init_without_drv() (core.c:1949): a provider CLK_OF_DECLARE,
    IRQCHIP_DECLARE or an early genpd init set up has FWNODE_FLAG_INITIALIZED;
    fw_devlink_create_devlink() links nothing to it (core.c:2231, 2252)."""
    nodes = [Node("/"), Node("/osc", phandle=1, props={"#clock-cells": [0]}),
             Node("/cru", phandle=2, props={"#clock-cells": [1]}),
             Node("/dev", props={"clocks": [1, 2, 5]})]
    assert DevlinkState("rpm", nodes, []).suppliers == {"/dev": ["/osc", "/cru"]}
    assert DevlinkState("rpm", nodes, [], initialized=frozenset({"/osc"})).suppliers == {"/dev": ["/cru"]}
    assert DevlinkState("rpm", nodes, [], initialized=frozenset({"/osc", "/cru"})).suppliers == {}


def test_strict_is_ignored_when_permissive() -> None:
    """fw_devlink_is_strict() = fw_devlink_strict && !fw_devlink_is_permissive()."""
    nodes = [Node("/"), Node("/smmu", iommu_cells=1), Node("/c", iommus=(IommuRef("/smmu", (1,)),))]
    assert DevlinkState("permissive", nodes, [], strict=True).suppliers == {}
    assert DevlinkState("rpm", nodes, [], strict=True).suppliers == {"/c": ["/smmu"]}
    assert DevlinkState("rpm", nodes, []).suppliers == {}


def _record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    real = dd.devlink.device_links_check_suppliers

    def check(dev: Any) -> int:
        ret = real(dev)
        seen.append((dev.init_name, ret))
        return ret
    monkeypatch.setattr(dd.devlink, "device_links_check_suppliers", check)
    return seen


# the clients' driver registers at core_initcall: before rk_iommu (device level)
EARLY = {f"rockchip,rk3568-vop{i}": DriverConfig(initcall="core") for i in range(2)}


@pytest.mark.parametrize("mode", ["on", "rpm"])
def test_fw_devlink_strict_holds_the_consumer_until_its_iommu_binds(monkeypatch: pytest.MonkeyPatch,
                                                                   mode: str) -> None:
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614, BootConfig(drivers=EARLY, fw_devlink=mode, fw_devlink_strict=True))
    vop = [ret for name, ret in seen if name == "2.vop"]
    assert vop[0] == -EPROBE_DEFER and vop[-1] == 0  # held at core_initcall, let go later
    assert r.findings == [] and r.stats["grouped_clients"] == r.stats["clients"] == 2


@pytest.mark.parametrize("mode,strict", [("off", True), ("rpm", False), ("on", False)])
def test_fw_devlink_off_or_not_strict_does_not_hold_it(monkeypatch: pytest.MonkeyPatch,
                                                       mode: str, strict: bool) -> None:
    """Off makes no links; without fw_devlink.strict=1 the iommus link is
    optional and skipped, the 6.12 default boot (rpm, not strict)."""
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614, BootConfig(drivers=EARLY, fw_devlink=mode, fw_devlink_strict=strict))
    assert all(ret == 0 for _, ret in seen)
    # the client still defers, later, in of_iommu_configure() (instance not registered)
    assert r.stats["grouped_clients"] == r.stats["clients"] == 2


def test_fw_devlink_permissive_does_not_hold_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614,
                     BootConfig(drivers=EARLY, fw_devlink="permissive", fw_devlink_strict=True))
    assert all(ret == 0 for _, ret in seen) and r.stats["grouped_clients"] == 2


def test_link_to_a_supplier_no_driver_matches_is_relaxed(monkeypatch: pytest.MonkeyPatch) -> None:
    """rk_iommu absent: the IOMMU device never matches (can_match false), so
    fw_devlink_drivers_done() (core.c:1833) relaxes the link and the clients
    bind without an IOMMU after the deferred-probe timeout."""
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614, BootConfig(fw_devlink="on", fw_devlink_strict=True,
                                                   iommu_drivers={"rk_iommu": ABSENT}))
    assert (("2.vop", -EPROBE_DEFER) in seen) and seen[-1][1] == 0
    assert r.stats["bound_drivers"] == r.stats["devices"] - 1 and r.stats["grouped_clients"] == 0


def test_platform_without_links_is_unaffected() -> None:
    p = Board("plain", nodes=[Node("/"), Node("/soc", compatible=("simple-bus",)),
                                 Node("/soc/uart@1", compatible=("vendor,uart",))])
    for mode in ("rpm", "on", "off"):
        assert run_scenario(p, V614, BootConfig(fw_devlink=mode)).stats["bound_drivers"] == 2


def test_a_clock_supplier_holds_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-optional binding (clocks) holds under the default boot (rpm): the
    consumer defers with "supplier ... not ready" until the provider binds,
    and ``fw_devlink=off`` does not hold it."""
    base = rk_board()
    clk_ph = 0x7c
    nodes = [n for n in base.nodes]
    # a clock provider no modelled driver matches, before the clients in DT order
    clk = Node("/soc/clock-controller@0", compatible=("vendor,clk",), phandle=clk_ph,
               props={"#clock-cells": [1]})
    vop = next(n for n in nodes if "vop" in n.path)
    nodes[nodes.index(vop)] = dataclasses.replace(vop, props={**vop.props, "clocks": [clk_ph, 3]})
    board = dataclasses.replace(base, nodes=[*nodes[:2], clk, *nodes[2:]])
    st = DevlinkState("rpm", board.nodes, [])
    assert st.suppliers == {vop.path: [clk.path]}
    st_off = DevlinkState("off", board.nodes, [])
    assert st_off.suppliers == st.suppliers  # the links exist; only on/rpm enforce them
    seen = _record(monkeypatch)
    r = run_scenario(board, V614, BootConfig(drivers=EARLY))
    vop_rets = [ret for name, ret in seen if name == "2.vop"]
    # held at core_initcall until the provider binds (device level), then let go
    assert vop_rets[0] == -EPROBE_DEFER and vop_rets[-1] == 0
    assert r.stats["grouped_clients"] == r.stats["clients"] == 2
    seen.clear()
    run_scenario(board, V614, BootConfig(drivers=EARLY, fw_devlink="off"))
    assert all(ret == 0 for _, ret in seen)
