"""drivers/iommu/arm/arm-smmu/qcom_iommu.c: the Qualcomm "firmware-managed"
SMMU (msm8916 and friends) with one platform device per context bank.

Facts modelled (6.12 line numbers; v6.14 is the same on the probe path):

* ``qcom_iommu_init()`` (L945, device_initcall L959) registers
  ``qcom_iommu_ctx_driver`` first, then ``qcom_iommu_driver``.
* ``qcom_iommu_device_probe()`` (L782): ``max_asid`` over every child's
  ``get_asid()`` (L655: "qcom,ctx-asid" or ``reg / 0x1000``); devm_kzalloc
  with ``ctxs[max_asid + 1]``; "qcom,iommu-secure-id" missing -> -ENODEV
  (L832); a secure context child -> ``qcom_iommu_sec_ptbl_init()`` (L610,
  once per boot: ``static bool allocated``; SCM calls through ``__scm``);
  ``platform_set_drvdata()`` (L846); ``devm_of_platform_populate()`` (L851)
  creates the context-bank devices, which the already registered ctx driver
  binds right away; ``iommu_device_sysfs_add()``; ``iommu_device_register()``
  (L864).  drvdata and the population are order sites
  (:mod:`harness.sites.drivers.qcom_iommu`); both precede registration in the C.
* ``qcom_iommu_ctx_probe()`` (L679): ``dev_get_drvdata(dev->parent)`` (L683) (no NULL
  check), ``ctx->asid = get_asid()``, ``qcom_iommu->ctxs[ctx->asid] = ctx``
  (L735).
* ``qcom_iommu_of_xlate()`` (L548): exactly one cell (-EINVAL);
  ``of_find_device_by_node`` (WARN + -EINVAL if none); drvdata of the IOMMU
  device used without a NULL check; ``WARN_ON(asid > max_asid)`` /
  ``WARN_ON(ctxs[asid] == NULL)`` -> -EINVAL; priv set on the first call and
  must match on later ones (WARN + -EINVAL); the ASID is added to the fwspec.
* ``qcom_iommu_probe_device()`` (L525): NULL priv -> -ENODEV; device link to
  the IOMMU.  No ``release_device``.
* ``device_group = generic_device_group`` (L596): one group per client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import variant
from harness.base.core import device_del, device_link_add
from harness.base.devres import devm_add_action, devm_kmalloc
from harness.base.platform import (
    __platform_driver_register,
    of_find_device_by_node,
    platform_bus_type,
    platform_device,
    platform_driver,
    platform_get_drvdata,
    platform_set_drvdata,
)
from harness.device import dev_get_drvdata
from harness.errno import EINVAL, ENODEV, ENOMEM, ERR_PTR
from harness.firmware.qcom_scm import qcom_scm_iommu_secure_ptbl_init, qcom_scm_iommu_secure_ptbl_size
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    core,
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_fwspec_add_ids,
)
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY, iommu_device, iommu_domain, iommu_ops
from harness.kernel import WARN_ON, kernel, kfunc
from harness.of.platform import of_platform_bus_create

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import device_node, of_phandle_args

COMPATIBLE = ("qcom,msm-iommu-v1", "qcom,msm-iommu-v2")  # qcom_iommu_of_match (L929)
CTX_COMPATIBLE = ("qcom,msm-iommu-v1-ns", "qcom,msm-iommu-v1-sec",  # ctx_of_match (L750)
                  "qcom,msm-iommu-v2-ns", "qcom,msm-iommu-v2-sec")


class qcom_iommu_globals:  # noqa: N801
    """File-scope statics: ``allocated`` of qcom_iommu_sec_ptbl_init(), the ops."""

    def __init__(self) -> None:
        self.sec_ptbl_allocated = False
        self.ctx_driver: platform_driver | None = None
        self.qcom_iommu_ops = iommu_ops(
            "qcom_iommu_ops",
            probe_device=qcom_iommu_probe_device,
            device_group=generic_device_group,
            of_xlate=qcom_iommu_of_xlate,
        )
        self.qcom_iommu_ops.identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY,
                                                           self.qcom_iommu_ops)


def g() -> qcom_iommu_globals:
    return kernel().state(qcom_iommu_globals)


class qcom_iommu_ctx:  # noqa: N801
    def __init__(self) -> None:
        self.dev: device | None = None
        self.secured_ctx = False
        self.asid = 0


class qcom_iommu_dev:  # noqa: N801
    def __init__(self) -> None:
        self.iommu = iommu_device()
        self.dev: device | None = None
        self.local_base = False
        self.sec_id = 0
        self.max_asid = 0
        self.ctxs: list[qcom_iommu_ctx | None] = []

    def __repr__(self) -> str:
        return f"<qcom_iommu_dev {self.dev.init_name if self.dev else '?'}>"


def _u32(np: device_node | None, prop: str, index: int = 0) -> int | None:
    v = np.desc.props.get(prop)
    return v[index] if isinstance(v, list) and len(v) > index else None


@kfunc
def get_asid(np: device_node | None) -> int:
    # read the "reg" property directly to get the relative address of the
    # context bank, and calculate the asid from that
    reg = _u32(np, "reg")
    if reg is None:
        return -ENODEV
    val = _u32(np, "qcom,ctx-asid")
    return val if val is not None else reg // 0x1000


# -- callbacks ---------------------------------------------------------------------------------


@kfunc
def qcom_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    qcom_iommu = dev_iommu_priv_get(dev)
    if qcom_iommu is None:
        return ERR_PTR(-ENODEV)
    # Establish the link between iommu and master, so that the iommu gets
    # runtime enabled/disabled as per the master's needs.
    device_link_add(dev, qcom_iommu.dev)
    return qcom_iommu.iommu


@kfunc
def qcom_iommu_of_xlate(dev: device, args: of_phandle_args) -> int:
    asid = args.args[0] if args.args else 0
    if args.args_count != 1:
        kernel().printk(f"{dev.init_name}: incorrect number of iommu params found for "
                        f"{args.np.full_name} (found {args.args_count}, expected 1)")
        return -EINVAL
    iommu_pdev = of_find_device_by_node(args.np)
    if WARN_ON(iommu_pdev is None, "qcom_iommu_of_xlate: no IOMMU device"):
        return -EINVAL
    qcom_iommu = platform_get_drvdata(iommu_pdev)
    # put_device(&iommu_pdev->dev);
    # make sure the asid specified in dt is valid, so we don't have to sanity
    # check this elsewhere:
    if WARN_ON(asid > qcom_iommu.max_asid, "asid > max_asid") or \
            WARN_ON(qcom_iommu.ctxs[asid] is None, "ctxs[asid] == NULL"):
        return -EINVAL
    if dev_iommu_priv_get(dev) is None:
        dev_iommu_priv_set(dev, qcom_iommu)
    else:
        # make sure devices iommus dt node isn't referring to multiple
        # different iommu devices.
        if WARN_ON(qcom_iommu is not dev_iommu_priv_get(dev), "multiple qcom_iommu devices"):
            return -EINVAL
    return iommu_fwspec_add_ids(dev, [asid])


# -- context banks ---------------------------------------------------------------------------------


@kfunc
def qcom_iommu_ctx_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    parent: Any = dev.parent
    qcom_iommu = dev_get_drvdata(parent)
    ctx = devm_kmalloc(dev, qcom_iommu_ctx)
    ctx.dev = dev
    platform_set_drvdata(pdev, ctx)
    # ioremap, platform_get_irq(): the model's context banks have them
    if "qcom,msm-iommu-v2-sec" in dev.of_node.compatible:
        ctx.secured_ctx = True
    # !secured_ctx: pm_runtime_resume_and_get(dev->parent), clear FSR
    # devm_request_irq(...)
    ret = get_asid(dev.of_node)
    if ret < 0:
        kernel().printk(f"{dev.init_name}: missing reg property")
        return ret
    ctx.asid = ret
    qcom_iommu.ctxs[ctx.asid] = ctx
    return 0


@kfunc
def devm_of_platform_populate(dev: device) -> int:
    """``of_platform_populate(dev->of_node, NULL, NULL, dev)``: a platform
    device for every available child with a "compatible"."""
    names = {d.init_name for d in platform_bus_type.devices}
    for child in dev.of_node.children:
        rc = of_platform_bus_create(child, (), dev, True, names)
        if rc:
            return rc
    # devres: of_platform_depopulate(dev) when the IOMMU unbinds or its probe fails
    return devm_add_action(dev, devm_of_platform_populate_release, dev)


@kfunc
def devm_of_platform_populate_release(dev: device) -> None:
    """``of_platform_depopulate()``: unregister the children it created."""
    for child in [d for d in platform_bus_type.devices if d.parent is dev and d.of_node is not None]:
        device_del(child)
        child.of_node.populated = False


# -- probe -------------------------------------------------------------------------------------------


@kfunc
def qcom_iommu_has_secure_context(qcom_iommu: qcom_iommu_dev) -> bool:
    return any(c in ("qcom,msm-iommu-v1-sec", "qcom,msm-iommu-v2-sec")
               for child in qcom_iommu.dev.of_node.children for c in child.compatible)


@kfunc
def qcom_iommu_sec_ptbl_init(dev: device) -> int:
    if g().sec_ptbl_allocated:
        return 0
    ret, psize = qcom_scm_iommu_secure_ptbl_size(0)
    if ret:
        kernel().printk(f"{dev.init_name}: failed to get iommu secure pgtable size ({ret})")
        return ret
    # dma_alloc_attrs(dev, psize, ...)

    if "qcom_iommu_sec_ptbl" in core().fail_alloc:
        return -ENOMEM
    ret = qcom_scm_iommu_secure_ptbl_init(0, psize, 0)
    if ret:
        return ret
    g().sec_ptbl_allocated = True
    return 0


def _publish_drvdata(pdev: platform_device, qcom_iommu: qcom_iommu_dev) -> None:
    platform_set_drvdata(pdev, qcom_iommu)


def _populate_contexts(dev: device) -> int:
    # register context bank devices, which are child nodes:
    ret = devm_of_platform_populate(dev)
    if ret:
        kernel().printk(f"{dev.init_name}: Failed to populate iommu contexts")
    return ret


@kfunc
def qcom_iommu_device_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    # find the max asid (which is 1:1 to ctx bank idx), so we know how many
    # child ctx devices we have:
    max_asid = 0
    for child in dev.of_node.children:
        max_asid = max(max_asid, get_asid(child))
    qcom_iommu = devm_kmalloc(dev, qcom_iommu_dev)
    qcom_iommu.ctxs = [None] * (max_asid + 1)
    qcom_iommu.max_asid = max_asid
    qcom_iommu.dev = dev
    qcom_iommu.local_base = "reg" in dev.of_node.desc.props
    # clocks "iface", "bus", optional "tbu": the model's nodes have them
    sec_id = _u32(dev.of_node, "qcom,iommu-secure-id")
    if sec_id is None:
        kernel().printk(f"{dev.init_name}: missing qcom,iommu-secure-id property")
        return -ENODEV
    qcom_iommu.sec_id = sec_id
    if qcom_iommu_has_secure_context(qcom_iommu):
        ret = qcom_iommu_sec_ptbl_init(dev)
        if ret:
            kernel().printk(f"{dev.init_name}: cannot init secure pg table({ret})")
            return ret

    drvdata = variant.choice("qcom_iommu_device_probe.drvdata")
    populate = variant.choice("qcom_iommu_device_probe.populate")
    if drvdata == "before_register":
        _publish_drvdata(pdev, qcom_iommu)
    # pm_runtime_enable(dev);
    if populate == "before_register":
        ret = _populate_contexts(dev)
        if ret:
            return ret

    ret = iommu_device_sysfs_add(qcom_iommu.iommu, dev)
    if ret:
        return ret
    ret = iommu_device_register(qcom_iommu.iommu, g().qcom_iommu_ops, dev)
    if ret:
        kernel().printk(f"{dev.init_name}: Failed to register iommu")
        return ret

    if drvdata == "after_register":
        _publish_drvdata(pdev, qcom_iommu)
    if populate == "after_register":
        ret = _populate_contexts(dev)
        if ret:
            return ret
    # local_base: pm_runtime_resume_and_get(), SMMU_INTR_SEL_NS
    return 0


@kfunc
def qcom_iommu_init(drv: platform_driver) -> int:
    ctx_drv = platform_driver("qcom-iommu-ctx", qcom_iommu_ctx_probe, CTX_COMPATIBLE)
    g().ctx_driver = ctx_drv
    ret = __platform_driver_register(ctx_drv)
    if ret:
        return ret
    return __platform_driver_register(drv)


def make_driver() -> platform_driver:
    return platform_driver("qcom-iommu", qcom_iommu_device_probe, COMPATIBLE)


DRIVER = IommuDriverSpec(
    name="qcom-iommu",
    family="qcom_iommu",
    source="drivers/iommu/arm/arm-smmu/qcom_iommu.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=20,  # drivers/iommu/Makefile L2: arm/ -> arm-smmu/Makefile L2
    initcall="device",  # device_initcall(qcom_iommu_init)
    module_init=qcom_iommu_init,
)
