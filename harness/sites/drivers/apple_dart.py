"""Order sites of drivers/iommu/apple-dart.c."""

from __future__ import annotations

from harness.sites.shapes import AFTER, BEFORE, PublishOrder
from harness.sites.site import Site

SITES = [
    Site(
        name="apple_dart_probe.drvdata",
        function="apple_dart_probe", file="drivers/iommu/apple-dart.c", kind="choice",
        doc="where apple_dart_probe() publishes its drvdata (read by apple_dart_of_xlate)",
        v614=BEFORE, next=BEFORE, alternatives=(BEFORE, AFTER),
        c=PublishOrder("apple_dart_probe", "platform_set_drvdata(pdev, dart);")),
]
