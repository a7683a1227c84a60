"""Guard site of drivers/acpi/arm64/dma.c: ``acpi_arch_dma_setup()`` skips _DMA
parsing when ``dev->dma_range_map`` is already set (4/4)."""

from __future__ import annotations

from harness.sites.shapes import Anchor, GuardedIf
from harness.sites.site import G, P, Site
from harness.sites.vocab import device_vocab

SITES: list[Site] = []
_add = SITES.append

_add(Site(
    name="acpi_arch_dma_setup.skip_range_map",
    function="acpi_arch_dma_setup", file="drivers/acpi/arm64/dma.c", kind="guard",
    doc='skip _DMA parsing: "dma_range_map already set"',
    v614=None, next=G(P("dev->dma_range_map")),
    vocab=device_vocab("dev->dma_range_map", "dev->driver"),
    patch="4/4",
    c=GuardedIf(
        body="{\ndev_dbg(...);\nreturn;\n}",
        insert_body=lambda v: '{\n\tdev_dbg(dev, "dma_range_map already set\\n");\n'
                              '\treturn;\n}',
        anchor=Anchor(after="ret = acpi_dma_get_range(dev, &map);"),
        body_regex=r'^\s*\{\s*dev_dbg\(dev, "dma_range_map already set')))
