"""drivers/virtio/: the virtio bus and its PCI and MMIO transports (6.12).

Just enough for virtio-iommu's ordering: a virtio device exists only once
its transport driver has bound the transport device.

* ``virtio_init`` (virtio.c L633, core_initcall) registers ``virtio_bus``.
  The bus has no ``dma_configure`` and is not in ``iommu_buses[]``: virtio
  devices are never IOMMU-probed; DMA goes through the transport device
  (``vdev->dev.parent``).
* ``register_virtio_device`` (virtio.c L486): bus = virtio, name
  ``virtio%u`` from an IDA, ``device_add`` (L527) -- which matches the
  virtio drivers.
* ``virtio_dev_match`` (L85): the driver's ``id_table`` names the device ID.
  ``virtio_dev_probe`` (L270): feature negotiation (not modelled), then
  ``drv->probe(dev)`` (L341).
* virtio-pci (virtio_pci_common.c): ``virtio_pci_driver`` (L801,
  ``module_pci_driver`` L823) matches vendor 0x1af4 (L669);
  ``virtio_pci_probe`` (L686) sets ``vdev.dev.parent = &pci_dev->dev``
  (L698), then ``virtio_pci_modern_probe`` -> ``vp_modern_probe``
  (virtio_pci_modern_dev.c L240-251): PCI device IDs 0x1000..0x107f only,
  ``id.device = device - 0x1040`` for modern devices; transitional ones
  (< 0x1040) use the PCI subsystem ID, which the model takes as
  ``device - 0xfff`` (the legacy numbering: 0x1000 net = 1, 0x1001 blk = 2);
  then ``register_virtio_device`` (L727).
* virtio-mmio (virtio_mmio.c): ``virtio_mmio_probe`` (L582) sets the parent
  (L592), reads the device ID register; ID 0 is a placeholder: -ENODEV
  (L621).  DT does not carry the ID: the model reads VIRTIO_ID_IOMMU for a
  node with ``#iommu-cells`` (the binding, Documentation/devicetree/
  bindings/virtio/mmio.yaml, requires it exactly for virtio-iommu) and an
  ID no modelled driver matches for any other node.

The transport device's ``compatible`` in the model: ``pci1af4,DDDD`` (the
PCI bus binding's vendor/device form; ``virtio,pci-iommu`` is accepted as
0x1057) and ``virtio,mmio``.
"""

from __future__ import annotations

from typing import Any

from harness.base.bus import driver_register
from harness.base.core import device_add
from harness.base.platform import (
    __platform_driver_register,
    platform_device,
    platform_driver,
    platform_set_drvdata,
)
from harness.bus.pci import pci_driver
from harness.device import bus_type, device, device_driver
from harness.errno import ENODEV
from harness.kernel import kernel, kfunc

VIRTIO_ID_NET = 1
VIRTIO_ID_BLOCK = 2
VIRTIO_ID_IOMMU = 23
# Stands for "whatever the MMIO DeviceID register says" when DT cannot tell:
# non-zero (not a placeholder) and matched by no modelled driver.
VIRTIO_ID_UNKNOWN_MMIO = 0xFFFF

PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1AF4

#: compatibles the transports bind (no generic client driver for these)
TRANSPORT_COMPATIBLES = ("virtio,mmio", "virtio,pci-iommu",
                         *(f"pci1af4,{d:04x}" for d in range(0x1000, 0x1080)))


def virtio_pci_id(compat: str) -> int | None:
    """PCI device ID of a virtio PCI function's model compatible, else None."""
    if compat == "virtio,pci-iommu":
        return 0x1040 + VIRTIO_ID_IOMMU
    if compat.startswith(f"pci{PCI_VENDOR_ID_REDHAT_QUMRANET:04x},"):
        try:
            return int(compat.split(",", 1)[1], 16)
        except ValueError:
            return None
    return None


class VirtioState:
    """virtio.c statics: ``virtio_index_ida``."""

    def __init__(self) -> None:
        self.next_index = 0


class virtio_device:  # noqa: N801
    """``struct virtio_device``: ``dev`` on the virtio bus, ``id``, ``priv``."""

    def __init__(self, parent: device) -> None:
        self.dev = device("virtio?", virtio_bus)
        self.dev.container = self
        self.dev.parent = parent
        self.index = -1
        self.id_device = 0
        self.priv: Any = None

    def __repr__(self) -> str:
        return f"<virtio_device {self.dev.init_name} id {self.id_device}>"


class virtio_driver:  # noqa: N801
    """``struct virtio_driver``: ``driver`` embedded, ``id_table`` of device IDs."""

    def __init__(self, name: str, id_table: tuple[int, ...], probe: Any, remove: Any = None) -> None:
        self.driver = device_driver(name, virtio_bus)
        self.driver.container = self
        self.id_table = id_table
        self.probe = probe
        self.remove = remove


