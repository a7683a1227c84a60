"""sun50i-iommu on the Orange Pi 3 (Allwinner H6) device tree of the 6.12 tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.board import Board
from harness.findings import WARNING
from harness.iommu.structs import IOMMU_DOMAIN_DMA
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers import _misc_boards as mb

pytestmark = pytest.mark.kernel_tree

BOARD = "arch/arm64/boot/dts/allwinner/sun50i-h6-orangepi-3.dts"
IOMMU = "30f0000.iommu"
# client -> its "iommus" argument (the master ID)
CLIENTS = {"1100000.mixer": 0, "1c00000.video-codec-g2": 5, "1c0e000.video-codec": 3}


@pytest.fixture(scope="module")
def board(kernel_tree: Path) -> Board:
    return mb.load(kernel_tree, BOARD)


def test_v614_every_client_is_in_the_instance_group_before_its_driver_probes(board: Board) -> None:
    r = mb.run(board, V614)
    assert r.result.findings == []
    # the mixer exists: the DE2 bus driver populated it
    assert set(CLIENTS) <= set(r.at_probe)
    groups = set()
    for name, mid in CLIENTS.items():
        at = r.at_probe[name]
        assert at.iommu_dev is not None and at.iommu_dev.dev.init_name == IOMMU
        # generic_single_device_group: the instance's one group, with its
        # default (paging) domain already set up
        assert at.group is at.iommu_dev.singleton_group
        assert at.default_domain is not None and at.default_domain.type == IOMMU_DOMAIN_DMA
        assert at.ids == (mid,)
        # priv is the instance (sun50i_iommu_of_xlate: platform_get_drvdata)
        assert at.priv.iommu is at.iommu_dev
        groups.add(id(at.group))
    assert len(groups) == 1
    assert r.result.stats["groups"] == 1 and r.result.stats["grouped_clients"] == 3


def test_drvdata_published_after_register_is_missed_by_the_walk(board: Board) -> None:
    """The order site is read: under NEXT's walk, sun50i_iommu_of_xlate()
    stores the NULL drvdata as priv, probe_device() says -ENODEV, and every
    client is IOMMU-probed only by the bind-time replay (late-probe WARN)."""
    v = NEXT.with_values("NEXT+sun50i-after", "", **{"sun50i_iommu_probe.drvdata": "after_register"})
    r = mb.run(board, v)
    late = {f.device for f in r.result.findings
            if f.kind == WARNING and f.invariant == 5}
    assert late == set(CLIENTS)
    for name in CLIENTS:
        assert r.at_probe[name].group is not None
