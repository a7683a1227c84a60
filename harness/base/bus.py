"""drivers/base/bus.c: bus device/driver lists, walks and notifiers."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from harness.base import dd
from harness.device import bus_type, dev_fwnode, device, device_driver
from harness.footprint import fp_write
from harness.kernel import kernel, kfunc, kinline

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.of.node import fwnode_handle


@kfunc
def bus_add_device(dev: device) -> int:
    """Add to the bus's device klist: visible to bus_for_each_dev() from here."""
    bus = dev.bus
    if bus is not None:
        fp_write(bus, "devices")
        bus.devices.append(dev)
        bus.index.add_device(bus, dev)
    return 0


@kfunc
def bus_remove_device(dev: device) -> None:
    bus = dev.bus
    if bus is None:
        return
    if dev in bus.devices:
        fp_write(bus, "devices")
        bus.devices.remove(dev)
        bus.index.remove_device(dev)
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
    fp_write(bus, "notifiers")
    bus.notifiers.append(nb)
    return 0


@kfunc
def bus_for_each_dev(bus: bus_type, data: Any, fn: Callable[[device, Any], int],
                     visit: Callable[[device, Any], bool] | None = None,
                     keys: tuple[Hashable, ...] | None = None) -> int:
    """Iterate in klist order; stop at the first non-zero return.

    The klist iterator tolerates additions and removals during the walk:
    devices added meanwhile are visited (they are appended), removed ones
    are skipped.  ``visit`` (model only) filters out devices for which
    ``fn`` is known to return 0 without touching shared state: they cost no
    call and no scheduling point.  ``keys`` (model only, with ``visit``):
    only devices sharing a match key with it can pass ``visit``, so the walk
    visits the bus index's lists for those keys, in klist order, instead of
    every device.
    """
    k = kernel()
    if keys is not None and bus.match_keys is not None:
        return _bus_for_each_candidate(k, bus, data, fn, visit, keys)
    i = 0
    devices = bus.devices
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


def _bus_for_each_candidate(k: Any, bus: bus_type, data: Any, fn: Callable[[device, Any], int],
                            visit: Callable[[device, Any], bool] | None,
                            keys: tuple[Hashable, ...]) -> int:
    """``bus_for_each_dev()``'s loop over the devices with one of ``keys``:
    the same devices in the same (klist) order, the others skipped as
    ``visit`` would skip them.  The cursor is the klist position (sequence
    number) of the last device visited; devices added during the walk come
    after it, removed ones are gone from the index lists."""
    index = bus.index.devices
    cursor = 0
    while True:
        dev = None
        best = 0
        for key in keys:
            lst = index.get(key)
            if lst is None:
                continue
            for d in lst:
                seq = d.knode_seq
                if seq > cursor:
                    if dev is None or seq < best:
                        dev, best = d, seq
                    break
        if dev is None:
            return 0
        cursor = best
        if visit is not None and not visit(dev, data):
            continue
        k.sched_point("bus_for_each_dev")
        error = fn(dev, data)
        if error:
            return error


@kfunc
def bus_for_each_drv(bus: bus_type | None, data: Any, fn: Callable[[device_driver, Any], int],
                     keys: tuple[Hashable, ...] | None = None) -> int:
    """Iterate over the bus's drivers in klist order (a snapshot); stop at the
    first non-zero return.  ``keys`` (model only): ``fn`` returns 0 for every
    driver that shares no match key with them, so only those are visited."""
    if keys is not None and bus.driver_keys is not None:
        # the snapshot, less the drivers that share no key (the model never
        # unregisters a driver, so every indexed one is on the list)
        index = bus.index.drivers
        cands: set[device_driver] = set()
        for key in keys:
            cands.update(index.get(key, ()))
        drivers = sorted(cands, key=_knode_seq) if len(cands) > 1 else list(cands)
    else:
        drivers = list(bus.drivers)
    for drv in drivers:
        error = fn(drv, data)
        if error:
            return error
    return 0


def _knode_seq(o: Any) -> int:
    return int(o.knode_seq)


@kinline
def bus_probe_device(dev: device) -> None:
    # drivers_autoprobe is always on in the model
    dd.device_initial_probe(dev)


@kfunc
def bus_add_driver(drv: device_driver) -> int:
    fp_write(drv.bus, "drivers")
    drv.bus.drivers.append(drv)
    drv.bus.index.add_driver(drv.bus, drv)
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
