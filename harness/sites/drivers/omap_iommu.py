"""Order sites of drivers/iommu/omap-iommu.c."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

SITES = [
    Site(
        name="omap_iommu_probe.drvdata",
        function="omap_iommu_probe", file="drivers/iommu/omap-iommu.c", kind="choice",
        doc="where omap_iommu_probe() publishes its drvdata (read by omap_iommu_probe_device "
            "for every IOMMU a client lists)",
        v614=BEFORE, next=BEFORE, alternatives=(BEFORE, AFTER),
        c=PublishOrder("omap_iommu_probe", "platform_set_drvdata(pdev, obj);")),
]
