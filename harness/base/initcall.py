"""Initcall levels (include/linux/init.h) and the level each driver registers at.

``do_initcalls()`` (init/main.c) runs the levels in this order; a built-in
driver registers at the level of its ``*_initcall()``: ``module_*_driver()``
and ``builtin_*_driver()`` are device level, many clock, pinctrl, regulator,
DMA and bus drivers register earlier.  Modules load after the last level
(userspace's modprobe).  Which ID registers where is a fact of the tree
under test: :mod:`harness.base.initcall_table` is generated from it by
``corpus/initcalls.py``; a scenario can override a driver's level
(``DriverConfig.initcall``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from harness.base.initcall_table import CLIENT_INITCALLS
from harness.base.link_order_table import LINKED_BEFORE

#: boot order of the levels the model runs (pure and console levels hold no
#: driver here); ``_sync`` levels run right after their level
INITCALL_LEVELS = ("core", "core_sync", "postcore", "postcore_sync", "arch", "arch_sync",
                   "subsys", "subsys_sync", "fs", "fs_sync", "rootfs", "device", "late")
DEVICE = "device"
# device-level drivers linked before drivers/pci/ or drivers/iommu/
# (drivers/Makefile; harness.base.link_order_table)
BEFORE_PCI = "pci"
BEFORE_IOMMU = "iommu"


# IDs -> level from the checked-in table alone (no tree overrides): asked for
# every client driver of every boot (~70 a boot of the seed board)
_TABLE_LEVEL: dict[tuple[str, ...], str] = {}


def driver_initcall_level(compatibles: Iterable[str],
                          tree: Mapping[str, str] | None = None) -> str:
    """The level the driver matching a device with these IDs registers at:
    that of the first ID an early-registering driver lists, else device.
    ``tree``: the levels of the tree under test where they differ from the
    checked-in table (``Variant.initcalls``; ``device`` for an ID it has
    early)."""
    if not tree and isinstance(compatibles, tuple):
        level = _TABLE_LEVEL.get(compatibles)
        if level is None:
            level = _TABLE_LEVEL[compatibles] = _level(compatibles, None)
            if len(_TABLE_LEVEL) > 1 << 14:  # fuzzed IDs: keep it bounded
                _TABLE_LEVEL.clear()
        return level
    return _level(compatibles, tree)


def _level(compatibles: Iterable[str], tree: Mapping[str, str] | None) -> str:
    for c in compatibles:
        if tree and c in tree:
            if tree[c] != DEVICE:
                return tree[c]
            continue
        hit = CLIENT_INITCALLS.get(c)
        if hit is not None:
            return hit[0]
    return DEVICE


def driver_link_order(compatibles: Iterable[str]) -> str | None:
    """Where a device-level driver matching these IDs links: ``BEFORE_PCI``,
    ``BEFORE_IOMMU`` (the first ID listed decides), or None (after
    drivers/iommu/, the clients' subsystems: gpu, media, usb, net, mmc...)."""
    for c in compatibles:
        hit = LINKED_BEFORE.get(c)
        if hit is not None:
            return hit
    return None
