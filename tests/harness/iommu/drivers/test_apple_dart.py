"""apple-dart on the Mac mini M1 (t8103-j274) and the 14" MacBook Pro M1 Pro
(t6000-j314s) device trees of the 6.12 tree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from corpus.pci_dt import with_dt_pci_functions
from harness.board import Board, IommuRef
from harness.findings import OOPS
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers import _misc_boards as mb

pytestmark = pytest.mark.kernel_tree

J274 = "arch/arm64/boot/dts/apple/t8103-j274.dts"
J314S = "arch/arm64/boot/dts/apple/t6000-j314s.dts"
ADMAC = "238200000.dma-controller"
WIFI, BT, PORT0 = "0000:01:00.0", "0000:01:00.1", "0000:00:00.0"


@pytest.fixture(scope="module")
def j274(kernel_tree: Path) -> Board:
    # with the Wi-Fi/Bluetooth functions the DT describes below pcie0's port00
    return with_dt_pci_functions(mb.load(kernel_tree, J274))


@pytest.fixture(scope="module")
def j314s(kernel_tree: Path) -> Board:
    return with_dt_pci_functions(mb.load(kernel_tree, J314S))


def _sids(cfg: object) -> list[tuple[str, list[int]]]:
    return [(sm.dart.dev.init_name, sorted(sm.sidmap))
            for sm in cfg.stream_maps if sm.dart is not None]  # type: ignore[attr-defined]


def test_pci_functions_come_from_the_dt(j274: Board) -> None:
    assert [(e.name, e.rid, e.parent) for e in j274.extra_devices] == [
        (PORT0, 0x000, "/soc/pcie@690000000"),
        (WIFI, 0x100, "/soc/pcie@690000000"),
        (BT, 0x101, "/soc/pcie@690000000")]


def test_v614_functions_sharing_a_stream_share_a_group_before_their_drivers_probe(j274: Board) -> None:
    r = mb.run(j274, V614)
    assert r.result.findings == []
    wifi, bt, adm = r.at_probe[WIFI], r.at_probe[BT], r.at_probe[ADMAC]
    # RIDs 0x100 and 0x101 both map (iommu-map-mask 0xff00) to SID 1 of pcie0_dart_0:
    # the second finds the first's group in sid2group
    assert _sids(wifi.priv) == _sids(bt.priv) == [("681008000.iommu", [1])]
    assert wifi.group is not None and wifi.group is bt.group
    assert [g.name for g in wifi.group.devices] == [WIFI, BT]
    assert _sids(wifi.group.iommu_data) == [("681008000.iommu", [1])]
    assert wifi.priv.stream_maps[0].dart.sid2group[1] is wifi.group
    # 16K DART pages on a 4K kernel: apple_dart_def_domain_type() forces identity
    assert wifi.default_domain.type == IOMMU_DOMAIN_IDENTITY
    assert wifi.iommu_dev.dev.init_name == "681008000.iommu"
    # the platform client: its own group behind sio_dart (SID 2)
    assert _sids(adm.priv) == [("235004000.iommu", [2])]
    assert adm.group is not wifi.group and adm.default_domain is not None
    # RID 0 of the root port is outside the iommu-map: not behind an IOMMU
    assert r.at_probe[PORT0].group is None
    assert r.result.stats["groups"] == 2


def test_v614_devices_sharing_a_platform_stream_share_a_group(j274: Board) -> None:
    """A second sio_dart master with the admac's SID joins the admac's group
    (apple_dart_device_group reuses sid2group), whatever its bus."""
    nodes = []
    for n in j274.nodes:
        if n.path == "/soc/i2s@238400000":
            n = dataclasses.replace(n, iommus=(IommuRef("/soc/iommu@235004000", (2,)),))
        nodes.append(n)
    p = dataclasses.replace(j274, nodes=nodes)
    r = mb.run(p, V614)
    assert r.result.findings == []
    mca = r.at_probe["238400000.i2s"]
    assert mca.group is r.at_probe[ADMAC].group is not None
    assert len(mca.group.devices) == 2


def test_v614_one_master_behind_two_darts(j314s: Board) -> None:
    """t6000 admac: iommus = <&sio_dart_0 2>, <&sio_dart_1 2>; one master cfg
    with two stream maps, probed through the first DART."""
    r = mb.run(j314s, V614)
    assert r.result.findings == []
    adm = r.at_probe["39b400000.dma-controller"]
    assert _sids(adm.priv) == [("39b004000.iommu", [2]), ("39b008000.iommu", [2])]
    assert adm.iommu_dev.dev.init_name == "39b004000.iommu"
    for sm in adm.priv.stream_maps:
        assert sm.dart.sid2group[2] is adm.group
    assert adm.default_domain is not None


def test_drvdata_published_after_register_oopses_on_the_null_dart(j274: Board) -> None:
    """The order site is read: under NEXT's walk apple_dart_of_xlate() gets a
    NULL dart from drvdata, records the SID under it, and probe_device()
    returns &NULL->iommu -- the core faults on that bogus iommu_device."""
    v = NEXT.with_values("NEXT+dart-after", "", **{"apple_dart_probe.drvdata": "after_register"})
    r = mb.run(j274, v)
    oops = [f for f in r.result.findings if f.kind == OOPS]
    assert len(oops) == 1 and r.result.panicked
    assert oops[0].title.startswith("BUG: unable to handle kernel paging request")
    assert oops[0].fault_address == 0x848  # the bogus &NULL->iommu it dereferences
    assert "apple_dart_probe" in oops[0].trace and "iommu_device_register" in oops[0].trace
