"""drivers/base/bus.c: bus device/driver lists, walks and notifiers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.base import dd
from harness.device import bus_type, dev_fwnode, device, device_driver
from harness.kernel import kernel, kfunc, kinline

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.of.node import fwnode_handle


@kfunc
def bus_add_device(dev: device) -> int:
    """Add to the bus's device klist: visible to bus_for_each_dev() from here."""
    bus = dev.bus
    if bus is not None:
        bus.devices.append(dev)
    return 0


@kfunc
def bus_remove_device(dev: device) -> None:
    bus = dev.bus
    if bus is None:
        return
    if dev in bus.devices:
        bus.devices.remove(dev)
    dd.device_release_driver(dev)


@kfunc
def bus_notify(dev: device, action: int) -> None:
    bus = dev.bus
    if bus is None:
        return
    for nb in list(bus.notifiers):
        nb(None, action, dev)


@kfunc
def bus_register_notifier(bus: bus_type, nb: Callable[[Any, int, device], int]) -> int:
    bus.notifiers.append(nb)
    return 0


@kfunc
def bus_for_each_dev(bus: bus_type, data: Any, fn: Callable[[device, Any], int],
                     visit: Callable[[device, Any], bool] | None = None) -> int:
    """Iterate in klist order; stop at the first non-zero return.

    The klist iterator tolerates additions and removals during the walk:
    devices added meanwhile are visited (they are appended), removed ones
    are skipped.  ``visit`` (model only) filters out devices for which
    ``fn`` is known to return 0 without touching shared state: they cost no
    call and no scheduling point.
    """
    i = 0
    devices = bus.devices
    k = kernel()
    while i < len(devices):
        dev = devices[i]
        i += 1
        if visit is not None and not visit(dev, data):
            continue
        k.sched_point("bus_for_each_dev")
        error = fn(dev, data)
        if error:
            return error
        # A removal before the cursor shifts the list: re-find our place.
        if i > len(devices) or (i > 0 and devices[i - 1] is not dev):
            i = devices.index(dev) + 1 if dev in devices else i - 1
    return 0


@kfunc
def bus_for_each_drv(bus: bus_type | None, data: Any, fn: Callable[[device_driver, Any], int]) -> int:
    for drv in list(bus.drivers):
        error = fn(drv, data)
        if error:
            return error
    return 0


@kinline
def bus_probe_device(dev: device) -> None:
    # drivers_autoprobe is always on in the model
    dd.device_initial_probe(dev)


@kfunc
def bus_add_driver(drv: device_driver) -> int:
    drv.bus.drivers.append(drv)
    return dd.driver_attach(drv)


@kfunc
def driver_register(drv: device_driver) -> int:
    return bus_add_driver(drv)


@kfunc
def driver_for_each_device(drv: device_driver, start: Any, data: Any,
                           fn: Callable[[device, Any], int]) -> int:
    """Iterate over the devices *bound* to ``drv`` (its klist_devices, filled
    by ``driver_bound()``); stop at the first non-zero return."""
    for dev in list(drv.devices):
        error = fn(dev, data)
        if error:
            return error
    return 0


@kfunc
def bus_find_device_by_fwnode(bus: bus_type, fwnode: fwnode_handle) -> device | None:
    """Any device on ``bus`` (bound or not) whose fwnode is ``fwnode``."""
    for dev in list(bus.devices):
        if fwnode is not None and dev_fwnode(dev) is fwnode:
            return dev
    return None
