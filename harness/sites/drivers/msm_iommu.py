"""Order sites of drivers/iommu/msm_iommu.c."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

SITES = [
    Site(
        name="msm_iommu_probe.qcom_iommu_devices",
        function="msm_iommu_probe", file="drivers/iommu/msm_iommu.c", kind="choice",
        doc="where msm_iommu_probe() adds the instance to the global qcom_iommu_devices list "
            "(searched by qcom_iommu_of_xlate and msm_iommu_probe_device)",
        v614=BEFORE, next=BEFORE, alternatives=(BEFORE, AFTER),
        c=PublishOrder("msm_iommu_probe", "list_add(&iommu->dev_node, &qcom_iommu_devices);")),
]
