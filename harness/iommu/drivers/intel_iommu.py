"""drivers/iommu/intel/{iommu,dmar}.c: Intel VT-d, NULL-fwnode instances
described by the ACPI DMAR table (6.12 line numbers; v6.14 is the same on
the probe path).

Facts modelled:
* ``pci_iommu_init`` (arch/x86/kernel/pci-dma.c L176, ``rootfs_initcall``
  L193) calls ``x86_init.iommu.iommu_init`` = ``intel_iommu_init``, which
  ``detect_intel_iommu`` installed when a DMAR table exists (dmar.c L951,
  after ``pci_request_acs()`` L946).  PCI and ACPI devices already exist
  then: ``acpi_init`` (subsys_initcall, drivers/acpi links before
  drivers/iommu) enumerated them before ``iommu_subsys_init`` registered
  the IOMMU bus notifier.
* ``dmar_table_init`` (dmar.c L844) parses the DRHD units;
  ``dmar_register_drhd_unit`` (dmar.c L70) puts INCLUDE_PCI_ALL units at
  the tail of ``dmar_drhd_units`` and every other unit at the head, so
  units are walked in reverse table order with the catch-all last.
* ``init_no_remapping_devices`` (iommu.c L2438): a unit without
  INCLUDE_PCI_ALL whose scope names no existing device is ``ignored``.
* ``intel_iommu_init`` (iommu.c L3254): for each active (not ignored) unit,
  ``iommu_device_sysfs_add(&iommu->iommu, NULL, ...)`` (L3352) then
  ``iommu_device_register(&iommu->iommu, &intel_iommu_ops, NULL)`` (L3361):
  a NULL fwnode, so ``iommu_fwspec_ops(NULL)`` finds the first registered
  unit's ops for any device without a fwspec.  Its registration walk runs
  ``intel_iommu_probe_device`` for every device on every IOMMU bus.  Then
  ``probe_acpi_namespace_devices`` (L3203) calls ``iommu_probe_device``
  for the physical nodes of ACPI namespace devices in unit scopes.
* ``device_lookup_iommu`` (L607): PCI devices are matched on their segment
  against each unit's scope (the device itself, or downstream of a bridge in
  the scope: ``is_downstream_to_pci_bridge`` L542), else the segment's
  INCLUDE_PCI_ALL unit; a device with an ACPI companion is matched through
  the companion; ``iommu_is_dummy`` (L590): an ignored unit owns nothing.
* ``intel_iommu_probe_device`` (L3923): no unit, or the unit's
  ``iommu->iommu.ops`` still NULL (not registered yet: a walk of an earlier
  unit reaches devices of a later one) -> -ENODEV; else allocate the
  ``device_domain_info`` and ``dev_iommu_priv_set`` it.
* ``intel_iommu_release_device`` (L4029) frees the info.
* ``intel_iommu_device_group`` (L4113): PCI -> ``pci_device_group``, else
  ``generic_device_group``.

Not modelled: ATS/PASID set-up (``device_rbtree_insert`` duplicate RIDs),
VFs, ``iommu_is_dummy``'s IOAT quirk, RMRRs, gfx-dedicated units,
``def_domain_type`` quirks, kdump's copied tables.  The DMAR PCI bus
notifier (dmar.c L384, priority 1: it runs before the IOMMU core's) keeps
the scopes current for hot-added devices; the model matches the scope
description against the devices on the bus at lookup time, which is the
same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.base.platform import platform_bus_type
from harness.board import AcpiIommu, ScopeEntry
from harness.bus.pci import dev_is_pci, pci_bus_type, pci_device_group, to_pci_dev
from harness.errno import ENODEV, ERR_PTR
from harness.iommu import fw_refs
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_probe_device,
)
from harness.iommu.structs import iommu_device, iommu_ops
from harness.kernel import kernel, kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.iommu.structs import iommu_group

DRIVER_NAME = "intel-iommu"


class dmar_drhd_unit:  # noqa: N801
    """``struct dmar_drhd_unit`` (include/linux/dmar.h) from one DRHD."""

    def __init__(self, desc: AcpiIommu) -> None:
        self.desc = desc
        self.segment = desc.segment
        self.include_all = desc.include_all
        self.scope: tuple[ScopeEntry, ...] = desc.scope + tuple(ScopeEntry(acpi=n) for n in desc.owns)
        self.ignored = False
        self.iommu: intel_iommu | None = None


class intel_iommu:  # noqa: N801
    """``struct intel_iommu``: one remapping unit."""

    def __init__(self, drhd: dmar_drhd_unit, seq: int) -> None:
        self.drhd = drhd
        self.name = f"dmar{seq}"
        self.segment = drhd.segment
        self.iommu = iommu_device()


class device_domain_info:  # noqa: N801
    """``struct device_domain_info``: per device, ``dev->iommu->priv``."""

    def __init__(self, dev: device, iommu: intel_iommu, bus: int, devfn: int, segment: int) -> None:
        self.dev = dev
        self.iommu = iommu
        self.bus = bus
        self.devfn = devfn
        self.segment = segment
        self.freed = False


class IntelState:
    """dmar.c / iommu.c statics: ``dmar_drhd_units``, ``intel_iommu_enabled``."""

    def __init__(self) -> None:
        self.dmar_drhd_units: list[dmar_drhd_unit] = []
        self.intel_iommu_enabled = False


def g() -> IntelState:
    return kernel().state(IntelState)


# -- device scopes -------------------------------------------------------------------


def _pci_function(segment: int, rid: int) -> Any:
    """``pci_get_domain_bus_and_slot()``: the existing PCI function, or None."""
    for d in pci_bus_type.devices:
        p = to_pci_dev(d)
        if p.segment == segment and p.rid == rid:
            return d
    return None


def _acpi_physical_nodes(name: str) -> list[Any]:
    """Devices whose ACPI companion is the namespace device ``name``."""
    out = []
    for bus in (platform_bus_type, pci_bus_type):
        for d in bus.devices:
            if d.fwnode is not None and d.fwnode.kind == "acpi" and d.fwnode.name == name:
                out.append(d)
    return out


def _scope_device(drhd: dmar_drhd_unit, e: ScopeEntry) -> Any:
    """The device a scope entry resolved to (``dmar_insert_dev_scope``), or None."""
    if e.acpi is not None:
        # the acpi_device itself; the model's stand-in is its name
        return ("acpi", e.acpi) if _acpi_physical_nodes(e.acpi) else None
    if e.pci is not None:
        return _pci_function(drhd.segment, e.pci)
    return None


def for_each_active_dev_scope(drhd: dmar_drhd_unit) -> list[tuple[ScopeEntry, Any]]:
    out = []
    for e in drhd.scope:
        tmp = _scope_device(drhd, e)
        if tmp is not None:
            out.append((e, tmp))
    return out


@kfunc
def is_downstream_to_pci_bridge(dev: device, e: ScopeEntry, bridge: Any) -> bool:
    if not dev_is_pci(dev) or not dev_is_pci(bridge) or e.bridge is None:
        return False
    bus = to_pci_dev(dev).bus_nr
    return e.bridge[0] <= bus <= e.bridge[1]


def iommu_is_dummy(iommu: intel_iommu | None, dev: device) -> bool:
    return iommu is None or iommu.drhd.ignored


@kfunc
def device_lookup_iommu(dev: device) -> tuple[intel_iommu | None, int, int]:
    """(iommu, bus, devfn) as iommu.c L607 computes them."""
    pdev = None
    segment = 0
    target: Any = dev
    if dev_is_pci(dev):
        pdev = to_pci_dev(dev)
        segment = pdev.segment
    elif dev.fwnode is not None and dev.fwnode.kind == "acpi":
        target = ("acpi", dev.fwnode.name)  # &ACPI_COMPANION(dev)->dev
    found: intel_iommu | None = None
    bus = devfn = 0
    for drhd in g().dmar_drhd_units:  # for_each_iommu()
        iommu = drhd.iommu
        if pdev is not None and segment != drhd.segment:
            continue
        hit = False
        for e, tmp in for_each_active_dev_scope(drhd):
            if tmp == target:
                if e.pci is not None:
                    bus, devfn = e.pci >> 8, e.pci & 0xFF
                found, hit = iommu, True
                break
            if is_downstream_to_pci_bridge(dev, e, tmp):
                bus, devfn = pdev.bus_nr, pdev.devfn  # type: ignore[union-attr]
                found, hit = iommu, True
                break
        if hit:
            break
        if pdev is not None and drhd.include_all:
            bus, devfn = pdev.bus_nr, pdev.devfn
            found = iommu
            break
    if iommu_is_dummy(found, dev):
        found = None
    return found, bus, devfn


# -- iommu_ops -------------------------------------------------------------------------


@kfunc
def intel_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    iommu, bus, devfn = device_lookup_iommu(dev)
    if iommu is None or iommu.iommu.ops is None:
        return ERR_PTR(-ENODEV)
    info = device_domain_info(dev, iommu, bus, devfn, iommu.segment)
    dev_iommu_priv_set(dev, info)
    return iommu.iommu


@kfunc
def intel_iommu_release_device(dev: device) -> None:
    info = dev_iommu_priv_get(dev)
    _ = info.iommu  # struct intel_iommu *iommu = info->iommu;
    info.freed = True  # kfree(info)


@kfunc
def intel_iommu_device_group(dev: device) -> iommu_group | ErrPtr | None:
    if dev_is_pci(dev):
        return pci_device_group(dev)
    return generic_device_group(dev)


intel_iommu_ops = iommu_ops(
    "intel_iommu_ops",
    probe_device=intel_iommu_probe_device,
    device_group=intel_iommu_device_group,
    release_device=intel_iommu_release_device,
)


# -- init -------------------------------------------------------------------------------


@kfunc
def dmar_table_init() -> int:
    """Parse the DRHD units of the DMAR table (dmar_parse_one_drhd)."""
    units = [a for a in kernel().globals.get("acpi_iommus", []) if a.driver == DRIVER_NAME]
    if not units:
        return -ENODEV
    s = g()
    for a in units:
        drhd = dmar_drhd_unit(a)
        # dmar_register_drhd_unit(): INCLUDE_ALL at the tail, others at the head
        if drhd.include_all:
            s.dmar_drhd_units.append(drhd)
        else:
            s.dmar_drhd_units.insert(0, drhd)
    for seq, drhd in enumerate(s.dmar_drhd_units):
        drhd.iommu = intel_iommu(drhd, seq)  # alloc_iommu()
    return 0


@kfunc
def init_no_remapping_devices() -> None:
    for drhd in g().dmar_drhd_units:
        if not drhd.include_all and not for_each_active_dev_scope(drhd):
            # ignore DMAR unit if no devices exist
            drhd.ignored = True


@kfunc
def probe_acpi_namespace_devices() -> int:
    for drhd in g().dmar_drhd_units:
        if drhd.ignored:
            continue
        for e, _tmp in for_each_active_dev_scope(drhd):
            if e.acpi is None:
                continue
            for pn in _acpi_physical_nodes(e.acpi):
                ret = iommu_probe_device(pn)
                if ret:
                    return ret
    return 0


def intel_fw_claim(dev: device) -> list[iommu_device]:
    """For the oracles: the registered unit the DMAR tables assign ``dev`` to
    (the same scope rules, read-only)."""
    iommu, _bus, _devfn = device_lookup_iommu(dev)
    if iommu is None or not iommu.iommu.listed:
        return []
    return [iommu.iommu]


@kfunc
def intel_iommu_init() -> int:
    if dmar_table_init():
        return -ENODEV
    # dmar_dev_scope_init(): scopes resolve against the devices on the buses
    # dmar_register_bus_notifier(): see the module docstring
    init_no_remapping_devices()
    fw_refs.register_fw_claim(intel_fw_claim)
    for drhd in g().dmar_drhd_units:  # for_each_active_iommu()
        if drhd.ignored:
            continue
        iommu = drhd.iommu
        assert iommu is not None
        iommu_device_sysfs_add(iommu.iommu, None)
        iommu_device_register(iommu.iommu, intel_iommu_ops, None)
    if probe_acpi_namespace_devices():
        kernel().printk("DMAR: ACPI name space devices didn't probe correctly")
    kernel().printk("DMAR: Intel(R) Virtualization Technology for Directed I/O")
    g().intel_iommu_enabled = True
    return 0


DRIVER = IommuDriverSpec(
    name=DRIVER_NAME,
    family="intel",
    source="drivers/iommu/intel/iommu.c",
    compatible=(),
    link_order=21,  # drivers/iommu/Makefile L2: amd/ intel/ arm/ iommufd/
    initcall="rootfs",  # pci_iommu_init (arch/x86/kernel/pci-dma.c L193)
    init=intel_iommu_init,
)
