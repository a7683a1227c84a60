"""drivers/acpi/scan.c (+ arm64/dma.c, arm64/iort.c at the level the spec
describes): ``acpi_dma_configure_id()`` and ``acpi_iommu_configure_id()``.

ACPI devices carry their IORT/VIOT description in ``fwnode.acpi`` (from the
platform's ``extra_devices[].acpi``): ``{"iort": {"iommu": NAME, "ids": [..]},
"dma": "coherent"|"noncoherent"|"none", "dma_ranges": [[c, p, s], ...]}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import trace, variant
from harness.acpi.viot import viot_iommu_configure
from harness.base.dd import driver_deferred_probe_check_state
from harness.errno import ENODEV, EPROBE_DEFER
from harness.iommu.iommu import (
    dev_iommu_fwspec_get,
    iommu_fwspec_add_ids,
    iommu_fwspec_free,
    iommu_fwspec_init,
    iommu_probe_device,
    iommu_probe_device_lock,
)
from harness.kernel import kernel, kfunc, mutex_lock, mutex_unlock
from harness.of.device import arch_setup_dma_ops
from harness.of.node import bus_dma_region

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.of.node import fwnode_handle

DEV_DMA_NOT_SUPPORTED = 0
DEV_DMA_NON_COHERENT = 1
DEV_DMA_COHERENT = 2


def acpi_get_dma_attr(fwnode: fwnode_handle) -> int:
    dma = (fwnode.acpi or {}).get("dma", "coherent")
    return {"none": DEV_DMA_NOT_SUPPORTED, "noncoherent": DEV_DMA_NON_COHERENT}.get(
        dma, DEV_DMA_COHERENT)


def _acpi_desc(dev: device) -> dict[str, Any]:
    fw = dev.fwnode
    return (fw.acpi or {}) if fw is not None and fw.kind == "acpi" else {}


@kfunc
def acpi_arch_dma_setup(dev: device) -> None:
    if dev.dma_mask is None:
        dev.dma_mask = dev.coherent_dma_mask
    end = dev.coherent_dma_mask or (1 << 32) - 1
    # NEXT 4/4: if (dev->dma_range_map) { dev_dbg(...); return; }
    if variant.check("acpi_arch_dma_setup.skip_range_map", dev=dev):
        return
    ranges = _acpi_desc(dev).get("dma_ranges")
    if ranges:
        map_ = bus_dma_region(tuple(tuple(r) for r in ranges))
        end = map_.max()
        trace.dma_range_map_set(dev, map_)
        dev.dma_range_map = map_
    mask = (1 << end.bit_length()) - 1
    dev.bus_dma_limit = end
    dev.coherent_dma_mask = min(dev.coherent_dma_mask, mask)
    dev.dma_mask = min(dev.dma_mask, mask)


@kfunc
def iort_iommu_configure_id(dev: device, id_in: int | None) -> int:
    """IORT: find the SMMU node for the device (or its RID), init the fwspec,
    add the mapped stream IDs."""
    iort = _acpi_desc(dev).get("iort")
    if not iort:
        return -ENODEV
    fwnode = kernel().globals["acpi_iommu_fwnodes"].get(iort["iommu"])
    if fwnode is None:
        return -ENODEV
    err = iommu_fwspec_init(dev, fwnode)
    if err == -EPROBE_DEFER:
        return driver_deferred_probe_check_state(dev)
    if err:
        return err
    ids = list(iort.get("ids", []))
    if id_in is not None and not ids:
        ids = [id_in]
    return iommu_fwspec_add_ids(dev, ids)


@kfunc
def acpi_iommu_configure_id(dev: device, id_in: int | None) -> int:
    mutex_lock(iommu_probe_device_lock())
    # If we already translated the fwspec there is nothing left to do
    if dev_iommu_fwspec_get(dev) is not None:
        mutex_unlock(iommu_probe_device_lock())
        return 0
    err = iort_iommu_configure_id(dev, id_in)
    if err and err != -EPROBE_DEFER:
        err = viot_iommu_configure(dev)
    if err:
        # iort_iommu_configure_id() frees its partial fwspec on failure
        iommu_fwspec_free(dev)
    mutex_unlock(iommu_probe_device_lock())
    # V614: replay; NEXT: removed.
    if variant.check("acpi_iommu_configure_id.replay", dev=dev, err=err):
        err = iommu_probe_device(dev)
    return err


@kfunc
def acpi_dma_configure_id(dev: device, attr: int, input_id: int | None) -> int:
    if attr == DEV_DMA_NOT_SUPPORTED:
        return 0
    trace.dma_configure_entry(dev)
    acpi_arch_dma_setup(dev)
    ret = acpi_iommu_configure_id(dev, input_id)
    if ret == -EPROBE_DEFER:
        return -EPROBE_DEFER
    arch_setup_dma_ops(dev, attr == DEV_DMA_COHERENT)
    return 0


def acpi_dma_configure(dev: device, attr: int) -> int:
    """``static inline acpi_dma_configure(dev, attr)``."""
    return acpi_dma_configure_id(dev, attr, None)
