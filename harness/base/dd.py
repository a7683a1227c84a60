"""drivers/base/dd.c: binding drivers to devices, deferred probe.

Source order and names follow the 6.12 / v6.14 file.  ``device_lock`` is
``dev.mutex``.  Probe errors from the driver come back positive from
``really_probe`` exactly as in C.
"""

from __future__ import annotations

from typing import Any

import harness.kernel as kmod
from harness import trace, variant
from harness.base import bus as base_bus
from harness.base import devlink, devres, pinctrl
from harness.device import (
    PROBE_FORCE_SYNCHRONOUS,
    PROBE_PREFER_ASYNCHRONOUS,
    dev_set_drvdata,
    device,
    device_driver,
    device_is_bound,
)
from harness.errno import EBUSY, ENODEV, EPROBE_DEFER, ETIMEDOUT
from harness.footprint import fp_write
from harness.iommu import iommu
from harness.kernel import Completion, Mutex, kernel, kfunc, kinline, mutex_lock, mutex_unlock

BUS_NOTIFY_ADD_DEVICE = 1
BUS_NOTIFY_DEL_DEVICE = 2
BUS_NOTIFY_REMOVED_DEVICE = 3
BUS_NOTIFY_BIND_DRIVER = 4
BUS_NOTIFY_BOUND_DRIVER = 5
BUS_NOTIFY_UNBIND_DRIVER = 6
BUS_NOTIFY_UNBOUND_DRIVER = 7
BUS_NOTIFY_DRIVER_NOT_BOUND = 8


class DeferredProbeState:
    """The file-scope statics of dd.c for one boot."""

    def __init__(self) -> None:
        self.deferred_probe_mutex = Mutex("deferred_probe_mutex")
        self.pending: list[device] = []
        self.active: list[device] = []
        self.deferred_trigger_count = 0
        self.driver_deferred_probe_enable = False
        self.initcalls_done = False
        # CONFIG_MODULES=y (arm64 defconfig): 10 s; the scenario may say 0.
        self.driver_deferred_probe_timeout = 10
        self.config_modules = True
        self.work = Work("deferred_probe_work", deferred_probe_work_func)
        self.probe_count = 0
        # driver_async_probe= command line ("*" for all)
        self.async_probe_drivers: frozenset[str] = frozenset()


def state() -> DeferredProbeState:
    # ~500 a boot: one dict probe once the state exists (see iommu.core())
    s = kmod._K.globals.get(DeferredProbeState)  # type: ignore[union-attr]
    return s if s is not None else kernel().state(DeferredProbeState)


# -- workqueues (kernel/workqueue.c), as much as dd.c needs -------------------


class Work:
    """``struct work_struct`` on an unbound workqueue: one kworker runs it."""

    def __init__(self, name: str, func: Any) -> None:
        self.name = name
        self.func = func
        self.pending = False
        self.running = False
        self.done = Completion(name)


@kfunc
def queue_work(work: Work) -> None:
    if work.pending:
        return
    work.pending = True
    if not work.running:
        kernel().kthread_create(f"kworker/u:{work.name}", _worker, work)


def _worker(work: Work) -> None:
    k = kernel()
    while work.pending:
        work.pending = False
        work.running = True
        work.func(work)
        work.running = False
    for t in work.done.waiters:
        k.wake(t)
    work.done.waiters.clear()


@kfunc
def flush_work(work: Work) -> None:
    k = kernel()
    while work.pending or work.running:
        t = k.current
        assert t is not None
        work.done.waiters.append(t)
        k.block(t, work.done)


class AsyncState:
    """kernel/async.c for one boot: the pending entries and their waiters."""

    def __init__(self) -> None:
        self.pending: list[Any] = []  # threads running an async entry
        self.done = Completion("async_done")


@kfunc
def async_schedule_dev(func: Any, dev: device) -> None:
    """``async_schedule_dev()``: run ``func(dev)`` on an async worker thread.

    Each entry gets its own kworker (the unbound workqueue has as many as
    there are entries ready to run), so async probes of different devices
    run concurrently with each other and with the caller.
    """
    k = kernel()
    a = k.state(AsyncState)
    a.pending.append(k.kthread_create(f"kworker/async:{dev.init_name}", async_run_entry_fn, func, dev))


