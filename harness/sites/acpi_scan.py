"""Guard site of drivers/acpi/scan.c: ``acpi_iommu_configure_id()``'s replay of
``iommu_probe_device()`` (4/4 removes it)."""

from __future__ import annotations

from harness.sites.shapes import Anchor, Comment, GuardedIf
from harness.sites.site import G, P, Site
from harness.sites.vocab import ERR_OK, device_vocab
from harness.sites.vocab import PROBE_DEVICE_LOCK as _LOCK

SITES: list[Site] = []
_add = SITES.append

_add(Site(
    name="acpi_iommu_configure_id.replay",
    function="acpi_iommu_configure_id", file="drivers/acpi/scan.c", kind="guard",
    doc="replay iommu_probe_device() after IORT/VIOT configuration",
    v614=G(P("!err"), P("dev->bus")), next=None,
    vocab=device_vocab("dev->bus", "dev->driver", "dev->iommu_group", **{"!err": ERR_OK}),
    patch="4/4",
    c=GuardedIf(
        body="err = iommu_probe_device(dev);",
        insert_body=lambda v: "err = iommu_probe_device(dev);",
        anchor=Anchor(before=f"mutex_unlock({_LOCK});", after="return err;"),
        blank_before=True,
        comments=(Comment("If we have reason to believe the IOMMU driver missed the initial\n"
                          "iommu_probe_device() call for dev, replay it to get things in "
                          "order."),),
        body_regex=r"^\s*err = iommu_probe_device\(dev\);")))
