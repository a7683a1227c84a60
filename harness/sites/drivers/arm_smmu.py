"""Order sites of drivers/iommu/arm/arm-smmu/arm-smmu.c.

6.12 registers the instance (L2253) before it publishes drvdata (L2261) and
probes the SMR masks (L2266-2267); v6.14 ("iommu/arm-smmu: Make instance
lookup robust") does both first.  ``arm_smmu_probe_device()`` reads both:
drvdata through ``arm_smmu_get_by_fwnode()``, ``smr_mask_mask`` in its range
check.  V614/NEXT model v6.14 (before); applied to the 6.12 tree the presets
move the statements.
"""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

_FILE = "drivers/iommu/arm/arm-smmu/arm-smmu.c"

SITES = [
    Site(
        name="arm_smmu_device_probe.drvdata",
        function="arm_smmu_device_probe", file=_FILE, kind="choice",
        doc="where arm_smmu_device_probe() publishes drvdata (read by arm_smmu_get_by_fwnode() "
            "and the legacy master lookup)",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=PublishOrder("arm_smmu_device_probe", "platform_set_drvdata(pdev, smmu);")),
    Site(
        name="arm_smmu_device_probe.smr_masks",
        function="arm_smmu_device_probe", file=_FILE, kind="choice",
        doc="where arm_smmu_device_probe() resets the SMMU and probes smr_mask_mask (read by "
            "arm_smmu_probe_device()'s range check)",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=PublishOrder("arm_smmu_device_probe",
                        "arm_smmu_device_reset(smmu);\narm_smmu_test_smr_masks(smmu);")),
]
