"""Order sites of drivers/iommu/tegra-smmu.c (``tegra_smmu_probe()``, called
from the memory controller's probe)."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

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
        c=PublishOrder("tegra_smmu_probe", stmt, comment))


def _mc_drvdata_shape() -> PublishOrder:
    """``platform_set_drvdata(pdev, mc)`` in ``tegra_mc_probe()`` around the
    ``mc->smmu = tegra_smmu_probe(...)`` call (which registers the SMMU).

    The generic shape's detect rules and readback regexes apply (the call is
    the "register" call); its transforms do not: the call sits in
    ``if (IS_ENABLED(CONFIG_TEGRA_IOMMU_SMMU) && mc->soc->smmu) {...}`` and is
    followed by ``if (IS_ERR(mc->smmu))``.  *after* puts the statement after
    that block, *before* back right after the allocation, where 6.12 has it.
    """
    after = (
        "@{p}_to depends on {notdone} exists@\nstatement S;\n@@\n tegra_mc_probe(...)\n {\n ...\n"
        "-platform_set_drvdata(pdev, mc);\n ...\n"
        " if (IS_ENABLED(CONFIG_TEGRA_IOMMU_SMMU) && mc->soc->smmu) S\n"
        "+platform_set_drvdata(pdev, mc);\n ...\n }\n")
    before = (
        "@{p}_to depends on {notdone} exists@\n@@\n tegra_mc_probe(...)\n {\n ...\n"
        " mc = devm_kzalloc(...);\n if (!mc)\n return -ENOMEM;\n"
        "+platform_set_drvdata(pdev, mc);\n ...\n"
        "-platform_set_drvdata(pdev, mc);\n ...\n }\n")
    return PublishOrder("tegra_mc_probe", "platform_set_drvdata(pdev, mc);",
                        register="tegra_smmu_probe", transforms={AFTER: after, BEFORE: before})


SITES = [
    Site(
        name="tegra_mc_probe.drvdata", function="tegra_mc_probe", file="drivers/memory/tegra/mc.c",
        kind="choice",
        doc="where tegra_mc_probe() sets the MC drvdata that tegra_smmu_of_xlate() "
            "dereferences without a NULL check (mc.c L906, before tegra_smmu_probe() L970)",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE), c=_mc_drvdata_shape()),
    _site("mc_smmu", "mc->smmu = smmu;",
          "where tegra_smmu_probe() sets mc->smmu, read by tegra_smmu_of_xlate() and "
          "tegra_smmu_find() (L1120, before register L1168)", _HACK_COMMENT),
    _site("groups", "INIT_LIST_HEAD(&smmu->groups);",
          "where tegra_smmu_probe() initialises smmu->groups, walked by "
          "tegra_smmu_device_group() (L1126, before register L1168)"),
    _site("soc", "smmu->soc = soc;",
          "where tegra_smmu_probe() sets smmu->soc, read by tegra_smmu_device_group() "
          "(L1130, before register L1168)"),
    _site("dev", "smmu->dev = dev;",
          "where tegra_smmu_probe() sets smmu->dev, read by tegra_smmu_configure() and "
          "tegra_smmu_device_group() (L1131, before register L1168)"),
]
