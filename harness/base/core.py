"""drivers/base/core.c: device_add() and device_del() in the order that matters."""

from __future__ import annotations

from typing import Any

from harness.base import bus as busc
from harness.base import dd
from harness.device import device
from harness.kernel import kernel, kfunc


@kfunc
def device_add(dev: device) -> int:
    """bus_add_device -> (pm, sysfs) -> BUS_NOTIFY_ADD_DEVICE -> bus_probe_device."""
    error = busc.bus_add_device(dev)
    if error:
        return error
    dev.registered = True
    # core.c:3755: the fwnode's device, for the consumers waiting for it
    fw = dev.of_node.fwnode if dev.of_node is not None else dev.fwnode
    if fw is not None and fw.dev is None:
        fw.dev = dev
    # Window (spec 3.6): the device is on the bus list, visible to a
    # registration walk, before the ADD_DEVICE notifier has run.
    kernel().sched_point("device_add:bus_add_device")
    busc.bus_notify(dev, dd.BUS_NOTIFY_ADD_DEVICE)
    busc.bus_probe_device(dev)
    return 0


@kfunc
def device_del(dev: device) -> None:
    """Removal: DEL notifier, unbind, deferred-list removal, REMOVED notifier."""
    dev.dead = True
    fw = dev.of_node.fwnode if dev.of_node is not None else dev.fwnode
    if fw is not None and fw.dev is dev:
        fw.dev = None
    busc.bus_notify(dev, dd.BUS_NOTIFY_DEL_DEVICE)
    busc.bus_remove_device(dev)
    dd.driver_deferred_probe_del(dev)
    busc.bus_notify(dev, dd.BUS_NOTIFY_REMOVED_DEVICE)
    dev.registered = False


@kfunc
def device_link_add(consumer: Any, supplier: Any, flags: int = 0) -> Any:
    """``device_link_add()``: the link (PM-runtime and removal ordering, nothing
    the probe path reads); the model keeps the pair."""
    return (consumer, supplier)
