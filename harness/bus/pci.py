"""drivers/pci/pci-driver.c: PCI endpoints behind a DT host bridge and
``pci_dma_configure``; the DMA alias walk of drivers/pci/search.c."""

from __future__ import annotations

from typing import Any

from harness import variant
from harness.base import dd
from harness.device import bus_type, device, device_driver
from harness.iommu import iommu
from harness.kernel import BogusPointer, kernel, kfunc

# offsetof(struct pci_driver, driver): node, name, id_table, probe, remove,
# suspend, resume, shutdown, sriov_* ... precede it.
PCI_DRIVER_DRIVER_OFFSET = 0x60
PCI_DRIVER_MANAGED_DMA_OFFSET = 0x118


class pci_dev:  # noqa: N801
    """A PCI function: requester ID ``rid``, its host bridge's DT node."""

    def __init__(self, name: str, rid: int, host_np: Any) -> None:
        self.dev = device(name, pci_bus_type)
        self.dev.container = self
        self.rid = rid
        self.host_np = host_np
        self.dma_alias_mask: list[int] = []


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


def dev_is_pci(dev: Any) -> bool:
    return getattr(dev, "bus", None) is pci_bus_type


def to_pci_dev(dev: device) -> pci_dev:
    return dev.container


@kfunc
def pci_request_acs() -> None:
    kernel().globals["pci_acs_enable"] = True


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
    return int(getattr(pdev, "compatible", "") in drv.of_match_table)


@kfunc
def pci_device_probe(dev: device) -> int:
    drv = to_pci_driver(dev.driver)
    return int(drv.probe(dev.container)) if drv.probe is not None else 0


@kfunc
def pci_dma_configure(dev: device) -> int:
    from harness.acpi.scan import acpi_dma_configure, acpi_get_dma_attr
    from harness.of.device import of_dma_configure_id

    driver = to_pci_driver(dev.driver)
    pdev = to_pci_dev(dev)
    ret = 0
    bridge_np = pdev.host_np
    if bridge_np is not None:
        ret = of_dma_configure_id(dev, bridge_np, True, None)
    elif dev.fwnode is not None and dev.fwnode.kind == "acpi":
        ret = acpi_dma_configure(dev, acpi_get_dma_attr(dev.fwnode))
    if variant.check("pci_dma_configure.use_default_domain", dev=dev, drv=driver, ret=ret):
        ret = iommu.iommu_device_use_default_domain(dev)
        if ret:
            dd.arch_teardown_dma_ops(dev)
    return ret


@kfunc
def pci_dma_cleanup(dev: device) -> None:
    driver = to_pci_driver(dev.driver)
    if not driver.driver_managed_dma:
        iommu.iommu_device_unuse_default_domain(dev)


pci_bus_type = bus_type("pci", match=pci_match, probe=pci_device_probe,
                        dma_configure=pci_dma_configure, dma_cleanup=pci_dma_cleanup)


@kfunc
def pci_device_group(dev: device) -> Any:
    """drivers/iommu/iommu.c ``pci_device_group``: reuse the group of a DMA
    alias already probed (same host bridge), else a new group."""
    from harness.iommu.iommu import iommu_group_alloc, iommu_group_ref_get

    pdev = to_pci_dev(dev)
    mine = {pdev.rid, *pdev.dma_alias_mask}
    for other in pci_bus_type.devices:
        if other is dev or other.iommu_group is None:
            continue
        o = to_pci_dev(other)
        if o.host_np is pdev.host_np and mine & {o.rid, *o.dma_alias_mask}:
            return iommu_group_ref_get(other.iommu_group)
    return iommu_group_alloc()
