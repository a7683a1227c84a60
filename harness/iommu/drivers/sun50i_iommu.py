"""drivers/iommu/sun50i-iommu.c (Allwinner H6/H616 IOMMU; 6.12 line numbers,
the probe path is the same in v6.14).

Facts modelled:
* ``sun50i_iommu_probe()`` (L996): ``devm_kzalloc`` the instance,
  ``iommu->domain = &sun50i_iommu_identity_domain``,
  ``platform_set_drvdata()`` (L1006) -- order site
  ``sun50i_iommu_probe.drvdata`` -- then page-table cache, MMIO, IRQ, clock,
  reset, ``iommu_device_sysfs_add()`` (L1042), ``iommu_device_register()``
  (L1047); the fault IRQ is requested only after registering (L1051, a
  failure unregisters again).
* ``sun50i_iommu_of_xlate()`` (L832): ``of_find_device_by_node(args->np)``,
  ``dev_iommu_priv_set(dev, platform_get_drvdata(iommu_pdev))`` -- no NULL
  check: before drvdata is published the client gets a NULL priv --
  ``put_device()``, ``iommu_fwspec_add_ids(args->args[0])``.  Re-entrant:
  priv is overwritten with the same instance, the ID appended again.
* ``sun50i_iommu_probe_device()`` (L821): priv NULL -> -ENODEV, else the
  instance's ``iommu_device``.  No ``release_device``.
* ``device_group = generic_single_device_group`` (L848): one group per
  instance.
* ``sun50i_iommu_domain_alloc_paging()`` (L685): kzalloc + page table; no
  instance state read.
* Registration: ``builtin_platform_driver_probe()`` (L1084) ->
  ``__platform_driver_probe()`` (drivers/base/platform.c L912): device_initcall, synchronous probe,
  ``prevent_deferred_probe`` (an -EPROBE_DEFER from probe becomes -ENXIO).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import variant
from harness.base.devres import devm_kmalloc
from harness.base.platform import (
    of_find_device_by_node,
    platform_device,
    platform_device_put,
    platform_driver,
    platform_get_drvdata,
    platform_set_drvdata,
)
from harness.device import PROBE_FORCE_SYNCHRONOUS
from harness.errno import ENODEV, ERR_PTR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_single_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_fwspec_add_ids,
)
from harness.iommu.structs import (
    IOMMU_DOMAIN_DMA,
    IOMMU_DOMAIN_IDENTITY,
    iommu_device,
    iommu_domain,
    iommu_ops,
)
from harness.kernel import kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args

COMPATIBLE = ("allwinner,sun50i-h6-iommu", "allwinner,sun50i-h616-iommu")

sun50i_iommu_identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, None)


class sun50i_iommu:  # noqa: N801
    """``struct sun50i_iommu``: drvdata of the IOMMU platform device."""

    def __init__(self) -> None:
        self.iommu = iommu_device()
        self.dev: device | None = None
        self.domain: iommu_domain | None = None


def sun50i_iommu_from_dev(dev: device) -> Any:
    return dev_iommu_priv_get(dev)


@kfunc
def sun50i_iommu_domain_alloc_paging(dev: device) -> iommu_domain | ErrPtr | None:
    return iommu_domain(IOMMU_DOMAIN_DMA, sun50i_iommu_ops)


@kfunc
def sun50i_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    iommu = sun50i_iommu_from_dev(dev)
    if iommu is None:
        return ERR_PTR(-ENODEV)
    return iommu.iommu


@kfunc
def sun50i_iommu_of_xlate(dev: device, args: of_phandle_args) -> int:
    iommu_pdev = of_find_device_by_node(args.np)
    id_ = args.args[0]
    dev_iommu_priv_set(dev, platform_get_drvdata(iommu_pdev))
    platform_device_put(iommu_pdev)
    return iommu_fwspec_add_ids(dev, [id_])


sun50i_iommu_ops = iommu_ops(
    "sun50i_iommu_ops",
    probe_device=sun50i_iommu_probe_device,
    device_group=generic_single_device_group,
    of_xlate=sun50i_iommu_of_xlate,
    domain_alloc_paging=sun50i_iommu_domain_alloc_paging,
    identity_domain=sun50i_iommu_identity_domain,
)


@kfunc
def sun50i_iommu_probe(pdev: platform_device) -> int:
    iommu = devm_kmalloc(pdev.dev, sun50i_iommu)
    iommu.domain = sun50i_iommu_identity_domain
    order = variant.choice("sun50i_iommu_probe.drvdata")
    if order == "before_register":
        platform_set_drvdata(pdev, iommu)
    iommu.dev = pdev.dev
    # kmem_cache_create(), devm_platform_ioremap_resource(), platform_get_irq(),
    # devm_clk_get(), devm_reset_control_get(): the model's nodes have them.
    ret = iommu_device_sysfs_add(iommu.iommu, pdev.dev)
    if ret:
        return ret
    ret = iommu_device_register(iommu.iommu, sun50i_iommu_ops, pdev.dev)
    if ret:
        return ret
    if order == "after_register":
        platform_set_drvdata(pdev, iommu)
    # devm_request_irq(): succeeds in the model
    return 0


def make_driver() -> platform_driver:
    # builtin_platform_driver_probe() -> __platform_driver_probe(): forced
    # synchronous, no deferral, no manual bind
    drv = platform_driver("sun50i-iommu", sun50i_iommu_probe, COMPATIBLE,
                          probe_type=PROBE_FORCE_SYNCHRONOUS, suppress_bind_attrs=True)
    drv.prevent_deferred_probe = True
    return drv


DRIVER = IommuDriverSpec(
    name="sun50i-iommu",
    family="sun50i",
    source="drivers/iommu/sun50i-iommu.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=220,  # drivers/iommu/Makefile L22
)
