"""Order sites of drivers/iommu/ipmmu-vmsa.c (``ipmmu_probe()``)."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

# The comment above the statement in 6.12 (spatch attaches it to the
# statement: it moves with it rather than being dropped).
_ARM_MAPPING_COMMENT = ("We can't create the ARM mapping here as it requires the bus to have\n"
                        "an IOMMU, which only happens when bus_set_iommu() is called in\n"
                        "ipmmu_init() after the probe function returns.")

SITES = [
    Site(
        name="ipmmu_probe.drvdata",
        function="ipmmu_probe", file="drivers/iommu/ipmmu-vmsa.c", kind="choice",
        doc="where ipmmu_probe() sets the drvdata ipmmu_of_xlate() stores as priv "
            "(L1108, after register L1097)",
        v614=AFTER, next=AFTER, alternatives=(AFTER, BEFORE),
        # before: ahead of the whole "register leaves only" if (L1089), so the
        # root IPMMU-MM still publishes its drvdata, as every instance does at
        # L1108 (ipmmu_find_root() reads it for the leaves)
        c=PublishOrder("ipmmu_probe", "platform_set_drvdata(pdev, mmu);",
                       _ARM_MAPPING_COMMENT,
                       enclosing="!mmu->features->has_cache_leaf_nodes || !ipmmu_is_root(mmu)")),
]
