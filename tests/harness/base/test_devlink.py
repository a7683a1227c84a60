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
    no supplier binding in 6.12; msi-parent is (its usual providers are irq
    domains initialised without a device, which DevlinkState drops,
    core.c:2250)."""
    clk = Node("/clk", phandle=1, props={"#clock-cells": [1]})
    pd = Node("/pd", phandle=2, props={"#power-domain-cells": [0]})
    its = Node("/its", phandle=3, props={"#msi-cells": [1]})
    dma = Node("/dma", phandle=4, props={"#dma-cells": [1]})
    con = Node("/dev", iommus=(IommuRef("/smmu", (5,)),),
               iommu_map=(IommuMapEntry(0, "/smmu2", 0, 0x100),),
               props={"clocks": [1, 7, 1, 8], "power-domains": [2], "msi-map": [0, 3, 0, 0x100],
                      "dmas": [4, 1], "msi-parent": [3, 9]})
    by_ph = {1: clk, 2: pd, 3: its, 4: dma}
    assert supplier_paths(con, by_ph) == ["/clk", "/pd", "/its"]
    assert supplier_paths(con, by_ph, strict=True) == ["/clk", "/smmu", "/smmu2", "/dma", "/pd", "/its"]


def test_supplier_paths_pinctrl_suffix_and_gpio_bindings() -> None:
    """pinctrl-N, wakeup-parent, power-supplies: bare phandles (NULL cells);
    *-supply, *-gpio, *-gpios by suffix after the named entries, not
    "x,nr-gpios"; gpio/gpios skipped on a gpio-hog (parse_gpio_compat); a
    provider without the binding's #cells ends the list
    (of_parse_phandle_with_args() fails: cell_count -1)."""
    cfg = Node("/pio/uart", phandle=1)
    gpio = Node("/pio/bank", phandle=2, props={"#gpio-cells": [2]})
    reg = Node("/vcc", phandle=3)
    mbox = Node("/mbox", phandle=4)  # no #mbox-cells
    nv = Node("/efuse/cell", phandle=5)  # no #nvmem-cell-cells: no link in 6.12
    by_ph = {1: cfg, 2: gpio, 3: reg, 4: mbox, 5: nv}
    con = Node("/dev", props={"vdd-supply": [3], "reset-gpios": [2, 1, 0], "x,nr-gpios": [8],
                              "pinctrl-0": [1], "pinctrl-1": [1], "mboxes": [4, 1], "nvmem-cells": [5],
                              "gpios": [2, 7, 0]})
    assert supplier_paths(con, by_ph) == ["/pio/uart", "/pio/bank", "/vcc"]
    hog = Node("/pio/bank/hog", props={"gpio-hog": True, "gpios": [2, 7, 0]})
    assert supplier_paths(hog, by_ph) == []


def test_a_regulator_supply_holds_its_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    """*-supply (DEFINE_SUFFIX_PROP(regulators)): the consumer waits for the
    regulator's device to bind ("supplier ... not ready"), not with
    fw_devlink=off."""
    nodes = [Node("/"), Node("/soc", compatible=("simple-bus",)),
             Node("/soc/dev@1", compatible=("vendor,dev",), props={"vdd-supply": [0x40]}),
             Node("/soc/pmic@2", compatible=("vendor,pmic",), phandle=0x40)]
    board = Board("supply", nodes=nodes)
    assert DevlinkState("rpm", board.nodes, []).suppliers == {"/soc/dev@1": ["/soc/pmic@2"]}
    seen = _record(monkeypatch)
    r = run_scenario(board, V614, BootConfig(drivers={"vendor,dev": DriverConfig(initcall="core")}))
    assert [ret for name, ret in seen if name == "1.dev"] == [-EPROBE_DEFER, 0]
    assert r.stats["bound_drivers"] == 3
    seen.clear()
    run_scenario(board, V614, BootConfig(drivers={"vendor,dev": DriverConfig(initcall="core")},
                                         fw_devlink="off"))
    assert all(ret == 0 for _, ret in seen)


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


# -- suppliers without a device, initialised providers, relaxation ------------

_CLK = 0x10


def _supplier_board(ctrl: tuple[str, ...] = ("vendor,ctrl",), *, top_level: bool = False) -> Board:
    """A consumer whose clock provider is a subnode (no compatible) of a
    controller that comes after it in DT order -- or, with ``top_level``, of a
    node without a compatible that no bus populates."""
    parent = "/clocks" if top_level else "/soc/ctrl@2"
    nodes = [Node("/"), Node("/soc", compatible=("simple-bus",)),
             Node("/soc/dev@1", compatible=("vendor,dev",), props={"clocks": [_CLK]})]
    if top_level:
        nodes.append(Node("/clocks"))
    else:
        nodes.append(Node("/soc/ctrl@2", compatible=ctrl))
    nodes.append(Node(f"{parent}/clk", phandle=_CLK, props={"#clock-cells": [0]}))
    return Board("suppliers", nodes=nodes)


# the consumer's driver registers at core_initcall: it probes as soon as
# of_platform_populate() adds its device, before the controller exists
_EARLY_DEV = {"vendor,dev": DriverConfig(initcall="core")}


def _checks(monkeypatch: pytest.MonkeyPatch, consumer: str, supplier: str) -> list[tuple[int, str, bool]]:
    """(return, reason, whether ``supplier``'s device is bound) per check of ``consumer``."""
    seen: list[tuple[int, str, bool]] = []
    real = dd.devlink.device_links_check_suppliers

    def check(dev: Any) -> int:
        ret = real(dev)
        if dev.of_node is not None and dev.of_node.full_name == consumer:
            by_node = dd.devlink.state().devices_by_of_node() if dd.devlink.state() else {}
            sup = by_node.get(supplier)
            bound = sup is not None and sup.driver is not None and sup in sup.driver.devices
            seen.append((ret, dev.deferred_probe_reason or "", bound))
        return ret
    monkeypatch.setattr(dd.devlink, "device_links_check_suppliers", check)
    return seen


def test_a_supplier_without_a_device_holds_until_its_device_ancestor_binds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """fw_devlink_create_devlink() returns -EAGAIN for a supplier node with no
    device (core.c:2259): the fwnode link stays and
    fwnode_links_check_suppliers() defers the consumer, "wait for supplier"
    (core.c:1140), until the node's nearest device ancestor binds and
    fw_devlink_pickup_dangling_consumers() hands the link to it (core.c:238)."""
    seen = _checks(monkeypatch, "/soc/dev@1", "/soc/ctrl@2")
    r = run_scenario(_supplier_board(), V614, BootConfig(drivers=_EARLY_DEV))
    assert seen[0] == (-EPROBE_DEFER, "wait for supplier /soc/ctrl@2/clk", False)
    first_ok = next(i for i, (ret, _, _) in enumerate(seen) if ret == 0)
    assert all(ret == -EPROBE_DEFER and not bound for ret, _, bound in seen[:first_ok])
    assert seen[first_ok][2]  # let go once the controller is bound
    assert r.stats["bound_drivers"] == r.stats["devices"] == 3


@pytest.mark.parametrize("mode", ["off", "permissive"])
def test_off_and_permissive_do_not_wait_for_a_supplier_without_a_device(
        monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    seen = _checks(monkeypatch, "/soc/dev@1", "/soc/ctrl@2")
    run_scenario(_supplier_board(), V614, BootConfig(drivers=_EARLY_DEV, fw_devlink=mode))
    assert all(ret == 0 for ret, _, _ in seen)


def test_a_supplier_that_never_becomes_a_device_holds_for_good() -> None:
    """Nothing relaxes a fwnode link: fw_devlink_drivers_done() relaxes device
    links only (core.c:1823), so a consumer of a node no bus populates and
    nothing initialises stays deferred past the deferred-probe timeout."""
    r = run_scenario(_supplier_board(top_level=True), V614, BootConfig())
    assert r.stats["deferred"] == 1
    assert any("deferred probe pending: wait for supplier /clocks/clk" in line for line in r.log)
    assert run_scenario(_supplier_board(top_level=True), V614,
                        BootConfig(fw_devlink="off")).stats["deferred"] == 0


@pytest.mark.parametrize("ctrl", [
    # rcar-sysc.c:433: early_initcall marks the node initialised, no driver
    ("renesas,r8a7795-sysc",),
])
def test_no_wait_for_a_supplier_whose_ancestor_was_initialised_without_a_driver(
        monkeypatch: pytest.MonkeyPatch, ctrl: tuple[str, ...]) -> None:
    """fwnode_ancestor_init_without_drv() (core.c:1963, 2252): "might never
    become dev", the link is dropped."""
    seen = _checks(monkeypatch, "/soc/dev@1", "/soc/ctrl@2")
    run_scenario(_supplier_board(ctrl), V614, BootConfig(drivers=_EARLY_DEV))
    assert seen and all(ret == 0 for ret, _, _ in seen)


def test_a_clk_of_declare_provider_gets_no_device_and_no_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """of_clk_init() marks a CLK_OF_DECLARE node OF_POPULATED (clk.c:5577) and
    the macro its fwnode initialised (clk-provider.h:1428): no platform
    device, no link (core.c:2252)."""
    board = Board("osc", nodes=[Node("/"), Node("/osc", compatible=("fixed-clock",), phandle=_CLK,
                                                props={"#clock-cells": [0]}),
                                Node("/dev@1", compatible=("vendor,dev",), props={"clocks": [_CLK]})])
    seen = _checks(monkeypatch, "/dev@1", "/osc")
    r = run_scenario(board, V614, BootConfig(drivers=_EARLY_DEV))
    assert seen == []  # no link left: the boot has no fw_devlink state to check
    assert r.stats["devices"] == r.stats["bound_drivers"] == 1  # /dev@1 only


def _bound_after(monkeypatch: pytest.MonkeyPatch, fn: str, path: str) -> list[bool]:
    """Whether the device of ``path`` is bound when dd.``fn`` returns."""
    out: list[bool] = []
    real = getattr(dd, fn)

    def wrapped(*a: Any) -> Any:
        ret = real(*a)
        st = dd.devlink.state()
        dev = st.devices_by_of_node().get(path) if st is not None else None
        out.append(dev is not None and dev.driver is not None and dev in dev.driver.devices)
        return ret
    monkeypatch.setattr(dd, fn, wrapped)
    return out


@pytest.mark.parametrize("modules", [False, True])
def test_a_supplier_no_driver_matches_is_relaxed_at_late_initcall_or_the_timeout(
        monkeypatch: pytest.MonkeyPatch, modules: bool) -> None:
    """fw_devlink_drivers_done(): deferred_probe_initcall() calls it when
    !CONFIG_MODULES (dd.c:356), deferred_probe_timeout_work_func() after
    driver_deferred_probe_timeout otherwise (dd.c:309)."""
    board = _supplier_board()
    # the controller's clock subnode is the controller's own: make it the supplier node
    nodes = [n for n in board.nodes if n.path != "/soc/ctrl@2/clk"]
    nodes[-1] = dataclasses.replace(nodes[-1], phandle=_CLK, props={"#clock-cells": [0]})
    board = dataclasses.replace(board, nodes=nodes)
    cfg = BootConfig(drivers={"vendor,ctrl": DriverConfig(presence=ABSENT)}, config_modules=modules)
    at_late = _bound_after(monkeypatch, "deferred_probe_initcall", "/soc/dev@1")
    at_timeout = _bound_after(monkeypatch, "deferred_probe_timeout_work_func", "/soc/dev@1")
    r = run_scenario(board, V614, cfg)
    assert r.stats["bound_drivers"] == 2 and r.stats["deferred"] == 0  # /soc and /soc/dev@1
    if modules:
        assert at_late == [False] and at_timeout == [True]
    else:
        assert at_late == [True] and at_timeout == []
    # a bound supplier is never relaxed: with its driver the consumer binds before late_initcall
    at_late.clear()
    run_scenario(board, V614, dataclasses.replace(cfg, drivers={}))
    assert at_late == [True]


def test_real_board_links() -> None:
    """rk3568-odroid-m1 as converted from the tree: the VOP IOMMU links to
    the VO power domain's controller, not to the CRU (CLK_OF_DECLARE); the
    GPU waits for its SCMI clock, populated below /firmware
    (drivers/of/platform.c:571), and every consumer binds."""
    from corpus.bundled import load_bundled  # noqa: PLC0415 - corpus is above harness

    board = load_bundled("rk3568-odroid-m1")
    st = DevlinkState("rpm", board.nodes, [], initialized=frozenset({"/clock-controller@fdd20000"}))
    assert st.suppliers["/iommu@fe043e00"] == ["/power-management@fdd90000/power-controller"]
    assert "/firmware/scmi/protocol@14" in st.suppliers["/gpu@fde60000"]
    r = run_scenario(board, V614, BootConfig())
    assert r.stats["deferred"] == 0 and r.findings == []
    off = run_scenario(board, V614, BootConfig(fw_devlink="off"))
    assert off.stats["bound_drivers"] == r.stats["bound_drivers"]


@pytest.mark.parametrize("link_order", [True, False])
def test_suppliers_linked_before_iommu_bind_before_the_iommus_probe(monkeypatch: pytest.MonkeyPatch,
                                                                  link_order: bool) -> None:
    """qcom-apq8064-ifc6410 as converted: each MSM IOMMU names the MMCC's
    clocks.  drivers/Makefile links clk/ (L40) before iommu/ (L65), so at
    device_initcall the MMCC driver binds first and no IOMMU probe waits;
    with the MMCC registered after the IOMMU drivers (as if linked after
    iommu/) the same links hold every IOMMU until it binds."""
    from corpus.bundled import load_bundled  # noqa: PLC0415 - corpus is above harness

    if not link_order:
        from harness.base import initcall  # noqa: PLC0415
        monkeypatch.setattr(initcall, "LINKED_BEFORE", {})
    seen = _record(monkeypatch)
    r = run_scenario(load_bundled("qcom-apq8064-ifc6410"), V614, BootConfig())
    iommu = [(name, ret) for name, ret in seen if name.endswith(".iommu")]
    assert len({n for n, _ in iommu}) == 4
    if link_order:
        assert all(ret == 0 for _, ret in iommu)
    else:
        assert {n for n, ret in iommu if ret == -EPROBE_DEFER} == {n for n, _ in iommu}
    assert r.stats["registered_instances"] == 4 and r.stats["deferred"] == 0
