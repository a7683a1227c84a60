"""drivers/of/platform.c: ``of_platform_populate()`` creates the devices."""

from __future__ import annotations

from typing import Any

from harness.base.core import device_add
from harness.base.platform import platform_device
from harness.kernel import kfunc
from harness.of.node import DeviceTree, device_node, of_device_is_available

# of_default_bus_match_table (CONFIG_ARM_AMBA=y on arm64)
of_default_bus_match_table = ("simple-bus", "simple-mfd", "isa", "arm,amba-bus")
# of_skipped_node_table
of_skipped_node_table = ("operating-points-v2",)


def of_device_make_bus_id(np: device_node) -> str:
    """``<unit-address>.<name>`` for nodes with a unit address, else the name.

    The kernel translates "reg" to a CPU address; the unit address in the
    node name is that address for well-formed trees.
    """
    if np.unit:
        return f"{np.unit.split(',')[0]}.{np.name}"
    return np.name


@kfunc
def of_device_alloc(np: device_node, bus_id: str | None, parent: Any) -> platform_device:
    pdev = platform_device(bus_id or of_device_make_bus_id(np))
    pdev.dev.of_node = np
    pdev.dev.parent = parent
    return pdev


@kfunc
def of_platform_device_create_pdata(np: device_node, bus_id: str | None, parent: Any,
                                    names: set[str]) -> platform_device | None:
    if not of_device_is_available(np) or np.populated:
        return None
    np.populated = True
    pdev = of_device_alloc(np, bus_id, parent)
    # Names must be unique on the bus (sysfs); the kernel would fail the
    # second device_add with -EEXIST.
    if pdev.dev.init_name in names:
        return None
    names.add(pdev.dev.init_name)
    pdev.dev.coherent_dma_mask = (1 << 32) - 1
    pdev.dev.dma_mask = pdev.dev.coherent_dma_mask
    if device_add(pdev.dev):
        return None
    return pdev


@kfunc
def of_amba_device_create(np: device_node, bus_id: str | None, parent: Any,
                          names: set[str]) -> Any:
    from harness.bus.amba import amba_device, amba_device_add

    if not of_device_is_available(np) or np.populated:
        return None
    np.populated = True
    name = bus_id or of_device_make_bus_id(np)
    if name in names:
        return None
    names.add(name)
    adev = amba_device(name)
    adev.dev.of_node = np
    adev.dev.parent = parent
    adev.dev.coherent_dma_mask = (1 << 32) - 1
    adev.dev.dma_mask = adev.dev.coherent_dma_mask
    amba_device_add(adev)
    return adev


@kfunc
def of_platform_bus_create(bus: device_node, matches: tuple[str, ...], parent: Any,
                           strict: bool, names: set[str]) -> int:
    # Make sure it has a compatible property
    if strict and not bus.compatible:
        return 0
    # Skip nodes for which we don't want to create devices
    if any(c in of_skipped_node_table for c in bus.compatible):
        return 0
    if bus.populated_bus:
        return 0
    if "arm,primecell" in bus.compatible:
        of_amba_device_create(bus, None, parent, names)
        return 0
    dev = of_platform_device_create_pdata(bus, None, parent, names)
    if dev is None or not any(c in matches for c in bus.compatible):
        return 0
    for child in bus.children:
        rc = of_platform_bus_create(child, matches, dev.dev, strict, names)
        if rc:
            break
    bus.populated_bus = True
    return 0


@kfunc
def of_platform_populate(tree: DeviceTree, matches: tuple[str, ...] = of_default_bus_match_table) -> int:
    root = tree.root
    if root is None:
        return 0
    names: set[str] = set()
    for child in root.children:
        # /chosen, /aliases, /cpus, /memory have no compatible (or are not
        # populated by this path); reserved-memory is handled elsewhere.
        if child.name in ("chosen", "aliases", "cpus", "reserved-memory"):
            continue
        rc = of_platform_bus_create(child, matches, None, True, names)
        if rc:
            break
    root.populated_bus = True
    return 0


@kfunc
def of_platform_default_populate_init(tree: DeviceTree) -> int:
    return of_platform_populate(tree)
