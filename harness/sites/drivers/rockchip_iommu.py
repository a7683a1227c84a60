"""Order and allocation-owner sites of drivers/iommu/rockchip-iommu.c."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, DevmOwner, PublishOrder
from harness.sites.site import Site

_RK_FIRST_COMMENT = ("Use the first registered IOMMU device for domain to use with DMA\n"
                     "API, since a domain might not physically correspond to a single\n"
                     "IOMMU device..")

SITES = [
    Site(
        name="rk_iommu_probe.dma_dev",
        function="rk_iommu_probe", file="drivers/iommu/rockchip-iommu.c", kind="choice",
        doc="where rk_iommu_probe() sets the global dma_dev",
        v614=AFTER, next=AFTER, alternatives=(AFTER, BEFORE),
        c=PublishOrder("rk_iommu_probe", "if (!dma_dev)\n\tdma_dev = &pdev->dev;",
                        _RK_FIRST_COMMENT)),
]

#: who owns the per-client ``struct rk_iommudata`` rk_iommu_of_xlate() allocates
OWNER_DMA_DEV = "dma_dev"
OWNER_CLIENT = "client"
OWNER_IOMMU = "iommu_dev"

SITES.append(Site(
    name="rk_iommu_of_xlate.alloc_owner",
    function="rk_iommu_of_xlate", file="drivers/iommu/rockchip-iommu.c", kind="choice",
    # dma_dev: the global first IOMMU (NULL until one registered); client: dev
    # (freed when the client unbinds); iommu_dev: the IOMMU the client points at
    doc="owner device of the per-client rk_iommudata devm_kzalloc()",
    v614=OWNER_DMA_DEV, next=OWNER_DMA_DEV,
    alternatives=(OWNER_DMA_DEV, OWNER_CLIENT, OWNER_IOMMU),
    c=DevmOwner("rk_iommu_of_xlate", "data", "sizeof(*data)",
                 {OWNER_DMA_DEV: "dma_dev", OWNER_CLIENT: "dev"},
                 lookup=(OWNER_IOMMU, "iommu_dev", "iommu_dev = of_find_device_by_node(args->np);",
                         "platform_device_put"))))
