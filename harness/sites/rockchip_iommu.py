"""Order sites of drivers/iommu/rockchip-iommu.c."""

from __future__ import annotations

from harness.site import Site
from mutators.order_shapes import AFTER, BEFORE, publish_order

_RK_FIRST_COMMENT = ("Use the first registered IOMMU device for domain to use with DMA\n"
                     "API, since a domain might not physically correspond to a single\n"
                     "IOMMU device..")

SITES = [
    Site(
        name="rk_iommu_probe.dma_dev",
        function="rk_iommu_probe", file="drivers/iommu/rockchip-iommu.c", kind="choice",
        doc="where rk_iommu_probe() sets the global dma_dev",
        v614=AFTER, next=AFTER, alternatives=(AFTER, BEFORE),
        c=publish_order("rk_iommu_probe", "if (!dma_dev)\n\tdma_dev = &pdev->dev;",
                        _RK_FIRST_COMMENT)),
]
