"""Order sites of drivers/iommu/sprd-iommu.c."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

SITES = [
    Site(
        name="sprd_iommu_probe.drvdata",
        function="sprd_iommu_probe", file="drivers/iommu/sprd-iommu.c", kind="choice",
        doc="where sprd_iommu_probe() publishes its drvdata (read by sprd_iommu_of_xlate)",
        v614=BEFORE, next=BEFORE, alternatives=(BEFORE, AFTER),
        # spatch matches no "if (E) S" against this function's gotos (6.12)
        c=PublishOrder("sprd_iommu_probe", "platform_set_drvdata(pdev, sdev);",
                        check="if (E) goto remove_sysfs;")),
]
