"""harness/base/devlink.py: fw_devlink's supplier links (drivers/base/core.c,
drivers/of/property.c) holding a consumer's probe until its supplier binds."""

from __future__ import annotations

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
    clk = Node("/clk", phandle=1, props={"#clock-cells": [1]})
    pd = Node("/pd", phandle=2, props={"#power-domain-cells": [0]})
    its = Node("/its", phandle=3)
    con = Node("/dev", iommus=(IommuRef("/smmu", (5,)),),
               iommu_map=(IommuMapEntry(0, "/smmu2", 0, 0x100),),
               props={"clocks": [1, 7, 1, 8], "power-domains": [2], "msi-map": [0, 3, 0, 0x100]})
    by_ph = {1: clk, 2: pd, 3: its}
    assert supplier_paths(con, by_ph) == ["/smmu", "/smmu2", "/its", "/clk", "/pd"]


def test_no_link_to_disabled_suppliers_ancestors_or_cycles() -> None:
    nodes = [Node("/"), Node("/a", iommus=(IommuRef("/b", ()),)), Node("/b", iommus=(IommuRef("/a", ()),)),
             Node("/off", status="disabled"), Node("/c", iommus=(IommuRef("/off", ()),)),
             Node("/p", iommu_cells=0), Node("/p/child", iommus=(IommuRef("/p", ()),))]
    st = DevlinkState("on", nodes, [])
    assert st.suppliers == {"/a": [], "/b": []}


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


def test_fw_devlink_on_holds_the_consumer_until_its_iommu_binds(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614, BootConfig(drivers=EARLY, fw_devlink="on"))
    vop = [ret for name, ret in seen if name == "2.vop"]
    assert vop[0] == -EPROBE_DEFER and vop[-1] == 0  # held at core_initcall, let go later
    assert r.findings == [] and r.stats["grouped_clients"] == r.stats["clients"] == 2


def test_fw_devlink_off_does_not_hold_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614, BootConfig(drivers=EARLY, fw_devlink="off"))
    assert all(ret == 0 for _, ret in seen)
    # the client still defers, later, in of_iommu_configure() (instance not registered)
    assert r.stats["grouped_clients"] == r.stats["clients"] == 2


def test_fw_devlink_permissive_does_not_hold_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614, BootConfig(drivers=EARLY, fw_devlink="permissive"))
    assert all(ret == 0 for _, ret in seen) and r.stats["grouped_clients"] == 2


def test_link_to_a_supplier_no_driver_matches_is_relaxed(monkeypatch: pytest.MonkeyPatch) -> None:
    """rk_iommu absent: the IOMMU device never matches (can_match false), so
    fw_devlink_drivers_done() (core.c:1833) relaxes the link and the clients
    bind without an IOMMU after the deferred-probe timeout."""
    seen = _record(monkeypatch)
    r = run_scenario(rk_board(), V614, BootConfig(fw_devlink="on", iommu_drivers={"rk_iommu": ABSENT}))
    assert (("2.vop", -EPROBE_DEFER) in seen) and seen[-1][1] == 0
    assert r.stats["bound_drivers"] == r.stats["devices"] - 1 and r.stats["grouped_clients"] == 0


def test_platform_without_links_is_unaffected() -> None:
    p = Board("plain", nodes=[Node("/"), Node("/soc", compatible=("simple-bus",)),
                                 Node("/soc/uart@1", compatible=("vendor,uart",))])
    for mode in ("on", "off"):
        assert run_scenario(p, V614, BootConfig(fw_devlink=mode)).stats["bound_drivers"] == 2
