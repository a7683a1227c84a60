"""drivers/iommu/iommu.c: registration, the probe path, groups, default domains.

Function by function from v6.14 (``Vxxx`` comments cite the spec's line
numbers for v6.14; the 6.12 tree differs only where noted).  The guard sites
of the series are read from :mod:`harness.variant`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import harness.kernel as kmod
from harness import trace, variant
from harness.base import bus as base_bus
from harness.base import dd
from harness.device import bus_type, dev_fwnode, device
from harness.errno import EBUSY, EINVAL, ENODEV, ENOMEM, EPROBE_DEFER, ERR_PTR, IS_ERR, PTR_ERR
from harness.footprint import fp_write
from harness.iommu.structs import (
    IOMMU_DOMAIN_DMA,
    IOMMU_DOMAIN_IDENTITY,
    dev_iommu,
    group_device,
    iommu_device,
    iommu_domain,
    iommu_fwspec,
    iommu_group,
    iommu_ops,
)
from harness.kernel import (
    WARN_ON,
    Mutex,
    __warn,
    kernel,
    kfunc,
    kinline,
    lockdep_assert_held,
    mutex_lock,
    mutex_unlock,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.errno import ErrPtr
    from harness.of.node import fwnode_handle

NOTIFY_DONE = 0
NOTIFY_OK = 1


class IommuCoreState:
    """File-scope statics of iommu.c for one boot."""

    def __init__(self) -> None:
        self.iommu_device_list: list[iommu_device] = []
        self.iommu_probe_device_lock = Mutex("iommu_probe_device_lock")
        self.iommu_def_domain_type = IOMMU_DOMAIN_DMA
        self.next_group_id = 0
        self.iommu_buses: list[bus_type] = []
        # fault injection: allocation sites that fail (scenario input)
        self.fail_alloc: set[str] = set()


def core() -> IommuCoreState:
    # The model's hottest lookup (~3,500 per boot): the run's kernel read
    # from its module (kernel() would be one more call), one dict probe once
    # the state exists, Kernel.state() only to create it.
    s = kmod._K.globals.get(IommuCoreState)  # type: ignore[union-attr]
    return s if s is not None else kernel().state(IommuCoreState)


def iommu_probe_device_lock() -> Mutex:
    # ~2,800 per boot: core() inlined
    s = kmod._K.globals.get(IommuCoreState)  # type: ignore[union-attr]
    return (s if s is not None else kernel().state(IommuCoreState)).iommu_probe_device_lock


def _alloc_fails(site: str) -> bool:
    return site in core().fail_alloc


# -- subsys init and the bus notifier --------------------------------------------


@kfunc
def iommu_subsys_init() -> int:
    """subsys_initcall: register the notifier on every bus in iommu_buses[]."""
    for bus in core().iommu_buses:
        base_bus.bus_register_notifier(bus, iommu_bus_notifier)
    return 0


@kfunc
def iommu_bus_notifier(nb: Any, action: int, dev: device) -> int:
    if action == dd.BUS_NOTIFY_ADD_DEVICE:
        ret = iommu_probe_device(dev)
        return NOTIFY_DONE if ret else NOTIFY_OK
    if action == dd.BUS_NOTIFY_REMOVED_DEVICE:
        iommu_release_device(dev)
        return NOTIFY_OK
    return 0


# -- registration ------------------------------------------------------------------


@kfunc
def iommu_device_register(iommu: iommu_device, ops: iommu_ops, hwdev: device | None) -> int:
    if WARN_ON(ops.owner is not None and False):
        return -EINVAL
    iommu.ops = ops
    if hwdev is not None:
        iommu.fwnode = dev_fwnode(hwdev)
        iommu.dev = hwdev
    # spin_lock(&iommu_device_lock); list_add_tail(...): from here
    # iommu_ops_from_fwnode() finds the instance.
    fp_write(core(), "iommu_device_list")
    core().iommu_device_list.append(iommu)
    iommu.listed = True
    trace.instance_listed(iommu)
    kernel().sched_point("iommu_device_register:listed")
    err = 0
    for bus in core().iommu_buses:
        err = bus_iommu_probe(bus)
        if err:
            break
    if err:
        iommu_device_unregister(iommu)
    return err


@kfunc
def remove_iommu_group(dev: device, iommu: iommu_device) -> int:
    if dev.iommu is not None and dev.iommu.iommu_dev is iommu:
        iommu_release_device(dev)
    return 0


@kfunc
def iommu_device_unregister(iommu: iommu_device) -> None:
    for bus in core().iommu_buses:
        base_bus.bus_for_each_dev(bus, iommu, remove_iommu_group)
    if iommu in core().iommu_device_list:
        fp_write(core(), "iommu_device_list")
        core().iommu_device_list.remove(iommu)
    iommu.listed = False
    trace.instance_unlisted(iommu)
    if iommu.singleton_group is not None:
        iommu_group_put(iommu.singleton_group)
    iommu.singleton_group = None


@kinline
def bus_iommu_probe(bus: bus_type) -> int:
    group_list: list[iommu_group] = []
    ret = base_bus.bus_for_each_dev(bus, group_list, probe_iommu_group)
    if ret:
        return ret
    # Window W1 (spec 3.5): groups exist, default domains do not yet.
    kernel().sched_point("bus_iommu_probe:groups_queued")
    for group in list(group_list):
        mutex_lock(group.mutex)
        group_list.remove(group)
        group.entry_queued = False
        ret = iommu_setup_default_domain(group, 0)
        if ret:
            mutex_unlock(group.mutex)
            return ret
        for gdev in list(group.devices):
            iommu_setup_dma_ops(gdev.dev)
        mutex_unlock(group.mutex)
        for gdev in list(group.devices):
            iommu_group_do_probe_finalize(gdev.dev)
    return 0


@kfunc
def probe_iommu_group(dev: device, group_list: list[iommu_group]) -> int:
    mutex_lock(iommu_probe_device_lock())
    ret = __iommu_probe_device(dev, group_list)
    mutex_unlock(iommu_probe_device_lock())
    if ret == -ENODEV:
        ret = 0
    trace.walk_probe_result(dev, ret)
    return ret


def iommu_group_do_probe_finalize(dev: device) -> None:
    ops = dev_iommu_ops(dev)
    if ops.probe_finalize is not None:
        ops.probe_finalize(dev)


# -- dev->iommu ----------------------------------------------------------------------


@kfunc
def dev_iommu_get(dev: device) -> dev_iommu | None:
    param = dev.iommu
    lockdep_assert_held(iommu_probe_device_lock())
    if param is not None:
        return param
    if _alloc_fails("dev_iommu_get"):
        return None
    param = dev_iommu()
    dev.iommu = param
    return param


@kfunc
def dev_iommu_free(dev: device) -> None:
    param = dev.iommu
    dev.iommu = None
    param.fwspec = None  # fwnode_handle_put(); kfree(fwspec)
    param.freed = True
    trace.dev_iommu_freed(dev, param)


def dev_has_iommu(dev: device) -> bool:
    return dev.iommu is not None and dev.iommu.iommu_dev is not None


def dev_iommu_fwspec_get(dev: device) -> iommu_fwspec | None:
    return dev.iommu.fwspec if dev.iommu is not None else None


def dev_iommu_ops(dev: device) -> Any:
    """``dev->iommu->iommu_dev->ops`` (callers know the device is probed)."""
    return dev.iommu.iommu_dev.ops


@kfunc
def dev_iommu_priv_set(dev: device, priv: Any) -> None:
    lockdep_assert_held(iommu_probe_device_lock())
    dev.iommu.priv = priv
    trace.priv_set(dev, priv)


def dev_iommu_priv_get(dev: device) -> Any:
    return dev.iommu.priv


# -- fwspec ------------------------------------------------------------------------------


@kfunc
def iommu_ops_from_fwnode(fwnode: fwnode_handle | None) -> iommu_ops | None:
    for iommu in core().iommu_device_list:
        if iommu.fwnode is fwnode:
            return iommu.ops
    return None


def iommu_device_from_fwnode(fwnode: fwnode_handle | None) -> iommu_device | None:
    for iommu in core().iommu_device_list:
        if iommu.fwnode is fwnode:
            return iommu
    return None


@kfunc
def iommu_fwspec_ops(fwspec: iommu_fwspec | None) -> iommu_ops | None:
    return iommu_ops_from_fwnode(fwspec.iommu_fwnode if fwspec is not None else None)


@kfunc
def iommu_fwspec_init(dev: device, iommu_fwnode: Any) -> int:
    ops = iommu_ops_from_fwnode(iommu_fwnode)
    fwspec = dev_iommu_fwspec_get(dev)
    if ops is None:
        return -EPROBE_DEFER
    if fwspec is not None:
        return 0 if ops is iommu_fwspec_ops(fwspec) else -EINVAL
    if dev_iommu_get(dev) is None:
        return -ENOMEM
    if _alloc_fails("iommu_fwspec_init"):
        return -ENOMEM
    fwspec = iommu_fwspec(iommu_fwnode)
    dev.iommu.fwspec = fwspec
    return 0


@kfunc
def iommu_fwspec_free(dev: device) -> None:
    if dev.iommu is not None and dev.iommu.fwspec is not None:
        dev.iommu.fwspec = None


@kfunc
def iommu_fwspec_add_ids(dev: device, ids: list[int]) -> int:
    fwspec = dev_iommu_fwspec_get(dev)
    if fwspec is None:
        return -EINVAL
    trace.fwspec_ids_added(dev, fwspec, ids)
    fwspec.ids.extend(ids)
    return 0


# -- probing a device --------------------------------------------------------------------


@kinline
def iommu_init_device(dev: device, ops: iommu_ops | None) -> int:
    """V614 ``iommu_init_device(dev, ops)``; NEXT resolves ops itself (2/4)."""
    # site dma_configure_position: the replay below dev_iommu_get() (as in the
    # series) or above it, while dev->iommu may still be NULL
    dmac_first = variant.choice("iommu_init_device.dma_configure_position") == \
        "before_dev_iommu_get"
    if dmac_first:
        r = _dma_configure_replay(dev)
        if r is not None:
            return r
    if dev_iommu_get(dev) is None:
        return -ENOMEM

    warn_before = variant.choice("iommu_init_device.late_probe_warn_position") == \
        "before_dma_configure" and variant.present("iommu_init_device.dma_configure") \
        and not dmac_first
    if warn_before:
        _late_probe_warn(dev)

    if not dmac_first:
        r = _dma_configure_replay(dev)
        if r is not None:
            return r

    if variant.choice("iommu_init_device.ops_lookup") == "iommu_init_device":
        # NEXT 2/4: ops = iommu_fwspec_ops(dev->iommu->fwspec)
        ops = iommu_fwspec_ops(dev.iommu.fwspec)
        if ops is None:
            return _init_err_free(dev, -ENODEV)

    if not warn_before:
        _late_probe_warn(dev)

    assert ops is not None
    iommu_dev = ops.probe_device(dev)
    if IS_ERR(iommu_dev):
        ret = PTR_ERR(iommu_dev)
        return _init_err_free(dev, ret)
    dev.iommu.iommu_dev = iommu_dev
    trace.probe_device_ok(dev, iommu_dev)

    group = ops.device_group(dev)
    if WARN_ON(group is None, "device_group returned NULL"):
        group = ERR_PTR(-EINVAL)
    if IS_ERR(group):
        ret = PTR_ERR(group)
        # err_unlink: err_release:
        if ops.release_device is not None:
            ops.release_device(dev)
        # the driver's per-device state is gone: a later probe_device() is a
        # new probe, not a second one (oracle 3)
        trace.device_released(dev)
        return _init_err_free(dev, ret)
    dev.iommu_group = group
    trace.device_group_ok(dev, group)
    return 0


def _dma_configure_replay(dev: device) -> int | None:
    """NEXT 4/4 in iommu_init_device(); a return value ends iommu_init_device().

    if (!dev->driver && dev->bus->dma_configure) {
        mutex_unlock(&iommu_probe_device_lock);
        dev->bus->dma_configure(dev);
        mutex_lock(&iommu_probe_device_lock);
    }
    """
    if variant.check("iommu_init_device.dma_configure", dev=dev):
        lock = variant.choice("iommu_init_device.dma_configure_lock")
        dma_configure: Any = dev.bus.dma_configure  # NULL if the guard lets it through
        if lock == "hold":
            dma_configure(dev)
        elif lock == "device_lock":
            # Serialised with binds (really_probe() runs under device_lock):
            # the "dma_range_map already set" test, the install and the
            # -EPROBE_DEFER free cannot interleave with device_unbind_cleanup().
            mutex_unlock(iommu_probe_device_lock())
            mutex_lock(dev.mutex)  # device_lock(dev)
            if dev.driver is None:  # a bind may have run dma_configure meanwhile
                dma_configure(dev)
            mutex_unlock(dev.mutex)  # device_unlock(dev)
            mutex_lock(iommu_probe_device_lock())
        else:
            mutex_unlock(iommu_probe_device_lock())
            # Window W3: other threads may probe or free this device here.
            dma_configure(dev)
            mutex_lock(iommu_probe_device_lock())
        if lock in ("drop_revalidate", "device_lock") and (
                dev.iommu is None or dev.iommu_group is not None):
            # Someone else finished (or failed) the probe meanwhile.
            return 0 if dev.iommu_group is not None else -ENODEV
    return None


def _late_probe_warn(dev: device) -> None:
    # NEXT 4/4: if (dev->driver) dev_WARN(dev, "late IOMMU probe at driver bind, ...");
    # (site late_probe_warn_position: after the replay and ops lookup, or before the replay)
    # (site late_probe_warn_form: dev_WARN, or dev_WARN_ONCE(dev, 1, ...): first time only)
    if variant.check("iommu_init_device.late_probe_warn", dev=dev):
        once = variant.choice("iommu_init_device.late_probe_warn_form") == "dev_WARN_ONCE"
        __warn("late IOMMU probe at driver bind, something fishy here!", invariant=5,
               once_key="iommu_init_device.late_probe_warn" if once else None)


def _init_err_free(dev: device, ret: int) -> int:
    # err_free: dev->iommu->iommu_dev = NULL; dev_iommu_free(dev);
    dev.iommu.iommu_dev = None
    dev_iommu_free(dev)
    trace.init_device_failed(dev, ret)
    return ret


@kinline
def iommu_deinit_device(dev: device) -> None:
    group = dev.iommu_group
    ops = dev_iommu_ops(dev)
    lockdep_assert_held(group.mutex)
    if ops.release_device is not None:
        ops.release_device(dev)
    # If this is the last driver to use the group then we must free the
    # domains before we do the module_put().
    if not group.devices:
        if group.default_domain is not None:
            group.default_domain.freed = True
            group.default_domain = None
        group.blocking_domain = None
        group.domain = None
    dev.iommu_group = None
    trace.device_released(dev)
    dev_iommu_free(dev)
    dev.dma_iommu = False


@kfunc
def __iommu_probe_device(dev: device, group_list: list[iommu_group] | None) -> int:  # noqa: N807
    ops: iommu_ops | None = None
    if variant.choice("iommu_init_device.ops_lookup") == "__iommu_probe_device":
        # V614: ops = iommu_fwspec_ops(dev_iommu_fwspec_get(dev)); if (!ops) return -ENODEV;
        ops = iommu_fwspec_ops(dev_iommu_fwspec_get(dev))
        if ops is None:
            return -ENODEV
    lockdep_assert_held(iommu_probe_device_lock())

    # Device is probed already if in a group
    if dev.iommu_group is not None:
        return 0

    ret = iommu_init_device(dev, ops)
    if ret:
        return ret

    # iommu_init_device() returned 0: dev->iommu_group is set (mypy narrowed
    # it to None from the "already probed" check above, before the call).
    group = cast(iommu_group, dev.iommu_group)
    gdev = group_device(dev)
    mutex_lock(group.mutex)
    # The gdev must be in the list before calling iommu_setup_default_domain()
    trace.group_add(dev, group)
    fp_write(group, "devices")
    group.devices.append(gdev)
    WARN_ON(group.default_domain is not None and group.domain is None)
    if group.domain is not None:
        ret = __iommu_device_set_domain(group, dev, group.domain)
        if ret:
            return _probe_err_remove_gdev(dev, group, gdev, ret)
    elif group.default_domain is None and group_list is None:
        ret = iommu_setup_default_domain(group, 0)
        if ret:
            return _probe_err_remove_gdev(dev, group, gdev, ret)
    elif group.default_domain is None:
        # With a group_list argument we defer the default_domain setup to the
        # caller by providing a de-duplicated list of groups.
        if not group.entry_queued:
            group.entry_queued = True
            group_list.append(group)  # type: ignore[union-attr]

    if group.default_domain is not None:
        iommu_setup_dma_ops(dev)
    mutex_unlock(group.mutex)
    trace.iommu_probe_done(dev)
    return 0


def _probe_err_remove_gdev(dev: device, group: iommu_group, gdev: group_device, ret: int) -> int:
    fp_write(group, "devices")
    group.devices.remove(gdev)
    __iommu_group_free_device(group, gdev)
    iommu_deinit_device(dev)
    mutex_unlock(group.mutex)
    iommu_group_put(group)
    return ret


@kfunc
def iommu_probe_device(dev: device) -> int:
    mutex_lock(iommu_probe_device_lock())
    ret = __iommu_probe_device(dev, None)
    mutex_unlock(iommu_probe_device_lock())
    if ret:
        return ret
    if dev_has_iommu(dev):
        ops = dev_iommu_ops(dev)
        if ops.probe_finalize is not None:
            ops.probe_finalize(dev)
    return 0


@kinline
def __iommu_group_free_device(group: iommu_group | None, grp_dev: group_device) -> None:  # noqa: N807
    # If the group has become empty then ownership must have been released,
    # and the current domain must be set back to NULL or the default domain.
    if not group.devices:
        WARN_ON(group.owner_cnt or group.domain is not group.default_domain,
                "group emptied while owned", invariant=14)


@kinline
def __iommu_group_remove_device(dev: device) -> None:  # noqa: N807
    group = dev.iommu_group
    mutex_lock(group.mutex)
    for gd in list(group.devices):
        if gd.dev is not dev:
            continue
        fp_write(group, "devices")
        group.devices.remove(gd)
        __iommu_group_free_device(group, gd)
        if dev_has_iommu(dev):
            iommu_deinit_device(dev)
        else:
            dev.iommu_group = None
        break
    mutex_unlock(group.mutex)
    iommu_group_put(group)


@kfunc
def iommu_release_device(dev: device) -> None:
    if dev.iommu_group is not None:
        __iommu_group_remove_device(dev)
    # Free any fwspec if no iommu_driver was ever attached
    if dev.iommu is not None:
        dev_iommu_free(dev)


# -- groups ----------------------------------------------------------------------------------


@kfunc
def iommu_group_alloc() -> iommu_group | Any:
    if _alloc_fails("iommu_group_alloc"):
        return ERR_PTR(-ENOMEM)
    c = core()
    g = iommu_group(c.next_group_id)
    c.next_group_id += 1
    return g


def iommu_group_ref_get(group: iommu_group) -> iommu_group:
    group.refcount += 1
    return group


def iommu_group_put(group: iommu_group | None) -> None:
    if group is not None:
        group.refcount -= 1


@kfunc
def generic_device_group(dev: device) -> Any:
    return iommu_group_alloc()


@kfunc
def fsl_mc_device_group(dev: device) -> Any:
    """The group of the fsl-mc container (``fsl_mc_cont_dev()``: the device
    itself for a DPRC, else its parent), or a new group."""
    cont_dev = dev.parent if dev.parent is not None else dev
    group = cont_dev.iommu_group
    if group is not None:
        return iommu_group_ref_get(group)
    return iommu_group_alloc()


@kfunc
def generic_single_device_group(dev: device) -> iommu_group | ErrPtr | None:
    iommu = dev.iommu.iommu_dev
    if iommu.singleton_group is None:
        group = iommu_group_alloc()
        if IS_ERR(group):
            return group
        iommu.singleton_group = group
    return iommu_group_ref_get(iommu.singleton_group)


# -- domains -------------------------------------------------------------------------------------


@kinline
def __iommu_domain_alloc(ops: iommu_ops, dev: device, type_: int) -> Any:  # noqa: N807
    if type_ == IOMMU_DOMAIN_IDENTITY and ops.identity_domain is not None:
        return ops.identity_domain
    if type_ == IOMMU_DOMAIN_DMA:
        if _alloc_fails("domain_alloc"):
            return ERR_PTR(-ENOMEM)
        if ops.domain_alloc_paging is not None:
            dom = ops.domain_alloc_paging(dev)
            if dom is None:
                return ERR_PTR(-ENOMEM)
            return dom
        return iommu_domain(IOMMU_DOMAIN_DMA, ops)
    return ERR_PTR(-EINVAL)


def iommu_get_default_domain_type(group: iommu_group, target_type: int) -> int:
    type_ = target_type
    for gd in group.devices:
        ops = dev_iommu_ops(gd.dev)
        if ops.def_domain_type is not None:
            t = ops.def_domain_type(gd.dev)
            if t:
                type_ = t
    return type_


@kinline
def iommu_group_alloc_default_domain(group: iommu_group, req_type: int) -> Any:
    dev = group.devices[0].dev
    ops = dev_iommu_ops(dev)
    if req_type:
        return __iommu_domain_alloc(ops, dev, req_type)
    # The driver gave no preference: try the global default, then DMA.
    dom = __iommu_domain_alloc(ops, dev, core().iommu_def_domain_type)
    if not IS_ERR(dom):
        return dom
    if core().iommu_def_domain_type == IOMMU_DOMAIN_DMA:
        return dom
    return __iommu_domain_alloc(ops, dev, IOMMU_DOMAIN_DMA)


@kfunc
def iommu_setup_default_domain(group: iommu_group, target_type: int) -> int:
    lockdep_assert_held(group.mutex)
    req_type = iommu_get_default_domain_type(group, target_type)
    if req_type < 0:
        return -EINVAL
    dom = iommu_group_alloc_default_domain(group, req_type)
    if IS_ERR(dom):
        return PTR_ERR(dom)
    if group.default_domain is dom:
        return 0
    group.default_domain = dom
    if group.domain is None:
        # Drivers are not allowed to fail the first domain attach.
        group.domain = dom
    else:
        group.domain = dom
    return 0


@kfunc
def __iommu_device_set_domain(group: iommu_group, dev: device, domain: iommu_domain) -> int:  # noqa: N807
    return 0


def iommu_is_dma_domain(domain: iommu_domain | None) -> bool:
    return domain is not None and domain.type == IOMMU_DOMAIN_DMA


@kfunc
def iommu_setup_dma_ops(dev: device) -> None:
    """drivers/iommu/dma-iommu.c: choose iommu-dma or dma-direct."""
    group = dev.iommu_group
    domain = group.domain if group is not None else None
    new = iommu_is_dma_domain(domain)
    trace.dma_ops_changing(dev, dev.dma_iommu, new)
    dev.dma_iommu = new


@kfunc
def iommu_device_use_default_domain(dev: device) -> int:
    group = dev.iommu_group
    ret = 0
    if group is None:
        return 0
    mutex_lock(group.mutex)
    # 1/4: "We may race against bus_iommu_probe() finalising groups here"
    if variant.check("iommu_device_use_default_domain.defer", dev=dev, group=group):
        mutex_unlock(group.mutex)
        return -EPROBE_DEFER
    if group.owner_cnt:
        if group.domain is not group.default_domain or group.owner is not None:
            mutex_unlock(group.mutex)
            return -EBUSY
    group.owner_cnt += 1
    mutex_unlock(group.mutex)
    return ret


@kfunc
def iommu_device_unuse_default_domain(dev: device) -> None:
    group = dev.iommu_group
    if group is None:
        return
    mutex_lock(group.mutex)
    if not WARN_ON(not group.owner_cnt, "owner_cnt underflow", invariant=14):
        group.owner_cnt -= 1
    mutex_unlock(group.mutex)


# -- group driver data (iommu.c iommu_group_{get,set}_iommudata) -------------------------


def iommu_group_get_iommudata(group: iommu_group) -> Any:
    return group.iommu_data


def iommu_group_set_iommudata(group: iommu_group, iommu_data: Any, release: Any) -> None:
    """Driver data of a group; ``release`` runs when the group is freed
    (group lifetime is not modelled: the release callback is recorded only)."""
    group.iommu_data = iommu_data
    group.iommu_data_release = release  # type: ignore[attr-defined]


# -- iommu-sysfs.c ---------------------------------------------------------------------


@kfunc
def iommu_device_sysfs_add(iommu: iommu_device, parent: device | None, *groups: Any) -> int:
    """``iommu_device_sysfs_add()``: the instance's class device, a child of the
    hardware device ``parent``; nothing the probe path reads but ``iommu->dev``."""
    if parent is not None:
        iommu.dev = parent
    return 0
