"""Order sites of drivers/iommu/exynos-iommu.c (``exynos_sysmmu_probe()``)."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

SITES = [
    Site(
        name="exynos_sysmmu_probe.drvdata",
        function="exynos_sysmmu_probe", file="drivers/iommu/exynos-iommu.c", kind="choice",
        doc="where exynos_sysmmu_probe() sets the drvdata exynos_iommu_of_xlate() reads "
            "(L784, before register L815)",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=PublishOrder("exynos_sysmmu_probe", "platform_set_drvdata(pdev, data);")),
]
