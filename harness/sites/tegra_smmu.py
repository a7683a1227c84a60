"""Order sites of drivers/iommu/tegra-smmu.c (``tegra_smmu_probe()``, called
from the memory controller's probe)."""

from __future__ import annotations

from harness.site import Site
from mutators.order_shapes import AFTER, BEFORE, publish_order

_FILE = "drivers/iommu/tegra-smmu.c"

_HACK_COMMENT = (
    "This is a bit of a hack. Ideally we'd want to simply return this\n"
    "value. However iommu_device_register() will attempt to add\n"
    "all devices to the IOMMU before we get that far. In order\n"
    "not to rely on global variables to track the IOMMU instance, we\n"
    "set it here so that it can be looked up from the .probe_device()\n"
    "callback via the IOMMU device's .drvdata field.")


def _site(what: str, stmt: str, doc: str, comment: str | None = None) -> Site:
    return Site(
        name=f"tegra_smmu_probe.{what}", function="tegra_smmu_probe", file=_FILE, kind="choice",
        doc=doc, v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=publish_order("tegra_smmu_probe", stmt, comment))


SITES = [
    _site("mc_smmu", "mc->smmu = smmu;",
          "where tegra_smmu_probe() sets mc->smmu, read by tegra_smmu_of_xlate() and "
          "tegra_smmu_find() (L1120, before register L1168)", _HACK_COMMENT),
    _site("soc", "smmu->soc = soc;",
          "where tegra_smmu_probe() sets smmu->soc, read by tegra_smmu_device_group() "
          "(L1130, before register L1168)"),
    _site("dev", "smmu->dev = dev;",
          "where tegra_smmu_probe() sets smmu->dev, read by tegra_smmu_configure() and "
          "tegra_smmu_device_group() (L1131, before register L1168)"),
]