@kfunc
def async_run_entry_fn(func: Any, dev: device) -> None:
    """Run the entry, then retire it and wake ``async_synchronize_*`` waiters."""
    func(dev)
    k = kernel()
    a = k.state(AsyncState)
    a.pending.remove(k.current)
    for t in a.done.waiters:
        k.wake(t)
    a.done.waiters.clear()


@kfunc
def async_synchronize_full() -> None:
    """Wait until every async entry scheduled so far has finished."""
    k = kernel()
    t = k.current
    assert t is not None
    a = k.state(AsyncState)
    while a.pending:
        a.done.waiters.append(t)
        k.block(t, a.done)


# -- device_lock ---------------------------------------------------------------


def device_lock(dev: device) -> None:
    mutex_lock(dev.mutex)


def device_unlock(dev: device) -> None:
    mutex_unlock(dev.mutex)


# -- deferred probe --------------------------------------------------------------


@kfunc
def deferred_probe_work_func(work: Work) -> None:
    s = state()
    mutex_lock(s.deferred_probe_mutex)
    while s.active:
        dev = s.active.pop(0)
        dev.deferred_probe = False
        dev.deferred_probe_reason = None
        # Drop the mutex while probing each device; the probe path may
        # manipulate the deferred list
        mutex_unlock(s.deferred_probe_mutex)
        base_bus.bus_probe_device(dev)
        mutex_lock(s.deferred_probe_mutex)
    mutex_unlock(s.deferred_probe_mutex)


@kfunc
def driver_deferred_probe_add(dev: device) -> None:
    if not dev.can_match:
        return
    s = state()
    mutex_lock(s.deferred_probe_mutex)
    if not dev.deferred_probe:
        dev.deferred_probe = True
        s.pending.append(dev)
    mutex_unlock(s.deferred_probe_mutex)


@kfunc
def driver_deferred_probe_del(dev: device) -> None:
    s = state()
    mutex_lock(s.deferred_probe_mutex)
    if dev.deferred_probe:
        if dev in s.pending:
            s.pending.remove(dev)
        if dev in s.active:
            s.active.remove(dev)
        dev.deferred_probe = False
    mutex_unlock(s.deferred_probe_mutex)


@kfunc
def driver_deferred_probe_trigger() -> None:
    s = state()
    if not s.driver_deferred_probe_enable:
        return
    mutex_lock(s.deferred_probe_mutex)
    s.deferred_trigger_count += 1
    s.active.extend(s.pending)
    s.pending.clear()
    mutex_unlock(s.deferred_probe_mutex)
    queue_work(s.work)


@kfunc
def driver_deferred_probe_check_state(dev: device) -> int:
    s = state()
    if not s.config_modules and s.initcalls_done:
        kernel().printk(f"{dev.init_name}: ignoring dependency for device, assuming no driver")
        return -ENODEV
    if not s.driver_deferred_probe_timeout and s.initcalls_done:
        kernel().printk(f"{dev.init_name}: deferred probe timeout, ignoring dependency")
        return -ETIMEDOUT
    return -EPROBE_DEFER


@kfunc
def deferred_probe_initcall() -> int:
    s = state()
    s.driver_deferred_probe_enable = True
    driver_deferred_probe_trigger()
    # Sort as many dependencies as possible before exiting initcalls
    flush_work(s.work)
    s.initcalls_done = True
    if not s.config_modules:
        devlink.fw_devlink_drivers_done()
    # Trigger deferred probe again, this time we won't defer anything
    # that is optional
    driver_deferred_probe_trigger()
    flush_work(s.work)
    return 0


