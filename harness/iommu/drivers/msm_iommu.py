"""drivers/iommu/msm_iommu.c (Qualcomm APQ8064 "msm" IOMMUv1, arm32; 6.12
line numbers, the probe path is the same in v6.14).

Facts modelled:
* File-scope ``qcom_iommu_devices`` list (L37, ``list_add`` = insert at the
  head) under ``msm_iommu_lock`` (a spinlock; not modelled as a lock).
* ``msm_iommu_probe()`` (L714): devm instance, ``INIT_LIST_HEAD(ctx_list)``,
  clocks, MMIO, IRQ, ``qcom,ncb`` (missing -> that error, L750), hardware
  reset and PAR check, fault IRQ, then ``list_add(&iommu->dev_node,
  &qcom_iommu_devices)`` (L781) -- order site
  ``msm_iommu_probe.qcom_iommu_devices`` -- ``iommu_device_sysfs_add()`` and
  ``iommu_device_register()`` (L790); on failure ``list_del``.
* ``qcom_iommu_of_xlate()`` (L628): the instance is the entry of
  ``qcom_iommu_devices`` whose ``dev->of_node`` is ``spec->np`` (none ->
  -ENODEV); ``insert_iommu_master()`` (L599): **only when the instance's
  ``ctx_list`` is empty** a master (``msm_iommu_ctx_dev``) is allocated for
  this device, added to ``ctx_list`` and set as priv; otherwise the master is
  this device's priv -- NULL for a device whose master was created under an
  earlier ``dev_iommu`` (or for a second client of the instance), and
  ``master->num_mids`` is then a NULL dereference.  A MID already present
  is ignored ("Stream ID 0x%x repeated; ignoring").  Masters are never
  removed from ``ctx_list``.
* ``msm_iommu_probe_device()`` (L379): ``find_iommu_for_dev()`` (L361)
  returns the first instance on the list whose *first* ctx_list master has
  the device's ``of_node`` (``list_first_entry`` of an empty list is the
  list head itself: its ``of_node`` never matches); none -> -ENODEV.
* ``device_group = generic_device_group``; no ``release_device``.
* Registration: ``builtin_platform_driver()`` (L820), device_initcall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import variant
from harness.base.devres import devm_kmalloc
from harness.base.platform import platform_device, platform_driver
from harness.errno import EINVAL, ENODEV, ENOMEM, ERR_PTR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
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
from harness.kernel import kernel, kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args

COMPATIBLE = ("qcom,apq8064-iommu",)
MAX_NUM_MIDS = 32

msm_iommu_identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, None)


class msm_globals:  # noqa: N801
    """File-scope statics: ``qcom_iommu_devices`` (head first)."""

    def __init__(self) -> None:
        self.qcom_iommu_devices: list[msm_iommu_dev] = []


def g() -> msm_globals:
    return kernel().state(msm_globals)


class msm_iommu_dev:  # noqa: N801
    """``struct msm_iommu_dev``."""

    def __init__(self) -> None:
        self.dev: device | None = None
        self.ncb = 0
        self.ctx_list: list[msm_iommu_ctx_dev] = []
        self.iommu = iommu_device()


class msm_iommu_ctx_dev:  # noqa: N801
    """``struct msm_iommu_ctx_dev``: a client's master, on an instance's ctx_list."""

    def __init__(self) -> None:
        self.of_node: Any = None
        self.mids: list[int] = []

    @property
    def num_mids(self) -> int:
        return len(self.mids)


class _ListHeadAsEntry:
    """``list_first_entry()`` of an empty ``ctx_list``: the list head inside
    ``struct msm_iommu_dev`` read as a ``msm_iommu_ctx_dev`` -- valid memory,
    an ``of_node`` that is some other field, never a device node."""

    of_node = "<msm_iommu_dev field>"


@kfunc
def find_iommu_for_dev(dev: device) -> msm_iommu_dev | None:
    for iommu in g().qcom_iommu_devices:
        master: Any = iommu.ctx_list[0] if iommu.ctx_list else _ListHeadAsEntry()
        if master.of_node is dev.of_node:
            return iommu
    return None


@kfunc
def msm_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    # spin_lock_irqsave(&msm_iommu_lock, flags)
    iommu = find_iommu_for_dev(dev)
    if iommu is None:
        return ERR_PTR(-ENODEV)
    return iommu.iommu


@kfunc
def insert_iommu_master(dev: device, iommu: msm_iommu_dev, spec: of_phandle_args) -> int:
    master = dev_iommu_priv_get(dev)
    if not iommu.ctx_list:
        master = msm_iommu_ctx_dev()  # kzalloc(GFP_ATOMIC)
        master.of_node = dev.of_node
        iommu.ctx_list.insert(0, master)  # list_add
        dev_iommu_priv_set(dev, master)
    for sid in range(master.num_mids):
        if master.mids[sid] == spec.args[0]:
            kernel().printk(f"{dev.init_name}: Stream ID 0x{sid:x} repeated; ignoring")
            return 0
    if master.num_mids >= MAX_NUM_MIDS:
        # mids[MAX_NUM_MIDS]: the C writes past the array; the model stops here
        return -ENOMEM
    master.mids.append(spec.args[0])
    return 0


@kfunc
def qcom_iommu_of_xlate(dev: device, spec: of_phandle_args) -> int:
    # spin_lock_irqsave(&msm_iommu_lock, flags)
    iommu = None
    for it in g().qcom_iommu_devices:
        if it.dev.of_node is spec.np:
            iommu = it
            break
    if iommu is None:
        return -ENODEV
    return insert_iommu_master(dev, iommu, spec)


@kfunc
def msm_iommu_domain_alloc_paging(dev: device) -> iommu_domain | ErrPtr | None:
    return iommu_domain(IOMMU_DOMAIN_DMA, msm_iommu_ops)


msm_iommu_ops = iommu_ops(
    "msm_iommu_ops",
    probe_device=msm_iommu_probe_device,
    device_group=generic_device_group,
    of_xlate=qcom_iommu_of_xlate,
    domain_alloc_paging=msm_iommu_domain_alloc_paging,
    identity_domain=msm_iommu_identity_domain,
)


@kfunc
def list_del(iommu: msm_iommu_dev) -> None:
    """``list_del(&iommu->dev_node)``: a node never added is still zeroed
    (devm_kzalloc), and ``__list_del(NULL, NULL)`` faults."""
    if iommu in g().qcom_iommu_devices:
        g().qcom_iommu_devices.remove(iommu)
        return
    entry_next: Any = None
    entry_next.prev  # noqa: B018 - next->prev = prev with next == NULL


def _publish(iommu: msm_iommu_dev) -> None:
    g().qcom_iommu_devices.insert(0, iommu)  # list_add(&iommu->dev_node, &qcom_iommu_devices)


@kfunc
def msm_iommu_probe(pdev: platform_device) -> int:
    iommu = devm_kmalloc(pdev.dev, msm_iommu_dev)
    iommu.dev = pdev.dev
    # devm_clk_get_prepared(), devm_ioremap_resource(), platform_get_irq()
    ncb = pdev.dev.of_node.desc.props.get("qcom,ncb")
    if not isinstance(ncb, list) or not ncb:
        kernel().printk(f"msm_iommu {pdev.dev.init_name}: could not get ncb")
        return -EINVAL  # of_property_read_u32() of a missing property
    iommu.ncb = ncb[0]
    # msm_iommu_reset(), PAR check, devm_request_threaded_irq(): succeed
    order = variant.choice("msm_iommu_probe.qcom_iommu_devices")
    if order == "before_register":
        _publish(iommu)
    ret = iommu_device_sysfs_add(iommu.iommu, iommu.dev)
    if ret:
        list_del(iommu)  # err_remove_list
        return ret
    ret = iommu_device_register(iommu.iommu, msm_iommu_ops, pdev.dev)
    if ret:
        list_del(iommu)  # err_remove_sysfs: ... err_remove_list
        return ret
    if order == "after_register":
        _publish(iommu)
    kernel().printk(f"msm_iommu {pdev.dev.init_name}: device mapped, "
                    f"with {iommu.ncb} ctx banks")
    return 0


def make_driver() -> platform_driver:
    return platform_driver("msm_iommu", msm_iommu_probe, COMPATIBLE)


DRIVER = IommuDriverSpec(
    name="msm_iommu",
    family="msm",
    source="drivers/iommu/msm_iommu.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=140,  # drivers/iommu/Makefile L14
)