def dev_to_virtio(dev: device) -> virtio_device:
    return dev.container


def drv_to_virtio(drv: device_driver | None) -> Any:
    return drv.container if drv is not None else None


@kfunc
def virtio_dev_match(dev: device, drv: device_driver) -> int:
    vdev = dev_to_virtio(dev)
    return int(vdev.id_device in drv_to_virtio(drv).id_table)


@kfunc
def virtio_dev_probe(_d: device) -> int:
    dev = dev_to_virtio(_d)
    drv = drv_to_virtio(dev.dev.driver)
    # virtio_add_status(DRIVER), feature negotiation, virtio_features_ok():
    # the model's devices offer what the drivers need.
    err = drv.probe(dev)
    return int(err)


virtio_bus = bus_type("virtio", match=virtio_dev_match, probe=virtio_dev_probe)


@kfunc
def register_virtio_device(dev: virtio_device) -> int:
    s = kernel().state(VirtioState)
    dev.index = s.next_index
    s.next_index += 1
    dev.dev.init_name = f"virtio{dev.index}"
    kernel().globals.setdefault("virtio_devices", []).append(dev)
    # device_add() causes the bus infrastructure to look for a matching driver.
    return device_add(dev.dev)


# -- virtio-pci ---------------------------------------------------------------------


class virtio_pci_device:  # noqa: N801
    def __init__(self, pci_dev: Any) -> None:
        self.pci_dev = pci_dev
        self.vdev = virtio_device(pci_dev.dev)


@kfunc
def vp_modern_probe(vp_dev: virtio_pci_device) -> int:
    device_id = virtio_pci_id(getattr(vp_dev.pci_dev, "compatible", "")) or 0
    # We only own devices >= 0x1000 and <= 0x107f: leave the rest.
    if device_id < 0x1000 or device_id > 0x107F:
        return -ENODEV
    if device_id < 0x1040:
        # Transitional devices: the PCI subsystem device id
        vp_dev.vdev.id_device = device_id - 0xFFF
    else:
        # Modern devices: simply use PCI device id, but start from 0x1040.
        vp_dev.vdev.id_device = device_id - 0x1040
    return 0


@kfunc
def virtio_pci_probe(pci_dev: Any) -> int:
    vp_dev = virtio_pci_device(pci_dev)
    pci_dev.dev.driver_data = vp_dev  # pci_set_drvdata()
    vp_dev.vdev.dev.parent = pci_dev.dev
    rc = vp_modern_probe(vp_dev)
    if rc:
        return rc
    return register_virtio_device(vp_dev.vdev)


# -- virtio-mmio --------------------------------------------------------------------


class virtio_mmio_device:  # noqa: N801
    def __init__(self, pdev: platform_device) -> None:
        self.pdev = pdev
        self.vdev = virtio_device(pdev.dev)


def _mmio_device_id(pdev: platform_device) -> int:
    """readl(VIRTIO_MMIO_DEVICE_ID), as far as DT tells (see module doc)."""
    np = pdev.dev.of_node
    if np is not None and np.desc.iommu_cells is not None:
        return VIRTIO_ID_IOMMU
    return VIRTIO_ID_UNKNOWN_MMIO


@kfunc
def virtio_mmio_probe(pdev: platform_device) -> int:
    vm_dev = virtio_mmio_device(pdev)
    vm_dev.vdev.dev.parent = pdev.dev
    vm_dev.vdev.id_device = _mmio_device_id(pdev)
    if vm_dev.vdev.id_device == 0:
        # virtio-mmio device with an ID 0 is a (dummy) placeholder
        return -ENODEV
    platform_set_drvdata(pdev, vm_dev)
    return register_virtio_device(vm_dev.vdev)


@kfunc
def virtio_mmio_init(drv: platform_driver) -> int:
    """virtio_mmio.c ``module_init(virtio_mmio_init)`` (L834)."""
    return __platform_driver_register(drv)


@kfunc
def virtio_pci_driver_init(drv: pci_driver) -> int:
    """``module_pci_driver(virtio_pci_driver)`` (virtio_pci_common.c L823)."""
    return driver_register(drv.driver)


#: the initcall that registers each transport driver, by driver name
TRANSPORT_INITCALLS: dict[str, Any] = {"virtio-mmio": virtio_mmio_init,
                                       "virtio-pci": virtio_pci_driver_init}


def make_transport_drivers() -> list[Any]:
    """``virtio_pci_driver`` and ``virtio_mmio_driver`` for one boot, in
    drivers/virtio/Makefile order (virtio_mmio.o before virtio_pci.o)."""
    mmio = platform_driver("virtio-mmio", virtio_mmio_probe, ("virtio,mmio",))
    pci = pci_driver("virtio-pci", virtio_pci_probe,
                     tuple(c for c in TRANSPORT_COMPATIBLES if c != "virtio,mmio"))
    return [mmio, pci]