@kfunc
def deferred_probe_timeout_work_func() -> None:
    """The timeout expired (``driver_deferred_probe_timeout`` seconds later)."""
    s = state()
    devlink.fw_devlink_drivers_done()
    s.driver_deferred_probe_timeout = 0
    driver_deferred_probe_trigger()
    flush_work(s.work)
    for dev in s.pending:
        kernel().printk(f"{dev.init_name}: deferred probe pending: "
                        f"{dev.deferred_probe_reason or '(reason unknown)'}")


# -- binding -----------------------------------------------------------------------


@kinline
def device_set_driver(dev: device, drv: device_driver | None) -> None:
    # The store is a plain write: racy readers see old or new (spec W4).
    kernel().sched_point("device_set_driver")
    dev.driver = drv


@kinline
def driver_sysfs_add(dev: device) -> int:
    base_bus.bus_notify(dev, BUS_NOTIFY_BIND_DRIVER)
    return 0


@kfunc
def driver_bound(dev: device) -> None:
    if device_is_bound(dev):
        kernel().printk(f"{dev.init_name}: driver_bound: device already bound")
        return
    assert dev.driver is not None
    fp_write(dev.driver, "devices")
    dev.driver.devices.append(dev)
    # Make sure the device is no longer in one of the deferred lists and
    # kick off retrying all pending devices
    driver_deferred_probe_del(dev)
    driver_deferred_probe_trigger()
    base_bus.bus_notify(dev, BUS_NOTIFY_BOUND_DRIVER)


@kinline
def device_unbind_cleanup(dev: device) -> None:
    devres.devres_release_all(dev)
    arch_teardown_dma_ops(dev)
    trace.dma_range_map_freed(dev)
    dev.dma_range_map = None
    device_set_driver(dev, None)
    dev_set_drvdata(dev, None)


@kfunc
def arch_teardown_dma_ops(dev: device) -> None:
    dev.dma_ops_set = False


@kinline
def call_driver_probe(dev: device, drv: device_driver) -> int:
    if dev.bus is not None and dev.bus.probe is not None:
        return int(dev.bus.probe(dev))
    return 0


@kfunc
def really_probe(dev: device, drv: device_driver) -> int:
    s = state()
    if getattr(s, "defer_all_probes", False):
        return -EPROBE_DEFER
    # fw_devlink: a supplier not bound yet holds the probe (dd.c:679)
    if devlink.state() is not None and devlink.device_links_check_suppliers(dev) == -EPROBE_DEFER:
        return -EPROBE_DEFER
    if dev.devres_head:
        kernel().printk(f"{dev.init_name}: Resources present before probing")
        return -EBUSY

    device_set_driver(dev, drv)
    trace.bind_attempt_start(dev)

    # If using pinctrl, bind pins now before probing (dd.c:692); a device
    # without pinctrl-0 gets -ENODEV there, which pinctrl_bind_pins()
    # ignores: only nodes with one make the call
    if pinctrl.has_pinctrl(dev.of_node) and pinctrl.state() is not None:
        ret = pinctrl.pinctrl_bind_pins(dev)
        if ret:
            return _pinctrl_bind_failed(dev, ret)

    ret = 0
    if dev.bus is not None and dev.bus.dma_configure is not None:
        ret = dev.bus.dma_configure(dev)
        if ret:
            return _pinctrl_bind_failed(dev, ret)

    ret = driver_sysfs_add(dev)

    trace.driver_probe_entry(dev)
    ret = call_driver_probe(dev, drv)
    if ret:
        # Return probe errors as positive values so that the callers can
        # distinguish them from other errors.
        ret = -ret
        base_bus.bus_notify(dev, BUS_NOTIFY_DRIVER_NOT_BOUND)
        if dev.bus is not None and dev.bus.dma_cleanup is not None:
            dev.bus.dma_cleanup(dev)
        return _pinctrl_bind_failed(dev, ret)

    driver_bound(dev)
    return 0


def _pinctrl_bind_failed(dev: device, ret: int) -> int:
    # pinctrl_bind_failed: device_links_no_driver(dev); device_unbind_cleanup(dev);
    device_unbind_cleanup(dev)
    trace.bind_attempt_end(dev, ret)
    return ret


