"""mtk_iommu on real 6.12 boards: mt8183-evb (one M4U, one IOVA region) and
mt8195-cherry-tomato-r2 (VDO and VPP M4Us sharing ``m4ulist``, plus INFRA)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.board import Board
from harness.boot import ABSENT, BootConfig, DriverConfig
from harness.findings import OOPS
from harness.iommu.drivers.mtk_iommu import PLAT_DATA
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers._probe_groups import boot, clients, dev_name, load

pytestmark = pytest.mark.kernel_tree

MT8183 = "arch/arm64/boot/dts/mediatek/mt8183-evb.dts"
MT8195 = "arch/arm64/boot/dts/mediatek/mt8195-cherry-tomato-r2.dts"
COMPAT = tuple(PLAT_DATA)


@pytest.fixture(scope="module")
def mt8183(kernel_tree: Path) -> Board:
    return load(kernel_tree, MT8183)


@pytest.fixture(scope="module")
def mt8195(kernel_tree: Path) -> Board:
    return load(kernel_tree, MT8195)


def test_v614_mt8183_every_client_in_the_single_region_group_before_probe(
        mt8183: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    b = boot(mt8183, V614, monkeypatch)
    assert b.result.findings == []
    cl = clients(mt8183, COMPAT)
    assert len(cl) >= 5
    groups = {dev_name(p): b.group_at_probe.get(dev_name(p)) for p in cl}
    # mt8183_data: one bank, single_domain (one IOVA region): group id 0 of the
    # only instance for every client
    assert None not in groups.values(), groups
    assert len(set(groups.values())) == 1
    assert b.result.stats["registered_instances"] == 1


def test_v614_mt8195_vdo_and_vpp_share_groups_through_m4ulist(
        mt8195: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    b = boot(mt8195, V614, monkeypatch)
    assert b.result.findings == []
    cl = clients(mt8195, COMPAT)
    nodes = mt8195.node_map()
    by_group: dict[int | None, set[str]] = {}
    for path, refs in cl.items():
        inst = nodes[refs[0]].compatible[0]
        by_group.setdefault(b.group_at_probe.get(dev_name(path)), set()).add(inst)
    assert None not in by_group, by_group
    # SHARE_PGTABLE: mtk_iommu_device_group() caches groups in the *first*
    # instance on m4ulist, so one region group holds clients of both M4Us
    assert any(insts >= {"mediatek,mt8195-iommu-vdo", "mediatek,mt8195-iommu-vpp"}
               for insts in by_group.values()), by_group


@pytest.mark.parametrize("board", [MT8183, MT8195])
def test_next_boots_the_board(kernel_tree: Path, board: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """NEXT results are recorded in docs/drivers/mediatek.md; here only that
    the run completes and the instances register."""
    p = load(kernel_tree, board)
    b = boot(p, NEXT, monkeypatch)
    assert b.result.stats["registered_instances"] == b.result.stats["iommu_instances"]


@pytest.mark.parametrize("site,fn", [("mtk_iommu_probe.drvdata", "mtk_iommu_probe_device"),
                                     ("mtk_iommu_probe.hw_list", "mtk_iommu_get_frst_data")])
def test_next_publishing_after_register_oopses_in_the_walk(
        mt8183: Board, monkeypatch: pytest.MonkeyPatch, site: str, fn: str) -> None:
    v = NEXT.with_values(f"next-{site}", site, **{site: "after_register"})
    r = boot(mt8183, v, monkeypatch).result
    [f] = [f for f in r.findings if f.kind == OOPS]
    assert f.title == f"BUG: kernel NULL pointer dereference in {fn}"
    it = iter(f.trace)
    assert all(any(x == w for x in it) for w in ("probe_iommu_group", "iommu_device_register",
                                                 "mtk_iommu_probe"))


@pytest.mark.parametrize("site", ["mtk_iommu_probe.drvdata", "mtk_iommu_probe.hw_list"])
def test_v614_publishing_after_register_is_harmless(
        mt8183: Board, monkeypatch: pytest.MonkeyPatch, site: str) -> None:
    # V614: no client is parsed before the M4U probe returned
    v = V614.with_values(f"v614-{site}", site, **{site: "after_register"})
    assert boot(mt8183, v, monkeypatch).result.findings == []


def test_larbs_without_driver_keep_the_m4u_deferred(
        mt8183: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    # mtk_iommu_mm_dts_parse(): !plarbdev->dev.driver -> -EPROBE_DEFER
    cfg = BootConfig(drivers={"mediatek,mt8183-smi-larb": DriverConfig(presence=ABSENT)})
    b = boot(mt8183, V614, monkeypatch, cfg)
    assert b.result.stats["registered_instances"] == 0
    assert b.result.stats["grouped_clients"] == 0


@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_pci_endpoint_behind_the_infra_m4u(mt8195: Board, monkeypatch: pytest.MonkeyPatch,
                                           v: object) -> None:
    """An endpoint under the enabled PCIe host (iommu-map to the INFRA M4U,
    port IOMMU_PORT_INFRA_PCIE1): INFRA probe_device returns the instance, the
    port is in banks_portmsk[0] so the group is bank/region 0 of the INFRA M4U."""
    import copy

    from harness.board import ExtraDevice

    p = copy.deepcopy(mt8195)
    hosts = [n for n in p.nodes if n.iommu_map and n.available()]
    assert len(hosts) == 1
    p.extra_devices.append(ExtraDevice(name="0000:01:00.0", bus="pci", parent=hosts[0].path, rid=0,
                                       compatible=("pci:nvme",)))
    b = boot(p, v, monkeypatch)  # type: ignore[arg-type]
    assert b.result.findings == []
    assert b.group_at_probe["0000:01:00.0"] is not None
    assert b.ids_at_probe["0000:01:00.0"] == [hosts[0].iommu_map[0].iommu_base]


def test_a_client_spanning_two_larbs(mt8183: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    """mtk_iommu_probe_device() returns -EINVAL ("Can only use one larb").
    V614: only that client stays without IOMMU (its bind-time replay fails).
    NEXT: the error comes back through probe_iommu_group() (which hides only
    -ENODEV) and fails iommu_device_register(): the M4U does not bind and no
    client gets a group (spec invariant 11; no oracle reports it yet)."""
    import copy

    from harness.board import IommuRef

    p = copy.deepcopy(mt8183)
    bad = next(n for n in p.nodes if n.iommus and n.available())
    r0 = bad.iommus[0]
    bad.iommus = (r0, IommuRef(r0.iommu, (r0.args[0] + 32,)))  # same port of the next larb
    name = dev_name(bad.path, p)

    v614 = boot(p, V614, monkeypatch)
    assert v614.result.stats["registered_instances"] == 1
    assert v614.group_at_probe[name] is None
    assert v614.result.stats["grouped_clients"] == v614.result.stats["clients"] - 1
    assert {f.device for f in v614.result.findings} == {name}

    nxt = boot(p, NEXT, monkeypatch).result
    larb = r0.args[0] >> 5
    assert f"{name}: Can only use one larb. Fail@larb{larb}-{larb + 1}." in nxt.log
    assert nxt.stats["registered_instances"] == 0 and nxt.stats["grouped_clients"] == 0
    assert nxt.stats["bound_drivers"] == nxt.stats["devices"] - 1  # the M4U itself
