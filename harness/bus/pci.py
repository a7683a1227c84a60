"""drivers/pci/pci-driver.c: PCI endpoints behind a DT host bridge and
``pci_dma_configure``; the DMA alias walk of drivers/pci/search.c."""

from __future__ import annotations

from typing import Any

from harness.base import dd
from harness.device import bus_type, device, device_driver
from harness.errno import EINVAL, ERR_PTR
from harness.iommu.iommu import iommu_group_alloc, iommu_group_ref_get
from harness.kernel import WARN_ON, BogusPointer, kernel, kfunc
from harness.of.device import of_dma_configure_id

# offsetof(struct pci_driver, driver): node, name, id_table, probe, remove,
# suspend, resume, shutdown, sriov_* ... precede it.
PCI_DRIVER_DRIVER_OFFSET = 0x60
PCI_DRIVER_MANAGED_DMA_OFFSET = 0x118


class pci_dev:  # noqa: N801
    """A PCI function: requester ID ``rid``, its host bridge's DT node.

    ``segment`` is ``pci_domain_nr(pdev->bus)``; ``dma_alias_mask`` holds the
    requester IDs of its DMA aliases (quirks, ``pci_add_dma_alias``);
    ``multifunction`` and ``acs`` (ACS P2P controls enabled, the ACS control
    register) feed ``pci_acs_enabled``.  ``acs_cap``: the function has an ACS
    capability with the controls ``pci_std_enable_acs`` turns on; whether they
    are on is decided by ``pci_acs_init`` at ``pci_device_add`` time.  Every
    function is a PCIe endpoint on a root bus: bridges and switches are not
    modelled.
    """

    def __init__(self, name: str, rid: int, host_np: Any, segment: int = 0) -> None:
        self.dev = device(name, pci_bus_type)
        self.dev.container = self
        self.rid = rid
        self.host_np = host_np
        self.segment = segment
        self.dma_alias_mask: list[int] = []
        self.multifunction = False
        self.acs_cap = False
        self.acs = False
        # cleared by drivers that own the function (amd iommu_init_pci)
        self.match_driver = True
        # pci_set_of_node(): the host bridge's child node for this devfn
        self.dev.of_node = of_pci_find_child_device(host_np, rid)

    @property
    def devfn(self) -> int:
        return self.rid & 0xFF

    @property
    def bus_nr(self) -> int:
        return self.rid >> 8


def of_pci_find_child_device(parent: Any, rid: int) -> Any:
    """drivers/pci/of.c: the child of a root bus's node whose "reg" phys.hi
    encodes this devfn (``of_pci_get_devfn``: bits 15..8).  Only functions on
    the root bus (``bus-range`` start, 0 by default) have one here."""
    if parent is None:
        return None
    bus_range = parent.desc.props.get("bus-range")
    root_bus = bus_range[0] if isinstance(bus_range, list) and bus_range else 0
    if rid >> 8 != root_bus:
        return None
    for child in parent.children:
        reg = child.desc.props.get("reg")
        if isinstance(reg, list) and reg and (reg[0] >> 8) & 0xFF == rid & 0xFF:
            return child
    return None


class pci_driver:  # noqa: N801
    def __init__(self, name: str, probe: Any, ids: tuple[str, ...] = (),
                 driver_managed_dma: bool = False, probe_type: int = 0) -> None:
        self.driver = device_driver(name, pci_bus_type, ids, probe_type)
        self.driver.container = self
        self.probe = probe
        self.driver_managed_dma = driver_managed_dma


def to_pci_driver(drv: device_driver | None) -> Any:
    if drv is None:
        return BogusPointer("struct pci_driver",
                            (-PCI_DRIVER_DRIVER_OFFSET + PCI_DRIVER_MANAGED_DMA_OFFSET)
                            & 0xFFFFFFFFFFFFFFFF)
    return drv.container


def dev_is_pci(dev: device) -> bool:
    return getattr(dev, "bus", None) is pci_bus_type


def to_pci_dev(dev: device) -> pci_dev:
    return dev.container


@kfunc
def pci_request_acs() -> None:
    """drivers/pci/pci.c:965: only sets ``pci_acs_enable``; functions added
    from now on get their ACS controls enabled (:func:`pci_enable_acs`),
    functions already added keep theirs."""
    kernel().globals["pci_acs_enable"] = True


@kfunc
def pci_enable_acs(pdev: pci_dev) -> None:
    """drivers/pci/pci.c:1097: with ``pci_acs_enable`` set (L1104), the
    standard controls (SV, RR, CR, UF: ``pci_std_enable_acs``) of a function
    that has the capability (L1109-1110) are written on."""
    if kernel().globals.get("pci_acs_enable") and pdev.acs_cap:
        pdev.acs = True


@kfunc
def pci_acs_init(pdev: pci_dev) -> None:
    """drivers/pci/pci.c:3771 (from ``pci_init_capabilities``)."""
    pci_enable_acs(pdev)


@kfunc
def pci_device_add(pdev: pci_dev) -> int:
    """drivers/pci/probe.c ``pci_device_add``: ``pci_init_capabilities``
    (ACS among them) before ``device_add``, whose notifier may group it."""
    from harness.base.core import device_add

    pci_acs_init(pdev)
    return device_add(pdev.dev)


@kfunc
def pci_for_each_dma_alias(pdev: pci_dev, fn: Any, data: Any) -> int:
    ret = fn(pdev, pdev.rid, data)
    if ret:
        return ret
    for alias in pdev.dma_alias_mask:
        ret = fn(pdev, alias, data)
        if ret:
            return ret
    return 0


