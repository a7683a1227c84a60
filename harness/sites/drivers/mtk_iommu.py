"""Order sites of drivers/iommu/mtk_iommu.c (``mtk_iommu_probe()``)."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

_FILE = "drivers/iommu/mtk_iommu.c"

SITES = [
    Site(
        name="mtk_iommu_probe.drvdata",
        function="mtk_iommu_probe", file=_FILE, kind="choice",
        doc="where mtk_iommu_probe() sets the m4u drvdata that mtk_iommu_of_xlate() "
            "stores as dev->iommu->priv (L1377, before register L1394)",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=PublishOrder("mtk_iommu_probe", "platform_set_drvdata(pdev, data);")),
    Site(
        name="mtk_iommu_probe.hw_list",
        function="mtk_iommu_probe", file=_FILE, kind="choice",
        doc="where mtk_iommu_probe() links the instance into its hw_list that "
            "mtk_iommu_device_group() reads (L1380-1387, before register L1394)",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=PublishOrder(
            "mtk_iommu_probe",
            "if (MTK_IOMMU_HAS_FLAG(data->plat_data, SHARE_PGTABLE)) {\n"
            "list_add_tail(&data->list, data->plat_data->hw_list);\n"
            "data->hw_list = data->plat_data->hw_list;\n"
            "} else {\n"
            "INIT_LIST_HEAD(&data->hw_list_head);\n"
            "list_add_tail(&data->list, &data->hw_list_head);\n"
            "data->hw_list = &data->hw_list_head;\n"
            "}")),
]
