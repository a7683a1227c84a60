"""The fuzzer's oracles: the invariants of spec §5, checked by instrumentation.

The model calls trace hooks (:mod:`harness.trace`) at the points where the
kernel would have to hold an invariant; the checks below attach to them when
this module is imported (the way lockdep or KASAN hook into the real kernel;
:mod:`harness.boot` imports it).  A check never changes the model's
behaviour: it only records findings.
Invariants 1 (NULL dereference) and 2 (lock discipline) are enforced by the
runtime in :mod:`harness.kernel`; invariant 5 is the NEXT ``dev_WARN`` itself.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import harness.kernel as kmod
from harness import findings as fnd
from harness import trace
from harness.base.platform import platform_bus_type
from harness.device import device_is_bound
from harness.errno import EPROBE_DEFER
from harness.findings import Finding, guilty_frame
from harness.footprint import READ, WRITE, fp_touch
from harness.footprint import hooks as fp_hooks
from harness.iommu import fw_refs
from harness.iommu.iommu import generic_single_device_group, iommu_probe_device_lock
from harness.kernel import current_device_name, kernel, stack_trace

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.iommu.structs import iommu_device, iommu_fwspec, iommu_group
    from harness.kernel import Kernel
    from harness.of.node import of_phandle_args


class OracleState:
    def __init__(self) -> None:
        self.probe_count: dict[int, int] = {}  # id(dev) -> successful probe_device since release
        self.dma_configure_in_bind: dict[int, int] = {}
        self.binding: set[int] = set()  # devices inside really_probe
        self.probe_started: set[int] = set()  # drv->probe() entered, not yet unbound
        self.xlate_calls: dict[int, int] = {}
        # 13: devices whose last bind attempt deferred before drv->probe() (dma_configure,
        # i.e. waiting for an IOMMU), not because their own probe() asked for it
        self.deferred_for_iommu: set[int] = set()


def _fp(dev: device, *accesses: tuple[str, int]) -> None:
    """The footprint of an oracle's bookkeeping: these tables are keyed by
    device, so each access is one of ``dev``'s entry (footprint.attrs.ELEMENTWISE);
    a no-op unless a search records footprints."""
    if fp_hooks._REC is not None:
        for attr, mode in accesses:
            fp_touch(("oracle", attr), dev.init_name, mode)


def st() -> OracleState:
    # hot (~1,000 per boot): see iommu.core()
    s = kmod._K.globals.get(OracleState)  # type: ignore[union-attr]
    return s if s is not None else kernel().state(OracleState)


def report(kind: str, summary: str, invariant: int, dev: device | None = None, message: str = "",
           depth: int = 2) -> None:
    """Record a finding titled ``<summary> in <first non-generic frame>``."""
    frame = sys._getframe(depth)
    trace = stack_trace(frame)
    fn = guilty_frame(trace)
    k = kernel()
    t = k.current
    name = dev.init_name if dev is not None else current_device_name(frame)
    # In a concurrent run the other live threads are part of the story (who
    # is inside the walk while this driver probes): their traces go along.
    k.add_finding(Finding(kind=kind, title=f"{summary} in {fn}", function=fn, device=name,
                          trace=trace, message=message, invariant=invariant,
                          thread=f"{t.comm}/{t.pid}" if t else "",
                          threads=k.other_traces(t) if t else {}))


# -- invariant 2: bus->dma_configure never under iommu_probe_device_lock --------

def dma_configure_entry(dev: device) -> None:
    k = kernel()
    if iommu_probe_device_lock().owner is k.current and k.current is not None:
        report(fnd.DEADLOCK, "dma_configure under iommu_probe_device_lock", 2, dev,
               "bus->dma_configure called with iommu_probe_device_lock held")
    s = st()
    _fp(dev, ("binding", READ))
    if id(dev) in s.binding and dev.driver is not None:
        _fp(dev, ("dma_configure_in_bind", WRITE))
        n = s.dma_configure_in_bind.get(id(dev), 0) + 1
        s.dma_configure_in_bind[id(dev)] = n
        if n > 1:
            report(fnd.WARNING, "dma_configure replayed during driver bind", 8, dev,
                   f"{n} dma_configure calls in one bind attempt")


# -- invariants 3 and 7: probe once, one group entry ----------------------------------

def probe_device_ok(dev: device, iommu_dev: iommu_device) -> None:
    s = st()
    _fp(dev, ("probe_count", WRITE))
    n = s.probe_count.get(id(dev), 0) + 1
    s.probe_count[id(dev)] = n
    if n > 1:
        report(fnd.GROUP, "iommu: device probed twice", 3, dev,
               f"probe_device succeeded {n} times without release_device")


def group_add(dev: device, group: iommu_group) -> None:
    if any(gd.dev is dev for gd in group.devices):
        report(fnd.GROUP, "iommu: device added to its group twice", 3, dev)


def device_released(dev: device) -> None:
    _fp(dev, ("probe_count", WRITE))
    st().probe_count.pop(id(dev), None)


def init_device_failed(dev: device, ret: int) -> None:
    # 10: after iommu_init_device() fails, dev->iommu is NULL
    if dev.iommu is not None:
        report(fnd.WARNING, "iommu: dev->iommu left after failed init", 10, dev)


def walk_probe_result(dev: device, ret: int) -> None:
    # 11: probe_iommu_group() hides only -ENODEV; anything else from one client aborts
    # bus_iommu_probe() and iommu_device_register() unregisters the whole instance
    if ret:
        report(fnd.WARNING, "iommu: client error fails IOMMU registration", 11, dev,
               f"probe_iommu_group returned {ret}: the instance is unregistered again")


# -- invariant 4 and 6: a driver probes with its IOMMU set up ---------------------

def bind_attempt_start(dev: device) -> None:
    s = st()
    _fp(dev, ("binding", WRITE), ("dma_configure_in_bind", WRITE))
    s.binding.add(id(dev))
    s.dma_configure_in_bind[id(dev)] = 0


def bind_attempt_end(dev: device, ret: int) -> None:
    s = st()
    _fp(dev, ("probe_started", WRITE), ("deferred_for_iommu", WRITE), ("binding", WRITE))
    if ret == -EPROBE_DEFER and id(dev) not in s.probe_started:
        s.deferred_for_iommu.add(id(dev))
    else:
        s.deferred_for_iommu.discard(id(dev))
    s.binding.discard(id(dev))
    s.probe_started.discard(id(dev))


def _served_by(iommu_dev: iommu_device | None, inst: Any) -> bool:
    """The device was probed by ``inst``, or by a sibling instance of the same
    driver: the fwspec keeps the *first* instance's fwnode and accumulates the
    IDs of all of them (spec 2.1 ``iommu_fwspec_init``), so a master of two
    SysMMUs/DARTs/MMUs has one ``iommu_dev`` standing for all."""
    return iommu_dev is not None and (iommu_dev is inst or (iommu_dev.ops is not None
                                                            and iommu_dev.ops is inst.ops))


def driver_probe_entry(dev: device) -> None:
    s = st()
    _fp(dev, ("binding", WRITE), ("probe_started", WRITE))
    s.binding.discard(id(dev))
    s.probe_started.add(id(dev))
    drv = dev.driver
    managed = getattr(getattr(drv, "container", None), "driver_managed_dma", False)
    insts = fw_refs.referenced_instances(dev)
    if not insts:
        return
    group = dev.iommu_group
    # A client of several instances (apple-dart, omap, msm, exynos) is probed
    # through one of them: dev->iommu->iommu_dev is the one its driver's
    # probe_device returned, or a sibling instance of that driver.
    probed_by = dev.iommu.iommu_dev if dev.iommu is not None else None
    if group is None or not any(_served_by(probed_by, inst) for inst in insts):
        inst = insts[0]
        report(fnd.ISOLATION, "iommu: driver probe without IOMMU group", 4, dev,
               f"{dev.init_name} bound while {inst.dev.init_name if inst.dev else '?'} "
               "is registered but the device is not in one of its groups", depth=2)
    elif group.default_domain is None and not managed:
        # a driver_managed_dma driver does not use the kernel DMA API, so
        # platform_dma_configure() skips 1/4's iommu_device_use_default_domain()
        # for it: no default domain is needed at its probe
        report(fnd.ISOLATION, "iommu: driver probe before default domain", 4, dev,
               "group has no default domain when drv->probe() runs", depth=2)
    elif not managed and group.owner_cnt < 1:
        report(fnd.ISOLATION, "iommu: driver probe without default domain ownership", 6, dev)


def dma_ops_changing(dev: device, old: bool, new: bool) -> None:
    # 6: the DMA path of a device must not change once drv->probe() started
    _fp(dev, ("probe_started", READ))
    if old != new and id(dev) in st().probe_started and dev.driver is not None:
        report(fnd.ISOLATION, "iommu: DMA ops changed under a bound driver", 6, dev,
               f"dma_iommu {old} -> {new} after drv->probe() started")


# -- invariant 8: of_xlate only for devices without a fwspec --------------------------

def of_iommu_configure_entry(dev: device) -> None:
    _fp(dev, ("xlate_calls", WRITE))
    st().xlate_calls[id(dev)] = 0


def of_xlate_call(dev: device, spec: of_phandle_args) -> None:
    s = st()
    _fp(dev, ("xlate_calls", WRITE))
    s.xlate_calls[id(dev)] = s.xlate_calls.get(id(dev), 0) + 1


# -- invariant 9: dma_range_map set once, freed once ------------------------------------

def dma_range_map_set(dev: device, new: Any) -> None:
    old = dev.dma_range_map
    if old is not None and old is not new:
        report(fnd.WARNING, "dma_range_map overwritten", 9, dev,
               "dma_range_map set while already set: the first map leaks")


def dma_range_map_kfree(dev: device, m: Any) -> None:
    """``kfree(map)`` of a map the caller owns (of_dma_configure_id()'s -EPROBE_DEFER path)."""
    if m.freed:
        report(fnd.WARNING, "dma_range_map freed twice", 9, dev)
    m.freed = True


def dma_range_map_freed(dev: device) -> None:
    m = dev.dma_range_map
    if m is not None:
        if m.freed:
            report(fnd.WARNING, "dma_range_map freed twice", 9, dev)
        m.freed = True


# -- invariant 10: of_iommu_configure restores dev->iommu presence ---------------------

def of_iommu_configure_exit(dev: device, err: int, dev_iommu_present: bool) -> None:
    if err and (dev.iommu is not None) != dev_iommu_present:
        report(fnd.WARNING, "iommu: dev->iommu state changed by failed of_iommu_configure", 10,
               dev, f"present on entry: {dev_iommu_present}, now: {dev.iommu is not None}")


# -- invariant 16: per-device allocations owned by something that outlives them -------

def devres_freed(dr: Any) -> None:
    """A devm allocation is freed: is some device's IOMMU data still using it?"""
    for dev in platform_bus_type.devices:
        it = dev.iommu
        if it is not None and it.priv is dr.obj:
            report(fnd.WARNING, "iommu: dev->iommu->priv freed by devres", 16, dev,
                   f"{type(dr.obj).__name__} owned by {getattr(dr.owner, 'init_name', '?')} freed while "
                   f"{dev.init_name}'s IOMMU data points at it", depth=3)


# -- invariant 17: no duplicate IDs in a fwspec (lint) ---------------------------------------

def fwspec_ids_added(dev: device, fwspec: iommu_fwspec, ids: list[int]) -> None:
    """Called by ``iommu_fwspec_add_ids()`` before it appends ``ids``.

    The C appends duplicates silently (iommu.c ``iommu_fwspec_add_ids``): a
    DT listing one specifier twice (sc7280 crypto) boots fine, so this is a
    lint about the input, not a kernel WARN."""
    dup = sorted({i for i in ids if i in fwspec.ids} | {i for i in ids if ids.count(i) > 1})
    if dup:
        report(fnd.LINT, "iommu: duplicate IDs in fwspec", 17, dev,
               f"IDs {', '.join(hex(i) for i in dup)} already in the fwspec", depth=3)


# -- end of run ------------------------------------------------------------------------------

def final_checks(devices: list[Any]) -> None:
    """Invariants on the final state (3, 6, 7, 13, 14)."""
    k = kernel()
    for dev in devices:
        g = dev.iommu_group
        if g is not None and (dev.iommu is None or dev.iommu.iommu_dev is None):
            _final(k, fnd.GROUP, "iommu: group member without IOMMU data", 3, dev)
        if device_is_bound(dev) and g is not None:
            managed = getattr(dev.driver.container, "driver_managed_dma", False)
            if not managed and (g.default_domain is None or g.owner_cnt < 1):
                _final(k, fnd.ISOLATION, "iommu: bound device without default domain", 6, dev)
        if device_is_bound(dev) and g is None and fw_refs.referenced_instances(dev):
            _final(k, fnd.GROUP, "iommu: missing IOMMU group for bound device", 7, dev)
    # 7: single-group drivers keep every device of an instance in one group
    for dev in devices:
        if dev.iommu is None or dev.iommu.iommu_dev is None or dev.iommu_group is None:
            continue
        inst = dev.iommu.iommu_dev
        if inst.ops is not None and inst.ops.device_group is generic_single_device_group \
                and dev.iommu_group is not inst.singleton_group:
            _final(k, fnd.GROUP, "iommu: device outside its instance's single group", 7, dev)
    _final_liveness(k, devices)
    _final_owner_counts(k, devices)
    _final_unbound_groups(k, devices)


def _named_instances_registered(dev: device) -> bool:
    """Every available IOMMU the device's ``iommus`` names is registered (and there is one)."""
    np = dev.of_node
    if np is None or not np.desc.iommus:
        return False
    tree = kernel().globals.get("of_root")
    wanted = set()
    for ref in np.desc.iommus:
        inode = tree.by_path.get(ref.iommu) if tree is not None else None
        if inode is not None and inode.desc.available():
            wanted.add(ref.iommu)
    have = {inst.fwnode.np.full_name for inst in fw_refs.referenced_instances(dev)}
    return bool(wanted) and wanted <= have


def _final_liveness(k: Kernel, devices: list[Any]) -> None:
    """13: a client deferred for its IOMMU is retried once that IOMMU registered."""
    s = st()
    for dev in devices:
        if dev.deferred_probe and id(dev) in s.deferred_for_iommu \
                and _named_instances_registered(dev):
            _final(k, fnd.DEFER, "deferred probe pending after its IOMMU registered", 13, dev)


def _final_unbound_groups(k: Kernel, devices: list[Any]) -> None:
    """7, the series' own goal: a device behind a registered IOMMU has its group even
    without a driver (V614 probes a DT device only at driver bind, so one without a
    driver never gets one; the walk of iommu_device_register() is meant to give it)."""
    for dev in devices:
        if dev.iommu_group is None and not device_is_bound(dev) and not dev.dead \
                and fw_refs.referenced_instances(dev):
            _final(k, fnd.GROUP, "iommu: no IOMMU group for a device without driver", 7, dev)


def _final_owner_counts(k: Kernel, devices: list[Any]) -> None:
    """14: ``owner_cnt`` counts the bound DMA-API members of a group, no more."""
    groups: dict[int, Any] = {}
    for dev in devices:
        if dev.iommu_group is not None:
            groups[id(dev.iommu_group)] = dev.iommu_group
    for g in groups.values():
        if g.owner is not None:
            continue  # explicit ownership (VFIO-style) counts differently
        users = [gd.dev for gd in g.devices if device_is_bound(gd.dev)
                 and not getattr(gd.dev.driver.container, "driver_managed_dma", False)]
        if g.owner_cnt > len(users):
            dev = users[0] if users else g.devices[0].dev if g.devices else None
            if dev is not None:
                _final(k, fnd.WARNING, "iommu: group owner_cnt leaked", 14, dev)


def _final(k: Kernel, kind: str, summary: str, inv: int, dev: device) -> None:
    k.add_finding(Finding(kind=kind, title=summary, function="", device=dev.init_name,
                          trace=[], invariant=inv))


#: the trace hooks the oracles attach to (the others have no check yet)
CHECKS = ("dma_configure_entry", "probe_device_ok", "group_add", "device_released",
          "init_device_failed", "walk_probe_result", "bind_attempt_start", "bind_attempt_end",
          "driver_probe_entry", "dma_ops_changing", "of_iommu_configure_entry", "of_xlate_call",
          "dma_range_map_set", "dma_range_map_kfree", "dma_range_map_freed",
          "of_iommu_configure_exit", "devres_freed", "fwspec_ids_added")


def attach() -> None:
    """Attach every check to its trace hook (idempotent)."""
    for name in CHECKS:
        trace.attach(name, globals()[name])


attach()
