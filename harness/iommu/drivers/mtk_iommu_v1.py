"""drivers/iommu/mtk_iommu_v1.c: the arm32 MT2701 M4U (6.12 line numbers; the
probe path is the same in v6.14).  See docs/drivers/mediatek.md.

* ``mtk_iommu_v1_ops`` (L576) has **no** ``.of_xlate``: the generic
  ``of_iommu_xlate()`` creates the fwspec (``iommu_fwspec_init``) and then
  returns -ENODEV because ``ops->of_xlate`` is NULL (of_iommu.c L37), so
  ``of_iommu_configure()`` frees the fwspec and the client is "not behind an
  IOMMU".  ``iommu_fwspec_ops(NULL)`` finds no instance either (the M4U
  registers with its own fwnode), so in 6.12/v6.14 nothing reaches
  ``probe_device`` for a DT client: modelled as the C is.
* ``mtk_iommu_v1_probe_device()`` (L448): frees any fwspec and re-parses
  "iommus" itself through ``mtk_iommu_v1_create_mapping()`` (L401:
  1 cell, ``iommu_fwspec_init``, priv = m4u drvdata once, add ID, create the
  ARM mapping once per instance); all IDs in one larb
  (``mt2701_m4u_to_larb``, -EINVAL), ``larb_imu[larbid].dev`` must be set.
* ``mtk_iommu_v1_probe_finalize()`` (L508): ``arm_iommu_attach_device()``.
* ``device_group = generic_device_group`` (L582).
* ``mtk_iommu_v1_probe()`` (L605): every available "mediatek,larbs" entry
  needs a bound platform device (-ENODEV / -EPROBE_DEFER, L666), recorded in
  ``larb_imu[i]`` (index, not larb id); ``platform_set_drvdata`` (L678)
  before ``iommu_device_register`` (L689); component master after (L693).
  No order site: no callback of this driver is reachable from the walk.
* ``module_platform_driver`` (L770): device initcall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from harness.errno import EINVAL, ENODEV, EPROBE_DEFER, ERR_PTR
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
    iommu_fwspec_free,
    iommu_fwspec_init,
)
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY, iommu_device, iommu_domain, iommu_ops
from harness.kernel import WARN_ON, kernel, kfunc
from harness.of.node import (
    of_count_phandle_with_args,
    of_device_is_available,
    of_fwnode_handle,
    of_parse_phandle,
    of_parse_phandle_with_args,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args

COMPATIBLE = ("mediatek,mt2701-m4u",)
MTK_LARB_NR_MAX = 32
MT2701_LARB_NR_MAX = 4  # L81
# include/dt-bindings/memory/mt2701-larb-port.h L18-21
mt2701_m4u_in_larb = (0, 11, 21, 44)


def mt2701_m4u_to_larb(id_: int) -> int:
    for i in range(len(mt2701_m4u_in_larb) - 1, -1, -1):
        if id_ >= mt2701_m4u_in_larb[i]:
            return i
    return 0


class dma_iommu_mapping:  # noqa: N801
    """arch/arm/mm/dma-mapping.c: an ARM IOVA space."""

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size


class mtk_smi_larb_iommu:  # noqa: N801
    def __init__(self) -> None:
        self.dev: device | None = None


class mtk_iommu_v1_data:  # noqa: N801
    def __init__(self) -> None:
        self.dev: device | None = None
        self.iommu = iommu_device()
        self.mapping: dma_iommu_mapping | None = None
        self.larb_imu = [mtk_smi_larb_iommu() for _ in range(MTK_LARB_NR_MAX)]


@kfunc
def arm_iommu_create_mapping(dev: device, base: int, size: int) -> dma_iommu_mapping:
    return dma_iommu_mapping(base, size)


@kfunc
def arm_iommu_attach_device(dev: device, mapping: dma_iommu_mapping | None) -> int:
    _size = mapping.size  # noqa: F841 - __arm_iommu_attach_device reads the mapping
    return 0


@kfunc
def mtk_iommu_v1_create_mapping(dev: device, args: of_phandle_args) -> int:
    if args.args_count != 1:
        kernel().printk(f"{dev.init_name}: invalid #iommu-cells({args.args_count}) property for IOMMU")
        return -EINVAL
    ret = iommu_fwspec_init(dev, of_fwnode_handle(args.np))
    if ret:
        return ret
    if dev_iommu_priv_get(dev) is None:
        # Get the m4u device
        m4updev = of_find_device_by_node(args.np)
        if WARN_ON(m4updev is None, "mtk_iommu_v1_create_mapping: no m4u device"):
            return -EINVAL
        dev_iommu_priv_set(dev, platform_get_drvdata(m4updev))
        platform_device_put(m4updev)
    ret = iommu_fwspec_add_ids(dev, list(args.args[:1]))
    if ret:
        return ret
    data = dev_iommu_priv_get(dev)
    mtk_mapping = data.mapping
    if mtk_mapping is None:
        # MTK iommu support 4GB iova address space.
        data.mapping = arm_iommu_create_mapping(dev, 0, 1 << 32)
    return 0


@kfunc
def mtk_iommu_v1_probe_device(dev: device) -> iommu_device | ErrPtr:
    fwspec = dev_iommu_fwspec_get(dev)
    # In the deferred case, free the existed fwspec.
    # Always initialize the fwspec internally.
    if fwspec is not None:
        iommu_fwspec_free(dev)
        fwspec = dev_iommu_fwspec_get(dev)
    tree = kernel().globals["of_root"]
    idx = 0
    while True:
        iommu_spec = of_parse_phandle_with_args(dev.of_node, tree, idx)
        if iommu_spec is None:
            break
        err = mtk_iommu_v1_create_mapping(dev, iommu_spec)
        if err:
            return ERR_PTR(err)
        # dev->iommu_fwspec might have changed
        fwspec = dev_iommu_fwspec_get(dev)
        idx += 1
    data = dev_iommu_priv_get(dev)
    # Link the consumer device with the smi-larb device(supplier)
    larbid = mt2701_m4u_to_larb(fwspec.ids[0])
    if larbid >= MT2701_LARB_NR_MAX:
        return ERR_PTR(-EINVAL)
    for i in range(1, fwspec.num_ids):
        larbidx = mt2701_m4u_to_larb(fwspec.ids[i])
        if larbid != larbidx:
            kernel().printk(f"{dev.init_name}: Can only use one larb. Fail@larb{larbid}-{larbidx}.")
            return ERR_PTR(-EINVAL)
    larbdev = data.larb_imu[larbid].dev
    if larbdev is None:
        return ERR_PTR(-EINVAL)
    device_link_add(dev, larbdev)
    return data.iommu


@kfunc
def mtk_iommu_v1_probe_finalize(dev: device) -> None:
    data = dev_iommu_priv_get(dev)
    err = arm_iommu_attach_device(dev, data.mapping)
    if err:
        kernel().printk(f"{dev.init_name}: Can't create IOMMU mapping - DMA-OPS will not work")


@kfunc
def mtk_iommu_v1_release_device(dev: device) -> None:
    fwspec = dev_iommu_fwspec_get(dev)
    data = dev_iommu_priv_get(dev)
    larbid = mt2701_m4u_to_larb(fwspec.ids[0])
    _larbdev = data.larb_imu[larbid].dev  # noqa: F841 - device_link_remove(dev, larbdev)


mtk_iommu_v1_ops = iommu_ops(
    "mtk_iommu_v1_ops",
    probe_device=mtk_iommu_v1_probe_device,
    device_group=generic_device_group,
    probe_finalize=mtk_iommu_v1_probe_finalize,
    release_device=mtk_iommu_v1_release_device,
    identity_domain=iommu_domain(IOMMU_DOMAIN_IDENTITY, None),
)


@kfunc
def component_master_add_with_match(dev: device, match: list[Any]) -> int:
    return 0


@kfunc
def mtk_iommu_v1_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    data = devm_kmalloc(dev, mtk_iommu_v1_data)
    data.dev = dev
    # protect memory, registers, irq, bclk: always present in the model
    tree = kernel().globals["of_root"]
    np = dev.of_node
    assert np is not None  # matched through its DT compatible
    larb_nr = of_count_phandle_with_args(np, "mediatek,larbs")
    if larb_nr < 0:
        return larb_nr
    match: list[Any] = []
    for i in range(larb_nr):
        larbnode = of_parse_phandle(np, tree, "mediatek,larbs", i)
        if larbnode is None:
            return -EINVAL  # out_put_larbs
        if not of_device_is_available(larbnode):
            continue
        plarbdev = of_find_device_by_node(larbnode)
        if plarbdev is None:
            return -ENODEV
        if plarbdev.dev.driver is None:
            return -EPROBE_DEFER
        data.larb_imu[i].dev = plarbdev.dev
        match.append(larbnode)  # component_match_add_release(..., component_compare_of, larbnode)

    platform_set_drvdata(pdev, data)
    # mtk_iommu_v1_hw_init(): clock, registers, devm_request_irq
    ret = iommu_device_sysfs_add(data.iommu, dev)
    if ret:
        return ret
    ret = iommu_device_register(data.iommu, mtk_iommu_v1_ops, dev)
    if ret:
        return ret
    ret = component_master_add_with_match(dev, match)
    if ret:
        iommu_device_unregister(data.iommu)
    return ret


def make_driver() -> platform_driver:
    return platform_driver("mtk-iommu-v1", mtk_iommu_v1_probe, COMPATIBLE)


DRIVER = IommuDriverSpec(
    name="mtk-iommu-v1",
    family="mtk_iommu_v1",
    source="drivers/iommu/mtk_iommu_v1.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=180,  # drivers/iommu/Makefile L18
)