@kfunc
def __driver_probe_device(drv: device_driver, dev: device) -> int:  # noqa: N807
    if dev.dead or not dev.registered:
        return -ENODEV
    if dev.driver is not None:
        return -EBUSY
    dev.can_match = True
    return really_probe(dev, drv)


@kfunc
def driver_probe_device(drv: device_driver, dev: device) -> int:
    s = state()
    trigger_count = s.deferred_trigger_count
    s.probe_count += 1
    ret = __driver_probe_device(drv, dev)
    if ret == -EPROBE_DEFER or ret == EPROBE_DEFER:
        driver_deferred_probe_add(dev)
        # Did a trigger occur while probing? Need to re-trigger if yes
        if trigger_count != s.deferred_trigger_count:
            driver_deferred_probe_trigger()
    s.probe_count -= 1
    return ret


def driver_allows_async_probing(drv: device_driver) -> bool:
    if drv.probe_type == PROBE_PREFER_ASYNCHRONOUS:
        return True
    if drv.probe_type == PROBE_FORCE_SYNCHRONOUS:
        return False
    names = state().async_probe_drivers
    return "*" in names or drv.name in names


@kfunc
def driver_match_device(drv: device_driver, dev: device) -> int:
    bus = drv.bus
    return bus.match(dev, drv) if bus.match is not None else 1


@kfunc
def __device_attach_driver(drv: device_driver, data: dict[str, Any]) -> int:  # noqa: N807
    dev = data["dev"]
    ret = driver_match_device(drv, dev)
    if ret == 0:
        return 0
    if ret == -EPROBE_DEFER:
        dev.can_match = True
        driver_deferred_probe_add(dev)
        return ret
    if ret < 0:
        return ret
    async_allowed = driver_allows_async_probing(drv)
    if async_allowed:
        data["have_async"] = True
    if data["check_async"] and async_allowed != data["want_async"]:
        return 0
    # Ignore errors returned by ->probe so that the next driver can try
    # its luck.
    ret = driver_probe_device(drv, dev)
    if ret < 0:
        return ret
    return int(ret == 0)


@kfunc
def __device_attach_async_helper(dev: device) -> None:  # noqa: N807
    device_lock(dev)
    if not (dev.dead or dev.driver is not None):
        data = {"dev": dev, "check_async": True, "want_async": True, "have_async": False}
        base_bus.bus_for_each_drv(dev.bus, data, __device_attach_driver, _dev_keys(dev))
    device_unlock(dev)


@kfunc
def __device_attach(dev: device, allow_async: bool) -> int:  # noqa: N807
    ret = 0
    do_async = False
    device_lock(dev)
    if dev.dead:
        pass
    elif dev.driver is not None:
        ret = 1 if device_is_bound(dev) else 0
    else:
        data = {"dev": dev, "check_async": allow_async, "want_async": False, "have_async": False}
        ret = base_bus.bus_for_each_drv(dev.bus, data, __device_attach_driver, _dev_keys(dev))
        if not ret and allow_async and data["have_async"]:
            do_async = True
    device_unlock(dev)
    if do_async:
        async_schedule_dev(__device_attach_async_helper, dev)
    return ret


@kfunc
def device_initial_probe(dev: device) -> None:
    __device_attach(dev, True)


@kfunc
def __driver_attach_async_helper(dev: device) -> None:  # noqa: N807
    device_lock(dev)
    drv = dev.async_driver
    dev.async_driver = None
    if drv is not None:
        driver_probe_device(drv, dev)
    device_unlock(dev)


@kfunc
def __driver_attach(dev: device, drv: device_driver) -> int:  # noqa: N807
    ret = driver_match_device(drv, dev)
    if ret == 0:
        return 0
    if ret == -EPROBE_DEFER:
        dev.can_match = True
        driver_deferred_probe_add(dev)
        return 0
    if ret < 0:
        return ret
    if driver_allows_async_probing(drv):
        do_async = False
        device_lock(dev)
        if dev.driver is None and dev.async_driver is None:
            dev.async_driver = drv
            do_async = True
        device_unlock(dev)
        if do_async:
            async_schedule_dev(__driver_attach_async_helper, dev)
        return 0
    device_lock(dev)
    driver_probe_device(drv, dev)
    device_unlock(dev)
    return 0


