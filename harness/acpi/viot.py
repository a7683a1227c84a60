"""drivers/acpi/viot.c: the Virtual I/O Translation Table (6.12 line numbers).

ACPI describes virtio-iommu instances and their endpoints in the VIOT; the
platform gives them as ``acpi_iommus`` entries with ``driver``
"virtio_iommu", ``fwnode`` "viot", the IOMMU's PCI function (``segment``,
``rid``) and ``scope`` entries ``{"pci_range": [first, last], "endpoint":
E}`` (VIOT PCI range nodes over that segment).

Facts modelled:
* ``acpi_viot_init`` (L276-305) runs at the end of ``acpi_init`` (drivers/acpi/
  bus.c L1567), after the bus scan: PCI range nodes are parsed in table order
  and ``list_add``-ed (so ``viot_pci_ranges`` is in reverse table order,
  L242); the IOMMU node of each range is resolved once (``viot_get_iommu``
  L127): ``viot_get_pci_iommu_fwnode`` (L77) needs the IOMMU's PCI function
  (else "Could not find PCI IOMMU", -ENODEV, and the range is dropped: "No
  IOMMU node found") and gives it a static fwnode when it has none
  (``set_primary_fwnode``, L91-101) -- the fwnode virtio-iommu later
  registers with, as ``dev_fwnode(parent_dev)``.
* ``viot_iommu_configure`` (L365): PCI devices through
  ``pci_for_each_dma_alias`` -> ``viot_pci_dev_iommu_init`` (L320): the
  first range containing segment and requester ID gives ``epid = ((segment
  - segment_start) << 16) + rid - bdf_start + endpoint_start``;
  ``viot_dev_iommu_init`` (L307): the IOMMU itself -> -EINVAL ("We're not
  translating ourself"), else ``acpi_iommu_fwspec_init`` (scan.c:
  ``iommu_fwspec_init`` + one ID).  No range -> -ENODEV.  As for IORT in
  this model, an unregistered instance answers
  ``driver_deferred_probe_check_state()`` (v6.14 ``iommu_fwspec_init``).

Not modelled: VIOT MMIO endpoint and virtio-mmio IOMMU nodes (platform
devices by base address), ranges spanning several segments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.base.dd import driver_deferred_probe_check_state
from harness.bus.pci import dev_is_pci, pci_bus_type, pci_for_each_dma_alias, to_pci_dev
from harness.device import dev_fwnode
from harness.errno import EINVAL, ENODEV, EPROBE_DEFER
from harness.iommu import fw_refs
from harness.iommu.iommu import iommu_device_from_fwnode, iommu_fwspec_add_ids, iommu_fwspec_init
from harness.kernel import kernel, kfunc
from harness.of.node import fwnode_handle

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device

DRIVER = "virtio_iommu"


class viot_iommu:  # noqa: N801
    def __init__(self, name: str) -> None:
        self.name = name
        self.fwnode: fwnode_handle | None = None


class viot_endpoint:  # noqa: N801
    def __init__(self, segment: int, bdf_start: int, bdf_end: int, endpoint_id: int,
                 viommu: viot_iommu) -> None:
        self.segment_start = self.segment_end = segment
        self.bdf_start = bdf_start
        self.bdf_end = bdf_end
        self.endpoint_id = endpoint_id
        self.viommu = viommu


class ViotState:
    def __init__(self) -> None:
        self.viot_iommus: list[viot_iommu] = []
        self.viot_pci_ranges: list[viot_endpoint] = []


def st() -> ViotState:
    return kernel().state(ViotState)


@kfunc
def viot_get_pci_iommu_fwnode(viommu: viot_iommu, segment: int, bdf: int) -> int:
    pdev = None
    for d in pci_bus_type.devices:
        p = to_pci_dev(d)
        if p.segment == segment and p.rid == bdf:
            pdev = p
    if pdev is None:
        kernel().printk("ACPI: VIOT: Could not find PCI IOMMU")
        return -ENODEV
    if dev_fwnode(pdev.dev) is None:
        # PCI devices aren't necessarily described by ACPI. Create a fwnode
        # so the IOMMU subsystem can identify this device.
        pdev.dev.fwnode = fwnode_handle("acpi", name=f"viot-static:{pdev.dev.init_name}", acpi={})
    viommu.fwnode = dev_fwnode(pdev.dev)
    return 0


@kfunc
def acpi_viot_init() -> None:
    s = st()
    for a in kernel().globals.get("acpi_iommus", []):
        if a.fwnode != "viot" or a.driver != DRIVER:
            continue
        viommu = viot_iommu(a.name)
        if viot_get_pci_iommu_fwnode(viommu, a.segment, a.rid if a.rid is not None else -1):
            kernel().printk("ACPI: VIOT: No IOMMU node found")
            continue
        s.viot_iommus.append(viommu)
        if len(s.viot_iommus) == 1:
            fw_refs.register_fw_claim(viot_fw_claim)
        for e in a.scope:
            if e.pci_range is None:
                continue
            ep = viot_endpoint(a.segment, e.pci_range[0], e.pci_range[1], e.endpoint or 0, viommu)
            s.viot_pci_ranges.insert(0, ep)  # list_add()


@kfunc
def viot_dev_iommu_init(dev: device, viommu: viot_iommu | None, epid: int) -> int:
    if viommu is None:
        return -ENODEV
    # We're not translating ourself
    if dev_fwnode(dev) is viommu.fwnode:
        return -EINVAL
    # acpi_iommu_fwspec_init()
    ret = iommu_fwspec_init(dev, viommu.fwnode)
    if ret == -EPROBE_DEFER:
        return driver_deferred_probe_check_state(dev)
    if ret:
        return ret
    return iommu_fwspec_add_ids(dev, [epid])


@kfunc
def viot_pci_dev_iommu_init(pdev: Any, dev_id: int, data: Any) -> int:
    domain_nr = pdev.segment
    for ep in st().viot_pci_ranges:
        if ep.segment_start <= domain_nr <= ep.segment_end and ep.bdf_start <= dev_id <= ep.bdf_end:
            epid = ((domain_nr - ep.segment_start) << 16) + dev_id - ep.bdf_start + ep.endpoint_id
            return viot_dev_iommu_init(data, ep.viommu, epid)
    return -ENODEV


@kfunc
def viot_iommu_configure(dev: device) -> int:
    if dev_is_pci(dev):
        return pci_for_each_dma_alias(to_pci_dev(dev), viot_pci_dev_iommu_init, dev)
    return -ENODEV


def viot_fw_claim(dev: device) -> list[Any]:
    """For the oracles: the registered virtio-iommu the VIOT gives ``dev`` to."""
    if not dev_is_pci(dev):
        return []
    pdev = to_pci_dev(dev)
    for ep in st().viot_pci_ranges:
        if ep.segment_start <= pdev.segment <= ep.segment_end and ep.bdf_start <= pdev.rid <= ep.bdf_end:
            if dev_fwnode(dev) is ep.viommu.fwnode:
                return []
            inst = iommu_device_from_fwnode(ep.viommu.fwnode)
            return [inst] if inst is not None else []
    return []
