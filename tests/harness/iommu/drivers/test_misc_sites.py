"""The probe-order sites of sun50i/apple-dart/omap/msm/sprd apply to the real
6.12 files: spatch moves the statement across iommu_device_register() and
the readback (plain text, independent of the rules) sees the new order."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.variant import SITES, V614
from mutators.order_shapes import AFTER, BEFORE
from mutators.readback import function_bodies, read_value
from tests.harness.iommu.drivers._sites import patched_copy

pytestmark = pytest.mark.kernel_tree

MINE = {
    "sun50i_iommu_probe.drvdata": "platform_set_drvdata(pdev, iommu);",
    "apple_dart_probe.drvdata": "platform_set_drvdata(pdev, dart);",
    "omap_iommu_probe.drvdata": "platform_set_drvdata(pdev, obj);",
    "msm_iommu_probe.qcom_iommu_devices": "list_add(&iommu->dev_node, &qcom_iommu_devices);",
    "sprd_iommu_probe.drvdata": "platform_set_drvdata(pdev, sdev);",
}


@pytest.mark.parametrize("site", sorted(MINE))
def test_site_moves_the_statement_after_the_registration(site: str, kernel_tree: Path,
                                                        tmp_path: Path) -> None:
    s = SITES[site]
    assert s.v614 == BEFORE
    src = kernel_tree / s.file
    assert read_value(s, src.read_text()) == BEFORE
    v = V614.with_values(f"V614+{site}", "", **{site: AFTER})
    text = patched_copy(kernel_tree, tmp_path, v, s.file)
    assert read_value(s, text) == AFTER
    body = function_bodies(text, s.function)[0]
    assert body.count(MINE[site]) == 1
    reg = body.index("iommu_device_register(")
    stmt = body.index(MINE[site])
    # right after the error check that follows the call
    rest = body[reg:stmt]
    rest = rest[rest.index(";") + 1:].strip()
    assert rest.startswith("if (") and rest.count("if (") == 1 and "goto" in rest, rest