def _may_match(dev: device, drv: device_driver) -> bool:
    # bus->match() is a pure function of ids fixed at device creation, so a
    # device it rejects is a step of the walk no other thread can observe:
    # bus_for_each_dev() skips it without a scheduling point.
    match = drv.bus.match  # driver_match_device() without its frame: 7,300 pairs a boot
    return match is None or match(dev, drv) != 0


@kfunc
def driver_attach(drv: device_driver) -> int:
    bus = drv.bus
    keys = drv.match_keys if bus.match_keys is not None and bus.driver_keys is not None else None
    return base_bus.bus_for_each_dev(bus, drv, __driver_attach, _may_match, keys)


def _dev_keys(dev: device) -> tuple[Any, ...] | None:
    # bus->match() only accepts a driver whose table shares a key with the
    # device (bus_type.match_keys): bus_for_each_drv() visits those only.
    bus = dev.bus
    if bus is None or bus.match_keys is None or bus.driver_keys is None:
        return None
    return dev.match_keys


# -- unbinding -------------------------------------------------------------------


@kfunc
def device_remove(dev: device) -> None:
    drv = dev.driver
    if drv is not None and drv.container is not None:
        remove = getattr(drv.container, "remove", None)
        if remove is not None:
            remove(dev.container)


@kinline
def __device_release_driver(dev: device) -> None:  # noqa: N807
    drv = dev.driver
    if drv is None:
        return
    base_bus.bus_notify(dev, BUS_NOTIFY_UNBIND_DRIVER)
    device_remove(dev)
    if dev.bus is not None and dev.bus.dma_cleanup is not None:
        dev.bus.dma_cleanup(dev)
    if dev in drv.devices:
        fp_write(drv, "devices")
        drv.devices.remove(dev)
    device_unbind_cleanup(dev)
    base_bus.bus_notify(dev, BUS_NOTIFY_UNBOUND_DRIVER)


@kfunc
def device_release_driver(dev: device) -> None:
    device_lock(dev)
    __device_release_driver(dev)
    device_unlock(dev)


#: bus_dma_claim()'s scheduling point and guard site, per hook (named once:
#: ~300 claims a boot)
_CLAIM_NAMES: dict[str, tuple[str, str]] = {}


@kinline
def bus_dma_claim(hook: str, dev: device, drv: device_driver, ddrv: Any, ret: int) -> int:
    """The end every bus ``dma_configure`` hook shares (platform, amba, pci,
    fsl-mc, cdx): when the hook's guard site ``<hook>.use_default_domain``
    holds, claim the group's default domain for the driver
    (``iommu_device_use_default_domain``) and undo the arch DMA ops if that
    fails; otherwise return the firmware result ``ret`` unchanged.

    ``drv`` is the bus driver the hook derived from ``dev->driver`` at entry
    (``ddrv``); the guard may read ``dev->driver`` again, unlocked, after the
    scheduling point (window W4).
    """
    k = kernel()
    names = _CLAIM_NAMES.get(hook)
    if names is None:
        names = _CLAIM_NAMES[hook] = (f"{hook}:dev->driver", f"{hook}.use_default_domain")
    if k.nr_running > 1:
        k.sched_point(names[0])
    if not variant.check(names[1], dev=dev, drv=drv, ret=ret, ddrv=ddrv):
        return ret
    ret = iommu.iommu_device_use_default_domain(dev)
    if ret:
        arch_teardown_dma_ops(dev)
    return ret


@kinline
def bus_dma_cleanup(dev: device, drv: Any) -> None:
    """The bus ``dma_cleanup`` hooks: give the default domain back unless the
    (bound) driver manages DMA itself."""
    if not drv.driver_managed_dma:
        iommu.iommu_device_unuse_default_domain(dev)
