"""Order sites of drivers/iommu/sun50i-iommu.c."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

SITES = [
    Site(
        name="sun50i_iommu_probe.drvdata",
        function="sun50i_iommu_probe", file="drivers/iommu/sun50i-iommu.c", kind="choice",
        doc="where sun50i_iommu_probe() publishes its drvdata (read by sun50i_iommu_of_xlate)",
        v614=BEFORE, next=BEFORE, alternatives=(BEFORE, AFTER),
        c=PublishOrder("sun50i_iommu_probe", "platform_set_drvdata(pdev, iommu);")),
]
