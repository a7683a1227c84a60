"""Trace hooks: the points where the model tells observers what it does.

As the kernel's tracepoints (``include/trace/events/``), each hook is a named
call site in model code -- ``trace.of_xlate_call(dev, spec)`` -- that does
nothing until someone attaches to it.  The oracles (:mod:`harness.oracles`)
attach their checks here; no model module imports the oracles.

This module is a leaf: it imports nothing from the harness.  A hook with one
observer *is* that observer's function (the call costs what a direct call
costs, and the caller's frame is one level up, which the oracles' stack
walks rely on); a second observer on the same hook chains after the first.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

#: the hook points, with their arguments (``dev`` is a ``struct device``)
HOOKS: dict[str, str] = {
    # drivers/base
    "bind_attempt_start": "(dev): really_probe() starts a bind attempt",
    "bind_attempt_end": "(dev, ret): really_probe() returns",
    "driver_probe_entry": "(dev): drv->probe() is about to run",
    "dma_range_map_freed": "(dev): device_unbind_cleanup() frees dev->dma_range_map",
    "devres_freed": "(dr): a devm allocation is released",
    # bus dma_configure paths (of_dma_configure_id, acpi_dma_configure_id)
    "dma_configure_entry": "(dev): bus->dma_configure runs",
    "dma_range_map_set": "(dev, new): dev->dma_range_map is set",
    "dma_range_map_kfree": "(dev, map): a map the caller owns is kfree()d",
    # drivers/iommu/of_iommu.c
    "of_iommu_configure_entry": "(dev): of_iommu_configure() starts",
    "of_iommu_configure_exit": "(dev, err, dev_iommu_present): it returns",
    "of_xlate_call": "(dev, spec): a driver's of_xlate is called",
    # drivers/iommu/iommu.c
    "instance_listed": "(iommu): iommu_device_register() lists an instance",
    "instance_unlisted": "(iommu): an instance leaves the list",
    "walk_probe_result": "(dev, ret): probe_iommu_group() result for one device",
    "dev_iommu_freed": "(dev, param): dev_iommu_free()",
    "priv_set": "(dev, priv): dev_iommu_priv_set()",
    "fwspec_ids_added": "(dev, fwspec, ids): iommu_fwspec_add_ids(), before appending",
    "probe_device_ok": "(dev, iommu_dev): ops->probe_device() succeeded",
    "device_group_ok": "(dev, group): ops->device_group() returned a group",
    "init_device_failed": "(dev, ret): iommu_init_device() failed",
    "device_released": "(dev): iommu_release_device()",
    "group_add": "(dev, group): __iommu_group_add_device(), before adding",
    "iommu_probe_done": "(dev): __iommu_probe_device() finished",
    "dma_ops_changing": "(dev, old, new): iommu_setup_dma_ops() changes the DMA path",
}


def _nop(*args: Any) -> None:
    """A hook nobody attached to."""


def attach(hook: str, fn: Callable[..., None]) -> None:
    """Call ``fn`` with the hook's arguments each time the model reaches ``hook``."""
    if hook not in HOOKS:
        raise KeyError(f"no trace hook {hook!r}")
    mod = sys.modules[__name__]
    cur = getattr(mod, hook)
    if cur is _nop or cur is fn:
        setattr(mod, hook, fn)
        return

    def chained(*args: Any) -> None:
        cur(*args)
        fn(*args)
    setattr(mod, hook, chained)


def detach_all() -> None:
    """Every hook back to doing nothing (tests)."""
    for hook in HOOKS:
        setattr(sys.modules[__name__], hook, _nop)


# The hook points themselves (module attributes that attach() rebinds).
bind_attempt_start: Callable[..., None] = _nop
bind_attempt_end: Callable[..., None] = _nop
driver_probe_entry: Callable[..., None] = _nop
dma_range_map_freed: Callable[..., None] = _nop
devres_freed: Callable[..., None] = _nop
dma_configure_entry: Callable[..., None] = _nop
dma_range_map_set: Callable[..., None] = _nop
dma_range_map_kfree: Callable[..., None] = _nop
of_iommu_configure_entry: Callable[..., None] = _nop
of_iommu_configure_exit: Callable[..., None] = _nop
of_xlate_call: Callable[..., None] = _nop
instance_listed: Callable[..., None] = _nop
instance_unlisted: Callable[..., None] = _nop
walk_probe_result: Callable[..., None] = _nop
dev_iommu_freed: Callable[..., None] = _nop
priv_set: Callable[..., None] = _nop
fwspec_ids_added: Callable[..., None] = _nop
probe_device_ok: Callable[..., None] = _nop
device_group_ok: Callable[..., None] = _nop
init_device_failed: Callable[..., None] = _nop
device_released: Callable[..., None] = _nop
group_add: Callable[..., None] = _nop
iommu_probe_done: Callable[..., None] = _nop
dma_ops_changing: Callable[..., None] = _nop
