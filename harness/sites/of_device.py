"""Guard site of drivers/of/device.c: ``of_dma_configure_id()`` skips dma-ranges
parsing when ``dev->dma_range_map`` is already set (4/4)."""

from __future__ import annotations

from harness.sites.shapes import Anchor, GuardedIf
from harness.sites.site import G, P, Site
from harness.sites.vocab import device_vocab

SITES: list[Site] = []
_add = SITES.append

_add(Site(
    name="of_dma_configure_id.skip_range_map",
    function="of_dma_configure_id", file="drivers/of/device.c", kind="guard",
    doc='skip dma-ranges parsing: "dma_range_map already set"',
    v614=None, next=G(P("dev->dma_range_map")),
    vocab=device_vocab("dev->dma_range_map", "dev->driver"),
    patch="4/4",
    c=GuardedIf(
        body="{\ndev_dbg(...);\ngoto skip_map;\n}",
        insert_body=lambda v: '{\n\tdev_dbg(dev, "dma_range_map already set\\n");\n'
                              '\tgoto skip_map;\n}',
        anchor=Anchor(after="if (np == dev->of_node) S1 else S2", metavars="statement S1, S2;"),
        label=("skip_map", "if (!dev->dma_mask) { ... }"),
        body_regex=r'^\s*\{\s*dev_dbg\(dev, "dma_range_map already set')))
