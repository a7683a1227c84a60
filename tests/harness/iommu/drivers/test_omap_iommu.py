"""omap-iommu on the PandaBoard ES (OMAP4460) device tree of the 6.12 tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.board import Board
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers import _misc_boards as mb

pytestmark = pytest.mark.kernel_tree

BOARD = "arch/arm/boot/dts/ti/omap/omap4-panda-es.dts"
# client -> the MMU its "iommus" names (device names as of_device_make_bus_id gives them)
CLIENTS = {"ocp:dsp": "4a066000.mmu", "55020000.ipu": "55082000.mmu"}


@pytest.fixture(scope="module")
def board(kernel_tree: Path) -> Board:
    return mb.load(kernel_tree, BOARD)


def test_mmus_are_created_by_their_target_modules(board: Board) -> None:
    """The MMUs sit in ti,sysc target modules below simple-pm-bus
    interconnects: they become devices when those bus drivers probe, after
    omap_iommu_init (subsys_initcall) registered the driver."""
    b, _k = mb.boot(board, V614)
    try:
        devs = mb.by_name(b)
        for mmu in CLIENTS.values():
            d = devs[mmu]
            assert d.driver is not None and d.driver.name == "omap-iommu"
            assert d.parent is not None and d.parent.of_node.desc.compatible[-1] == "ti,sysc"
            assert d.driver_data.iommu.listed
    finally:
        mb.done()


def test_v614_every_client_is_in_its_mmu_group_before_its_driver_probes(board: Board) -> None:
    r = mb.run(board, V614)
    assert r.result.findings == []
    groups = set()
    for client, mmu in CLIENTS.items():
        at = r.at_probe[client]
        assert at.iommu_dev is not None and at.iommu_dev.dev.init_name == mmu
        # generic_single_device_group: one group per MMU
        assert at.group is at.iommu_dev.singleton_group and at.default_domain is not None
        # omap_iommu_probe_device(): NULL-terminated arch data, one entry per MMU
        assert [a.iommu_dev.name if a.iommu_dev else None for a in at.priv] == [mmu, None]
        # omap_iommu_of_xlate() adds no IDs (#iommu-cells = 0)
        assert at.ids == ()
        groups.add(id(at.group))
    assert len(groups) == 2


def test_drvdata_published_after_register_fails_the_registration(board: Board) -> None:
    """The order site is read: under NEXT's walk omap_iommu_probe_device()
    finds the MMU's drvdata NULL and returns -EINVAL, which aborts the walk
    and fails iommu_device_register() (spec invariant 11)."""
    v = NEXT.with_values("NEXT+omap-after", "", **{"omap_iommu_probe.drvdata": "after_register"})
    r = mb.run(board, v)
    assert r.result.stats["registered_instances"] == 0
    assert all(r.at_probe[c].group is None for c in CLIENTS)
    assert r.result.stats["iommu_instances"] == 2
