"""drivers/iommu/sprd-iommu.c (Unisoc/Spreadtrum multimedia IOMMUs; 6.12
line numbers, the probe path is the same in v6.14).  No 6.12 board has a
``sprd,iommu-v1`` node: the tests use a hand-written platform.

Facts modelled:
* ``sprd_iommu_probe()`` (L458): devm instance, MMIO, the protection page
  (``dma_alloc_coherent``), ``platform_set_drvdata()`` (L481) -- order site
  ``sprd_iommu_probe.drvdata`` -- ``sdev->dev``, ``iommu_device_sysfs_add()``,
  ``iommu_device_register()`` (L488); then the optional gate clock and the
  version register (an invalid version unregisters again).
* ``sprd_iommu_of_xlate()`` (L393): only while priv is NULL, priv = drvdata
  of the IOMMU's platform device (no NULL check); no IDs (#iommu-cells 0).
  Re-entrant.
* ``sprd_iommu_probe_device()`` (L386): returns ``&sdev->iommu`` with no
  check -- a NULL priv gives the bogus pointer ``offsetof(struct
  sprd_iommu_device, iommu)`` (0x30 on arm64), not -ENODEV.
* ``device_group = generic_single_device_group`` (L411); no
  ``release_device``; ``sprd_iommu_domain_alloc_paging()`` (L136) reads no
  instance state.
* Registration: ``module_platform_driver()`` (L536), device_initcall.
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
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_single_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
)
from harness.iommu.structs import IOMMU_DOMAIN_DMA, iommu_device, iommu_domain, iommu_ops
from harness.kernel import BogusPointer, kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args

COMPATIBLE = ("sprd,iommu-v1",)
# offsetof(struct sprd_iommu_device, iommu) on arm64: dom, ver (+pad),
# prot_page_va, prot_page_pa, base, dev
SPRD_IOMMU_DEVICE_IOMMU_OFFSET = 0x30


class sprd_iommu_device:  # noqa: N801
    """``struct sprd_iommu_device``: drvdata of the IOMMU platform device."""

    def __init__(self) -> None:
        self.dom: Any = None
        self.dev: device | None = None
        self.iommu = iommu_device()


@kfunc
def sprd_iommu_domain_alloc_paging(dev: device) -> iommu_domain | ErrPtr | None:
    return iommu_domain(IOMMU_DOMAIN_DMA, sprd_iommu_ops)


@kfunc
def sprd_iommu_probe_device(dev: device) -> iommu_device | ErrPtr | BogusPointer:
    sdev = dev_iommu_priv_get(dev)
    if sdev is None:
        return BogusPointer("struct iommu_device", SPRD_IOMMU_DEVICE_IOMMU_OFFSET)
    return sdev.iommu


@kfunc
def sprd_iommu_of_xlate(dev: device, args: of_phandle_args) -> int:
    if dev_iommu_priv_get(dev) is None:
        pdev = of_find_device_by_node(args.np)
        dev_iommu_priv_set(dev, platform_get_drvdata(pdev))
        platform_device_put(pdev)
    return 0


sprd_iommu_ops = iommu_ops(
    "sprd_iommu_ops",
    probe_device=sprd_iommu_probe_device,
    device_group=generic_single_device_group,
    of_xlate=sprd_iommu_of_xlate,
    domain_alloc_paging=sprd_iommu_domain_alloc_paging,
)


@kfunc
def sprd_iommu_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    sdev = devm_kmalloc(dev, sprd_iommu_device)
    # devm_platform_ioremap_resource(), dma_alloc_coherent(): succeed
    order = variant.choice("sprd_iommu_probe.drvdata")
    if order == "before_register":
        platform_set_drvdata(pdev, sdev)
    sdev.dev = dev
    ret = iommu_device_sysfs_add(sdev.iommu, dev)
    if ret:
        return ret
    ret = iommu_device_register(sdev.iommu, sprd_iommu_ops, dev)
    if ret:
        return ret
    if order == "after_register":
        platform_set_drvdata(pdev, sdev)
    # sprd_iommu_clk_enable(), sprd_iommu_get_version(): succeed
    return 0


def make_driver() -> platform_driver:
    return platform_driver("sprd-iommu", sprd_iommu_probe, COMPATIBLE, suppress_bind_attrs=True)


DRIVER = IommuDriverSpec(
    name="sprd-iommu",
    family="sprd",
    source="drivers/iommu/sprd-iommu.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=310,  # drivers/iommu/Makefile L31
)