@kfunc
def pci_match(dev: device, drv: device_driver) -> int:
    pdev = to_pci_dev(dev)
    if not pdev.match_driver:
        return 0
    return int(getattr(pdev, "compatible", "") in drv.of_match_table)


@kfunc
def pci_device_probe(dev: device) -> int:
    drv = to_pci_driver(dev.driver)
    return int(drv.probe(dev.container)) if drv.probe is not None else 0


@kfunc
def pci_dma_configure(dev: device) -> int:
    # late: acpi/scan.py -> acpi/viot.py -> bus/pci.py at import time
    from harness.acpi.scan import acpi_dma_configure, acpi_get_dma_attr

    ddrv = dev.driver  # read once here; the guard may read it again (driver_read site)
    driver = to_pci_driver(ddrv)
    pdev = to_pci_dev(dev)
    ret = 0
    bridge_np = pdev.host_np
    if bridge_np is not None:
        ret = of_dma_configure_id(dev, bridge_np, True, None)
    elif dev.fwnode is not None and dev.fwnode.kind == "acpi":
        ret = acpi_dma_configure(dev, acpi_get_dma_attr(dev.fwnode))
    return dd.bus_dma_claim("pci_dma_configure", dev, driver, ddrv, ret)


@kfunc
def pci_dma_cleanup(dev: device) -> None:
    dd.bus_dma_cleanup(dev, to_pci_driver(dev.driver))


pci_bus_type = bus_type("pci", match=pci_match, probe=pci_device_probe,
                        dma_configure=pci_dma_configure, dma_cleanup=pci_dma_cleanup)


def iommu_group_get(dev: device) -> Any:
    """``iommu_group_get()``: the device's group with a new reference, or NULL."""
    group = dev.iommu_group
    return iommu_group_ref_get(group) if group is not None else None


def _same_bus(a: pci_dev, b: pci_dev) -> bool:
    """``a->bus == b->bus``: same host bridge, segment and bus number."""
    return a.host_np is b.host_np and a.segment == b.segment and a.bus_nr == b.bus_nr


def pci_devs_are_dma_aliases(dev1: pci_dev, dev2: pci_dev) -> bool:
    """drivers/pci/search.c: one is in the other's DMA alias mask (same bus)."""
    return _same_bus(dev1, dev2) and (dev2.rid in dev1.dma_alias_mask or dev1.rid in dev2.dma_alias_mask)


def pci_acs_enabled(pdev: pci_dev) -> bool:
    """drivers/pci/pci.c ``pci_acs_enabled(pdev, REQ_ACS_FLAGS)`` for a PCIe
    endpoint: single-function endpoints are isolated by definition; a
    function of a multi-function device only if its ACS controls are on --
    the control register, which :func:`pci_enable_acs` wrote (or not) when
    the function was added, not the capability."""
    if not pdev.multifunction:
        return True
    return pdev.acs


def for_each_pci_dev() -> list[pci_dev]:
    return [to_pci_dev(d) for d in pci_bus_type.devices]


def get_pci_function_alias_group(pdev: pci_dev, devfns: set[int]) -> Any:
    """Non-isolated functions of the same slot and their aliases (iommu.c)."""
    if not pdev.multifunction or pci_acs_enabled(pdev):
        return None
    for tmp in for_each_pci_dev():
        if tmp is pdev or not _same_bus(tmp, pdev) or (tmp.devfn >> 3) != (pdev.devfn >> 3) \
                or pci_acs_enabled(tmp):
            continue
        group = get_pci_alias_group(tmp, devfns)
        if group is not None:
            return group
    return None


def get_pci_alias_group(pdev: pci_dev, devfns: set[int]) -> Any:
    """Existing groups of DMA aliases to or from ``pdev`` (iommu.c); the
    ``devfns`` bitmap stops alias loops."""
    if pdev.devfn in devfns:
        return None
    devfns.add(pdev.devfn)
    group = iommu_group_get(pdev.dev)
    if group is not None:
        return group
    for tmp in for_each_pci_dev():
        if tmp is pdev or not _same_bus(tmp, pdev):
            continue
        # We alias them or they alias us
        if pci_devs_are_dma_aliases(pdev, tmp):
            group = get_pci_alias_group(tmp, devfns)
            if group is not None:
                return group
            group = get_pci_function_alias_group(tmp, devfns)
            if group is not None:
                return group
    return None


@kfunc
def pci_device_group(dev: device) -> Any:
    """drivers/iommu/iommu.c ``pci_device_group`` (6.12 L1515).

    As the C: the DMA alias walk (an alias already in a group wins), then
    existing groups of DMA aliases to or from the device, then of the
    non-ACS-isolated functions of its slot, else a new group.  The upstream
    walk to the first ACS-isolated bridge is a no-op: the model has no PCI
    bridges (every function sits on a root bus).
    """
    if WARN_ON(not dev_is_pci(dev), "pci_device_group: not a PCI device"):
        return ERR_PTR(-EINVAL)
    pdev = to_pci_dev(dev)
    # pci_for_each_dma_alias(pdev, get_pci_alias_or_group, &data): the
    # callback sees pdev itself for its own ID and every same-bus alias.
    group = iommu_group_get(pdev.dev)
    if group is not None:
        return group
    devfns: set[int] = set()
    group = get_pci_alias_group(pdev, devfns)
    if group is not None:
        return group
    group = get_pci_function_alias_group(pdev, devfns)
    if group is not None:
        return group
    # No shared group found, allocate new
    return iommu_group_alloc()
