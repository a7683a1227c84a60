"""drivers/of/device.c: ``of_dma_configure_id()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

from harness import trace, variant
from harness.errno import ENODEV, EPROBE_DEFER
from harness.iommu.of_iommu import of_iommu_configure
from harness.kernel import kernel, kfunc
from harness.of.node import __of_get_dma_parent, device_node, of_dma_get_range, of_dma_is_coherent

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device

T = TypeVar("T")


@kfunc
def of_dma_configure_id(dev: device, np: device_node, force_dma: bool, id_: int | None) -> int:
    map_ = None
    end = 0
    set_map = False
    trace.dma_configure_entry(dev)

    # NEXT (4/4): if (dev->dma_range_map) { dev_dbg(...); goto skip_map; }
    skip = variant.check("of_dma_configure_id.skip_range_map", dev=dev)
    if not skip:
        bus_np = __of_get_dma_parent(np) if np is dev.of_node else np
        ret, map_ = of_dma_get_range(bus_np)
        if ret < 0:
            # For legacy reasons, we have to assume some devices need DMA
            # configuration regardless of whether "dma-ranges" is correctly
            # specified or not.
            if not force_dma:
                return 0 if ret == -ENODEV else ret
        elif map_ is not None:
            end = map_.max()
            set_map = True

    # skip_map:
    if dev.dma_mask is None:
        kernel().printk(f"{dev.init_name}: DMA mask not set")
        dev.dma_mask = dev.coherent_dma_mask
    if not end and dev.coherent_dma_mask:
        end = dev.coherent_dma_mask
    elif not end:
        end = (1 << 32) - 1
    mask = (1 << end.bit_length()) - 1
    dev.coherent_dma_mask &= mask
    dev.dma_mask &= mask
    # ...but only set bus limit and range map if we found valid dma-ranges
    if set_map:
        dev.bus_dma_limit = end
        trace.dma_range_map_set(dev, map_)
        dev.dma_range_map = map_

    coherent = of_dma_is_coherent(np)

    ret = of_iommu_configure(dev, np, id_)
    if ret == -EPROBE_DEFER:
        # Don't touch range map if it wasn't set from a valid dma-ranges
        if set_map:
            dev.dma_range_map = None
        if map_ is not None:
            trace.dma_range_map_kfree(dev, map_)  # kfree(map)
        return -EPROBE_DEFER
    # Take all other IOMMU errors to mean we'll just carry on without it
    arch_setup_dma_ops(dev, coherent)
    return 0


@kfunc
def arch_setup_dma_ops(dev: device, coherent: bool) -> None:
    """arm64: record coherency; the DMA ops come from dev->dma_iommu."""
    dev.dma_coherent = coherent
    dev.dma_ops_set = True


def of_device_get_match_data(dev: device, match: Mapping[str, T]) -> T | None:
    """``of_device_get_match_data()`` against the driver's ``of_match_table``
    (``match``: compatible -> data): the first of the node's compatibles that
    the table lists wins, as ``of_match_node()`` scores an earlier compatible
    higher."""
    np = dev.of_node
    if np is None:
        return None
    for c in np.compatible:
        if c in match:
            return match[c]
    return None
