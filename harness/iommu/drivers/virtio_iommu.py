"""drivers/iommu/virtio-iommu.c: a virtio device behind virtio-pci or
virtio-mmio (6.12 line numbers; v6.14 is the same on the probe path).

Facts modelled:
* ``virtio_iommu_drv`` is a ``struct virtio_driver`` for VIRTIO_ID_IOMMU
  (``module_virtio_driver`` L1261, device_initcall; drivers/virtio links
  before drivers/iommu, so the transports register first).  The virtio
  device only exists once a transport driver bound its transport device
  (:mod:`harness.bus.virtio`).
* ``viommu_probe`` (L1119): ``devm_kzalloc(dev = &vdev->dev)`` (L1132),
  virtqueues, config, ``virtio_device_ready`` (L1189), event queue,
  ``iommu_device_sysfs_add`` (L1196), then ``iommu_device_register(
  &viommu->iommu, &viommu_ops, parent_dev)`` (L1201) with the *transport*
  device (``vdev->dev.parent``) as hwdev, so the instance's fwnode is the
  transport's: the PCI function's DT node (child of the host bridge, the
  ``virtio,pci-iommu`` binding) or the ``virtio,mmio`` node.  Only after the
  registration ``vdev->priv = viommu`` (L1203) -- guard site
  ``viommu_probe.priv`` -- and the virtio device is bound only when
  ``viommu_probe`` has returned.
* ``viommu_get_by_fwnode`` (L983): ``driver_find_device`` over
  ``virtio_iommu_drv``'s *bound* devices, matching the device's parent's
  fwnode (``viommu_match_node`` L978), then ``vdev->priv``.  During the
  registration walk (inside ``viommu_probe``) the device is not bound yet:
  NULL.
* ``viommu_probe_device`` (L992): ``fwspec->iommu_fwnode`` with no NULL check
  on ``fwspec`` (an instance registered with a NULL fwnode -- a transport
  device without firmware node -- is handed devices without a fwspec);
  no instance -> -ENODEV; allocate the endpoint, ``dev_iommu_priv_set``;
  a PROBE request (``viommu_probe_endpoint`` L1014, L514-525: -EINVAL without
  IDs) when the device offers VIRTIO_IOMMU_F_PROBE (the model's devices do,
  as QEMU's; they report nothing the probe path reads); on failure the
  endpoint is freed while ``dev->iommu->priv`` still points at it.
* ``viommu_of_xlate`` (L1045): ``iommu_fwspec_add_ids(dev, args->args, 1)``.
* ``viommu_device_group`` (L1037): PCI -> ``pci_device_group``, else
  ``generic_device_group``.
* ``viommu_release_device`` (L1028) frees the endpoint.

Not modelled: the virtqueue requests (attach/map) and their failures,
bypass, RESV_MEM regions.  ACPI VIOT: :mod:`harness.acpi.viot`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import variant
from harness.base.devres import devm_kmalloc
from harness.bus.pci import dev_is_pci, pci_device_group
from harness.bus.virtio import VIRTIO_ID_IOMMU, virtio_device, virtio_driver
from harness.device import dev_fwnode, device_driver
from harness.errno import EINVAL, ENODEV, ENOMEM, ERR_PTR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_fwspec_get,
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_device_unregister,
    iommu_fwspec_add_ids,
)
from harness.iommu.structs import iommu_device, iommu_ops
from harness.kernel import kernel, kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.iommu.structs import iommu_group
    from harness.of.node import fwnode_handle, of_phandle_args

VIOMMU_PROBE_SIZE = 512


class viommu_dev:  # noqa: N801
    """``struct viommu_dev``: devm-allocated against the virtio device."""

    def __init__(self) -> None:
        self.iommu = iommu_device()
        self.dev: device | None = None
        self.vdev: Any = None
        # config probe_size: VIRTIO_IOMMU_F_PROBE offered (QEMU: 512 bytes)
        self.probe_size = VIOMMU_PROBE_SIZE


class viommu_endpoint:  # noqa: N801
    def __init__(self, dev: device, viommu: viommu_dev) -> None:
        self.dev = dev
        self.viommu = viommu
        self.freed = False


class ViommuState:
    """File-scope statics: ``virtio_iommu_drv`` of this boot."""

    def __init__(self) -> None:
        self.virtio_iommu_drv: virtio_driver | None = None


def g() -> ViommuState:
    return kernel().state(ViommuState)


def device_match_fwnode(dev: device | None, fwnode: fwnode_handle) -> bool:
    return dev is not None and dev_fwnode(dev) is fwnode


@kfunc
def viommu_match_node(dev: device, data: Any) -> bool:
    return device_match_fwnode(dev.parent, data)


@kfunc
def driver_find_device(drv: device_driver | None, data: Any, match: Any) -> Any:
    """drivers/base/driver.c: walk the driver's klist_devices (bound devices)."""
    if drv is None:
        return None
    for dev in list(drv.devices):
        if match(dev, data):
            return dev
    return None


