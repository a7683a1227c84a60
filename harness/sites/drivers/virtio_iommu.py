"""Order sites of drivers/iommu/virtio-iommu.c."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

SITES = [
    Site(
        name="viommu_probe.priv",
        function="viommu_probe", file="drivers/iommu/virtio-iommu.c", kind="choice",
        doc="where viommu_probe() sets vdev->priv, which viommu_get_by_fwnode() returns",
        v614=AFTER, next=AFTER, alternatives=(AFTER, BEFORE),
        c=PublishOrder("viommu_probe", "vdev->priv = viommu;", checked=False)),
]
