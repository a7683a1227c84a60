"""corpus/linkorder.py: device-level drivers linked before drivers/pci/ or drivers/iommu/."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.initcalls import tree_version
from corpus.linkorder import BEFORE_IOMMU, BEFORE_PCI, bucket, link_order, render_table, scan
from harness.base.initcall import driver_link_order

_MAKEFILE = """
obj-y				+= irqchip/
obj-$(CONFIG_GENERIC_PHY)	+= phy/
obj-y				+= pci/
obj-y				+= clk/
obj-y				+= char/ipmi/
obj-y				+= iommu/
obj-y				+= gpu/
obj-y				+= base/ block/ misc/ mfd/
"""


def test_link_order_reads_drivers_makefile() -> None:
    order = link_order(_MAKEFILE)
    assert order == ["irqchip", "phy", "pci", "clk", "char/ipmi", "iommu", "gpu",
                     "base", "block", "misc", "mfd"]
    assert bucket("drivers/phy/rockchip/phy-x.c", order) == BEFORE_PCI
    assert bucket("drivers/clk/qcom/gcc-x.c", order) == BEFORE_IOMMU
    assert bucket("drivers/char/ipmi/bt.c", order) == BEFORE_IOMMU  # the deepest directory named
    assert bucket("drivers/gpu/drm/x.c", order) is None
    assert bucket("drivers/nowhere/x.c", order) is None


@pytest.fixture(scope="module")
def tree_table(kernel_tree: Path) -> dict:
    return scan(kernel_tree)


@pytest.mark.kernel_tree
def test_checked_in_table_is_the_tree_s(kernel_tree: Path, tree_table: dict) -> None:
    text = render_table(tree_table, tree_version(kernel_tree))
    assert text == (Path(__file__).parents[2] / "harness/base/link_order_table.py").read_text()


@pytest.mark.kernel_tree
def test_real_tree_entries(tree_table: dict) -> None:
    # drivers/phy/rockchip/phy-rockchip-naneng-combphy.c: module_platform_driver
    assert tree_table["rockchip,rk3568-naneng-combphy"] == BEFORE_PCI
    # drivers/clk/qcom/mmcc-msm8960.c: module_platform_driver
    assert tree_table["qcom,mmcc-apq8064"] == BEFORE_IOMMU
    # drivers/gpu/drm/rockchip: after drivers/iommu/
    assert "rockchip,rk3568-vop" not in tree_table
    assert driver_link_order(("vendor,unknown", "qcom,mmcc-apq8064")) == BEFORE_IOMMU
    assert driver_link_order(("rockchip,rk3568-vop",)) is None