@kfunc
def viommu_get_by_fwnode(fwnode: fwnode_handle) -> viommu_dev | None:
    drv = g().virtio_iommu_drv
    dev = driver_find_device(drv.driver if drv is not None else None, fwnode, viommu_match_node)
    return dev.container.priv if dev is not None else None


@kfunc
def viommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    fwspec = dev_iommu_fwspec_get(dev)
    viommu = viommu_get_by_fwnode(fwspec.iommu_fwnode)
    if viommu is None:
        return ERR_PTR(-ENODEV)
    vdev = viommu_endpoint(dev, viommu)
    dev_iommu_priv_set(dev, vdev)
    if viommu.probe_size:
        # Get additional information for this endpoint
        ret = viommu_probe_endpoint(viommu, dev)
        if ret:
            # err_free_dev: kfree(vdev) -- dev->iommu->priv still points at it
            vdev.freed = True
            return ERR_PTR(ret)
    return viommu.iommu


@kfunc
def viommu_probe_endpoint(viommu: viommu_dev, dev: device) -> int:
    """PROBE request for ``fwspec->ids[0]`` (L514-574); the device answers
    with no property the probe path reads (RESV_MEM regions only)."""
    fwspec = dev_iommu_fwspec_get(dev)
    if not fwspec.num_ids:
        return -EINVAL
    # viommu_send_req_sync(): the model's device completes requests
    return 0


@kfunc
def viommu_release_device(dev: device) -> None:
    vdev = dev_iommu_priv_get(dev)
    vdev.freed = True  # viommu_detach_dev(); kfree(vdev)


@kfunc
def viommu_device_group(dev: device) -> iommu_group | ErrPtr | None:
    if dev_is_pci(dev):
        return pci_device_group(dev)
    return generic_device_group(dev)


@kfunc
def viommu_of_xlate(dev: device, args: of_phandle_args) -> int:
    return iommu_fwspec_add_ids(dev, list(args.args[:1]))


viommu_ops = iommu_ops(
    "viommu_ops",
    probe_device=viommu_probe_device,
    device_group=viommu_device_group,
    of_xlate=viommu_of_xlate,
    release_device=viommu_release_device,
)


def _publish_priv(vdev: virtio_device, viommu: viommu_dev) -> None:
    vdev.priv = viommu


@kfunc
def viommu_probe(vdev: virtio_device) -> int:
    parent_dev = vdev.dev.parent
    dev = vdev.dev
    # VIRTIO_F_VERSION_1 and VIRTIO_IOMMU_F_MAP_UNMAP: offered by the model's devices
    viommu = devm_kmalloc(dev, viommu_dev)
    if viommu is None:
        return -ENOMEM
    viommu.dev = dev
    viommu.vdev = vdev
    # viommu_init_vqs(), config reads, virtio_device_ready(), viommu_fill_evtq()
    ret = iommu_device_sysfs_add(viommu.iommu, dev)
    if ret:
        return ret
    order = variant.choice("viommu_probe.priv")
    if order == "before_register":
        _publish_priv(vdev, viommu)
    iommu_device_register(viommu.iommu, viommu_ops, parent_dev)
    if order == "after_register":
        _publish_priv(vdev, viommu)
    return 0


@kfunc
def viommu_remove(vdev: virtio_device) -> None:
    iommu_device_unregister(vdev.priv.iommu)


def make_driver() -> virtio_driver:
    drv = virtio_driver("virtio_iommu", (VIRTIO_ID_IOMMU,), viommu_probe, viommu_remove)
    g().virtio_iommu_drv = drv
    return drv


DRIVER = IommuDriverSpec(
    name="virtio_iommu",
    family="virtio",
    source="drivers/iommu/virtio-iommu.c",
    # the DT nodes of its transports (Documentation/devicetree/bindings/virtio/
    # pci-iommu.yaml, mmio.yaml): the node is the instance's fwnode
    compatible=("virtio,pci-iommu", "pci1af4,1057", "virtio,mmio"),
    make_driver=make_driver,
    link_order=280,  # drivers/iommu/Makefile L28
)
