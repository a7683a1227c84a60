"""drivers/iommu/rockchip-iommu.c (6.12 line numbers; v6.14 is identical on
the probe path).

Facts modelled:
* ``static struct device *dma_dev`` (L127) is set in ``rk_iommu_probe()``
  only after ``iommu_device_register()`` returns (L1263 register, L1272-1273
  ``if (!dma_dev) dma_dev = &pdev->dev``) -- guard site
  ``rk_iommu_probe.dma_dev`` can move it before.
* ``rk_iommu_of_xlate()`` (L1145) ``devm_kzalloc(dma_dev, ...)`` a
  ``rk_iommudata``, ``of_find_device_by_node(args->np)``,
  ``platform_get_drvdata()`` -> ``data->iommu``, ``dev_iommu_priv_set()``.
  Every call allocates anew (the old one stays until the IOMMU unbinds).
* ``rk_iommu_probe_device()`` (L1121): NULL priv -> -ENODEV; device link to
  ``iommu->dev`` (``rk_iommu_from_dev`` = ``data->iommu``, no NULL check).
* ``device_group = generic_single_device_group``: one group per instance.
* ``rk_iommu_domain_alloc_paging()`` (L1071) returns NULL while ``dma_dev``
  is NULL.
* ``platform_set_drvdata()`` happens early in probe (L1196).
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
from harness.errno import EINVAL, ENODEV, ENOMEM, ERR_PTR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_single_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
)
from harness.iommu.structs import (
    IOMMU_DOMAIN_DMA,
    IOMMU_DOMAIN_IDENTITY,
    iommu_device,
    iommu_domain,
    iommu_ops,
)
from harness.kernel import WARN_ON, kernel, kfunc
from harness.of.device import of_device_get_match_data

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args


class rk_globals:  # noqa: N801
    """File-scope statics: ``dma_dev``, ``rk_ops``, ``rk_identity_domain``."""

    def __init__(self) -> None:
        self.dma_dev: Any = None
        self.rk_ops: Any = None
        self.rk_identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, None)


def g() -> rk_globals:
    return kernel().state(rk_globals)


class rk_iommudata:  # noqa: N801
    """``struct rk_iommudata``: per client, devm-allocated against dma_dev."""

    def __init__(self) -> None:
        self.link: Any = None
        self.iommu: rk_iommu | None = None


class rk_iommu:  # noqa: N801
    """``struct rk_iommu``: per instance, drvdata of the IOMMU device."""

    def __init__(self) -> None:
        self.dev: device | None = None
        self.domain: iommu_domain | None = None
        self.num_mmu = 0
        self.iommu = iommu_device()


RK_MATCH_DATA = {"rockchip,iommu": "iommu_data_ops_v1", "rockchip,rk3568-iommu": "iommu_data_ops_v2"}


@kfunc
def rk_iommu_domain_alloc_paging(dev: device) -> iommu_domain | ErrPtr | None:
    if g().dma_dev is None:
        return None
    return iommu_domain(IOMMU_DOMAIN_DMA, rk_iommu_ops)


def rk_iommu_from_dev(dev: device) -> Any:
    data = dev_iommu_priv_get(dev)
    return data.iommu if data is not None else None


@kfunc
def rk_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    data = dev_iommu_priv_get(dev)
    if data is None:
        return ERR_PTR(-ENODEV)
    iommu = rk_iommu_from_dev(dev)
    data.link = device_link_add(dev, iommu.dev)
    return iommu.iommu


@kfunc
def rk_iommu_release_device(dev: device) -> None:
    data = dev_iommu_priv_get(dev)
    data.link = None  # device_link_del(data->link)


@kfunc
def rk_iommu_of_xlate(dev: device, args: of_phandle_args) -> int:
    # site rk_iommu_of_xlate.alloc_owner: devm_kzalloc(dma_dev | dev | &iommu_dev->dev, ...)
    owner = variant.choice("rk_iommu_of_xlate.alloc_owner")
    if owner == "iommu_dev":
        iommu_dev = of_find_device_by_node(args.np)
        data = devm_kmalloc(iommu_dev.dev, rk_iommudata)
        if data is None:
            platform_device_put(iommu_dev)
            return -ENOMEM
    else:
        data = devm_kmalloc(g().dma_dev if owner == "dma_dev" else dev, rk_iommudata)
        if data is None:
            return -ENOMEM
        iommu_dev = of_find_device_by_node(args.np)
    data.iommu = platform_get_drvdata(iommu_dev)
    dev_iommu_priv_set(dev, data)
    platform_device_put(iommu_dev)
    return 0


rk_iommu_ops = iommu_ops(
    "rk_iommu_ops",
    probe_device=rk_iommu_probe_device,
    device_group=generic_single_device_group,
    of_xlate=rk_iommu_of_xlate,
    release_device=rk_iommu_release_device,
    domain_alloc_paging=rk_iommu_domain_alloc_paging,
)


def _publish_dma_dev(pdev: platform_device) -> None:
    # Use the first registered IOMMU device for domain to use with DMA API
    if g().dma_dev is None:
        g().dma_dev = pdev.dev


@kfunc
def rk_iommu_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    iommu = devm_kmalloc(dev, rk_iommu)
    iommu.domain = g().rk_identity_domain
    platform_set_drvdata(pdev, iommu)
    iommu.dev = dev
    iommu.num_mmu = 0

    ops = of_device_get_match_data(dev, RK_MATCH_DATA)
    if g().rk_ops is None:
        g().rk_ops = ops
    # That should not happen unless different versions of the hardware
    # block are embedded the same SoC
    if WARN_ON(g().rk_ops != ops, "rk_ops mismatch"):
        return -EINVAL

    # resources, irq count, clocks: the model's IOMMU nodes always have them
    iommu.num_mmu = max(1, pdev.num_resources)

    err = iommu_device_sysfs_add(iommu.iommu, dev)
    if err:
        return err

    order = variant.choice("rk_iommu_probe.dma_dev")
    if order == "before_register":
        _publish_dma_dev(pdev)

    err = iommu_device_register(iommu.iommu, rk_iommu_ops, dev)
    if err:
        return err

    if order == "after_register":
        _publish_dma_dev(pdev)
    # pm_runtime_enable(), devm_request_irq() for each irq,
    # dma_set_mask_and_coherent(): nothing the probe path reads.
    return 0


def make_driver() -> platform_driver:
    return platform_driver("rk_iommu", rk_iommu_probe, tuple(RK_MATCH_DATA),
                           suppress_bind_attrs=True)


DRIVER = IommuDriverSpec(
    name="rk_iommu",
    family="rockchip",
    source="drivers/iommu/rockchip-iommu.c",
    compatible=tuple(RK_MATCH_DATA),
    make_driver=make_driver,
    link_order=210,  # drivers/iommu/Makefile L21
)
