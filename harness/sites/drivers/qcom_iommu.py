"""Order sites of drivers/iommu/arm/arm-smmu/qcom_iommu.c.

``qcom_iommu_of_xlate()`` reads the IOMMU device's drvdata (no NULL check)
and ``qcom_iommu->ctxs[asid]``, which the context-bank devices fill in when
``devm_of_platform_populate()`` binds them (``qcom_iommu_ctx_probe()`` also
reads the parent's drvdata).  6.12 and v6.14 publish both before
``iommu_device_register()``.
"""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

_FILE = "drivers/iommu/arm/arm-smmu/qcom_iommu.c"

SITES = [
    Site(
        name="qcom_iommu_device_probe.drvdata",
        function="qcom_iommu_device_probe", file=_FILE, kind="choice",
        doc="where qcom_iommu_device_probe() publishes drvdata (read by qcom_iommu_of_xlate() "
            "and qcom_iommu_ctx_probe())",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=PublishOrder("qcom_iommu_device_probe", "platform_set_drvdata(pdev, qcom_iommu);")),
    Site(
        name="qcom_iommu_device_probe.populate",
        function="qcom_iommu_device_probe", file=_FILE, kind="choice",
        doc="where qcom_iommu_device_probe() populates the context banks (ctxs[] read by "
            "qcom_iommu_of_xlate())",
        v614=BEFORE, next=BEFORE, alternatives=(AFTER, BEFORE),
        c=PublishOrder("qcom_iommu_device_probe",
                        "ret = devm_of_platform_populate(dev);\n"
                        "if (ret) {\n"
                        "\tdev_err(dev, \"Failed to populate iommu contexts\\n\");\n"
                        "\tgoto err_pm_disable;\n"
                        "}",
                        "register context bank devices, which are child nodes:")),
]
