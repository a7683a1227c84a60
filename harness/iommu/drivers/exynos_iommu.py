"""drivers/iommu/exynos-iommu.c: one SysMMU instance per master (6.12 line
numbers; the probe path is the same in v6.14).  See docs/drivers/exynos.md.

* ``exynos_iommu_init()`` is a ``core_initcall`` (L1527): the driver is
  registered before ``of_platform_default_populate_init`` creates the
  devices, so every SysMMU binds -- and registers, and walks the buses -- while
  the devices are being populated, before ``iommu_subsys_init`` registers the
  bus notifier.
* ``exynos_sysmmu_probe()`` (L726): devm data, resources, irq, clocks
  (at least "sysmmu" or "aclk"+"pclk": -ENOSYS), ``data->sysmmu = dev``,
  version, ``iommu_device_sysfs_add``, ``platform_set_drvdata()`` (L784),
  page-table constants, ``dma_dev = &pdev->dev`` for the first instance
  (L811), ``pm_runtime_enable``, ``iommu_device_register()`` (L815).
  Order site ``exynos_sysmmu_probe.drvdata``.
* ``exynos_iommu_of_xlate()`` (L1435): the SysMMU pdev (-ENODEV if none),
  its drvdata (-ENODEV if NULL); ``kzalloc`` an ``exynos_iommu_owner`` when
  priv is NULL (never freed: a leak per retry with a fresh ``dev_iommu``),
  identity domain, priv; append the SysMMU's ``owner_node`` to the owner's
  ``controllers`` unless already there; ``data->master = dev``.
* ``exynos_iommu_probe_device()`` (L1398): ``has_sysmmu(dev)`` (priv) else
  -ENODEV; a stateless PM-runtime link per controller; returns the *first*
  controller's ``iommu``.
* ``exynos_iommu_release_device()`` (L1424): deletes the links.
* ``device_group = generic_device_group`` (L1474): one group per master.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import variant
from harness.base.core import device_link_add
from harness.base.devres import devm_kmalloc
from harness.base.platform import (
    of_find_device_by_node,
    platform_device,
    platform_device_put,
    platform_driver,
    platform_get_drvdata,
    platform_set_drvdata,
)
from harness.errno import ENODEV, ENOMEM, ERR_PTR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    _alloc_fails,
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
)
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY, iommu_device, iommu_domain, iommu_ops
from harness.kernel import kernel, kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args

COMPATIBLE = ("samsung,exynos-sysmmu",)


class exynos_globals:  # noqa: N801
    """File-scope statics: ``dma_dev`` (L175), the identity domain."""

    def __init__(self) -> None:
        self.dma_dev: device | None = None
        self.exynos_identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, None)


def g() -> exynos_globals:
    return kernel().state(exynos_globals)


class sysmmu_drvdata:  # noqa: N801
    """``struct sysmmu_drvdata`` (L286): the SysMMU pdev's drvdata."""

    def __init__(self) -> None:
        self.sysmmu: Any = None
        self.master: Any = None
        self.link: Any = None
        self.iommu = iommu_device()
        # data->owner_node: the owner list it is linked into (list_add_tail
        # of a node already on another owner's list relinks it, as in C)
        self.owner_node: exynos_iommu_owner | None = None


class exynos_iommu_owner:  # noqa: N801
    """``struct exynos_iommu_owner`` (L236): per master, kzalloc'ed in of_xlate."""

    def __init__(self) -> None:
        self.controllers: list[sysmmu_drvdata] = []
        self.domain: iommu_domain | None = None


def has_sysmmu(dev: device) -> bool:
    return dev_iommu_priv_get(dev) is not None


@kfunc
def exynos_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    owner = dev_iommu_priv_get(dev)
    if not has_sysmmu(dev):
        return ERR_PTR(-ENODEV)
    for data in owner.controllers:
        # SYSMMU will be runtime activated via device link (dependency) to
        # its master device
        data.link = device_link_add(dev, data.sysmmu)
    # There is always at least one entry, see exynos_iommu_of_xlate()
    data = owner.controllers[0]
    return data.iommu


@kfunc
def exynos_iommu_release_device(dev: device) -> None:
    owner = dev_iommu_priv_get(dev)
    # WARN_ON(exynos_iommu_identity_attach(&exynos_identity_domain, dev));
    for data in owner.controllers:
        data.link = None  # device_link_del(data->link)


@kfunc
def exynos_iommu_of_xlate(dev: device, spec: of_phandle_args) -> int:
    sysmmu = of_find_device_by_node(spec.np)
    owner = dev_iommu_priv_get(dev)
    if sysmmu is None:
        return -ENODEV
    data = platform_get_drvdata(sysmmu)
    platform_device_put(sysmmu)
    if data is None:
        return -ENODEV
    if owner is None:
        if _alloc_fails("kzalloc"):
            return -ENOMEM
        owner = exynos_iommu_owner()
        owner.domain = g().exynos_identity_domain
        dev_iommu_priv_set(dev, owner)
    for entry in owner.controllers:
        if entry is data:
            return 0
    # list_add_tail(&data->owner_node, &owner->controllers): a node still
    # linked into an earlier (leaked) owner's list is relinked, as in C
    owner.controllers.append(data)
    data.owner_node = owner
    data.master = dev
    return 0


exynos_iommu_ops = iommu_ops(
    "exynos_iommu_ops",
    probe_device=exynos_iommu_probe_device,
    device_group=generic_device_group,
    of_xlate=exynos_iommu_of_xlate,
    release_device=exynos_iommu_release_device,
    identity_domain=iommu_domain(IOMMU_DOMAIN_IDENTITY, None),
)


def _publish_drvdata(pdev: platform_device, data: sysmmu_drvdata) -> None:
    platform_set_drvdata(pdev, data)


@kfunc
def exynos_sysmmu_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    data = devm_kmalloc(dev, sysmmu_drvdata)
    # registers, irq (devm_request_irq), clocks: the model's SysMMU nodes
    # have them ("sysmmu" or "aclk"+"pclk", else -ENOSYS)
    data.sysmmu = dev
    # spin_lock_init(&data->lock); __sysmmu_get_version(data);
    ret = iommu_device_sysfs_add(data.iommu, dev)
    if ret:
        return ret
    order = variant.choice("exynos_sysmmu_probe.drvdata")
    if order == "before_register":
        _publish_drvdata(pdev, data)
    # PG_ENT_SHIFT/LV1_PROT/LV2_PROT from the version; dma_set_mask(36) for v5+
    # use the first registered sysmmu device for performing dma mapping
    # operations on iommu page tables (cpu cache flush)
    if g().dma_dev is None:
        g().dma_dev = pdev.dev
    # pm_runtime_enable(dev);
    ret = iommu_device_register(data.iommu, exynos_iommu_ops, dev)
    if ret:
        return ret  # err_dma_set_mask: iommu_device_sysfs_remove()
    if order == "after_register":
        _publish_drvdata(pdev, data)
    return 0


def make_driver() -> platform_driver:
    return platform_driver("exynos-sysmmu", exynos_sysmmu_probe, COMPATIBLE,
                           suppress_bind_attrs=True)


DRIVER = IommuDriverSpec(
    name="exynos-sysmmu",
    family="exynos",
    source="drivers/iommu/exynos-iommu.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=240,  # drivers/iommu/Makefile L24
    initcall="core",  # core_initcall(exynos_iommu_init)
)
