"""drivers/iommu/arm/arm-smmu/arm-smmu.c (+ arm-smmu-impl.c, arm-smmu-qcom.c):
SMMUv1/v2 and MMU-500, the generic "iommus" binding and the legacy
"mmu-masters" binding.

Facts modelled (6.12 line numbers; docs/drivers/arm-smmu.md has the list):

* Probe (``arm_smmu_device_probe``, L2140), v6.14 order: devm_kzalloc the
  instance; ``arm_smmu_device_dt_probe()`` (L2056) picks the binding and sets
  the file-scope ``using_legacy_binding``/``using_generic_binding`` (L69,
  L2072-2084: mixing both -> "not probing due to mismatched DT properties",
  -ENODEV); ``arm_smmu_impl_init()`` (arm-smmu-impl.c L194) may replace the
  instance (qcom: ``devm_krealloc``, arm-smmu-qcom.c L523) or defer
  (``qcom_scm_is_available()``, L519); ``arm_smmu_device_cfg_probe()``
  (L1757) sets ``streamid_mask`` (L1825), allocates ``smrs``/``s2crs``
  (L1836-1850) and ``stream_map_mutex``; ``smr_mask_mask`` stays 0 until
  ``arm_smmu_test_smr_masks()`` (L982).  Then ``platform_set_drvdata()``,
  ``arm_smmu_device_reset()`` + ``arm_smmu_test_smr_masks()``,
  ``iommu_device_sysfs_add()``, ``iommu_device_register(&smmu->iommu,
  &arm_smmu_ops, using_legacy_binding ? NULL : dev)``.  6.12 registers
  (L2253) *before* drvdata (L2261) and the SMR mask probe (L2266-2267);
  v6.14 ("iommu/arm-smmu: Make instance lookup robust") publishes both first.
  Both are order sites (:mod:`harness.sites.drivers.arm_smmu`), v6.14 = before.
* ``arm_smmu_get_by_fwnode()`` (L1412): 6.12 ``driver_find_device_by_fwnode``
  (bound SMMUs only) + drvdata, and ``arm_smmu_probe_device`` defers with
  "smmu dev has not bound yet" (L1440-1450) when NULL.  v6.14 looks the
  device up on the platform bus (``bus_find_device_by_fwnode``) and has no
  NULL check: the model follows v6.14.
* ``arm_smmu_probe_device()`` (L1420): legacy -> ``arm_smmu_register_legacy_master()``
  (L146: scans the SMMUs *bound* to ``arm_smmu_driver`` with
  ``driver_for_each_device`` for one whose "mmu-masters" names the device,
  ``iommu_fwspec_init(dev, NULL)``, IDs from the "#stream-id-cells" args);
  SID/mask range checks against ``streamid_mask``/``smr_mask_mask`` (-EINVAL,
  L1454-1468); ``kzalloc`` cfg, ``dev_iommu_priv_set``;
  ``arm_smmu_master_alloc_smes()`` (L1072: ``arm_smmu_find_sme()`` L1018
  reuses an SMR that entirely covers the new ID/mask, -EINVAL on a partial
  overlap, -ENOSPC when full; ``s2crs[idx].count++``); device link; error ->
  ``iommu_fwspec_free(dev)`` (L1498-1499).
* ``arm_smmu_device_group()`` (L1532): the group cached in
  ``s2crs[idx].group`` of any of the device's SMEs (two different ones ->
  -EINVAL), else pci/fsl-mc/generic group, cached in every SME: devices
  sharing a stream map entry share a group.
* ``arm_smmu_release_device()`` (L1503) frees the SMEs (the last user resets
  the S2CR to ``s2cr_init_val``, forgetting the group) and ``kfree(cfg)``.
* ``arm_smmu_def_domain_type()`` (L1635): legacy binding -> IDENTITY; else
  ``impl->def_domain_type`` (qcom: IDENTITY for ``qcom_smmu_client_of_match``,
  arm-smmu-qcom.c L255/L421).
* ``arm_smmu_of_xlate()`` (L1603): SID from cell 0, mask from cell 1 or the
  SMMU's "stream-match-mask"; one fwspec ID.  Pure, re-entrant.
* ``arm_smmu_init()`` (L2390, module_init): registers ``arm_smmu_driver``
  then ``arm_smmu_impl_module_init()`` (the qcom TBU driver: not modelled, it
  does not take part in probing clients).

Hardware the DT does not describe (ID registers) takes SMMU-500-like values:
stream matching with 128 SMRs, 15-bit stream IDs, all SMR mask bits
implemented, no bootloader-programmed SMRs (``qcom_smmu_cfg_probe`` handoff,
arm-smmu-qcom.c L352-366, is not modelled).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from harness import variant
from harness.base.bus import bus_find_device_by_fwnode, driver_for_each_device
from harness.base.core import device_link_add
from harness.base.devres import devm_kmalloc
from harness.base.platform import (
    __platform_driver_register,
    platform_bus_type,
    platform_device,
    platform_driver,
    platform_set_drvdata,
)
from harness.bus.fsl_mc import dev_is_fsl_mc
from harness.bus.pci import dev_is_pci, pci_device_group, pci_for_each_dma_alias, to_pci_dev
from harness.device import dev_get_drvdata
from harness.errno import EEXIST, EINVAL, ENODEV, ENOMEM, ENOSPC, EPROBE_DEFER, ERR_PTR, IS_ERR, PTR_ERR
from harness.firmware.qcom_scm import qcom_scm_is_available
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    core,
    dev_iommu_fwspec_get,
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    fsl_mc_device_group,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_fwspec_add_ids,
    iommu_fwspec_free,
    iommu_fwspec_init,
    iommu_group_ref_get,
)
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY, iommu_device, iommu_domain, iommu_ops
from harness.kernel import WARN_ON, Mutex, kernel, kfunc, mutex_lock, mutex_unlock

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.iommu.structs import iommu_fwspec, iommu_group
    from harness.of.node import device_node, fwnode_handle, of_phandle_args

ARM_SMMU_SMR_ID_SHIFT = 0  # ARM_SMMU_SMR_ID = GENMASK(15, 0)
ARM_SMMU_SMR_MASK_SHIFT = 16  # ARM_SMMU_SMR_MASK = GENMASK(31, 16)
INVALID_SMENDX = -1

# ID register values the model's SMMUs report (see the module docstring)
DEFAULT_NUMSIDB = 15
DEFAULT_NUMSMRG = 128

ARM_SMMU_V1, ARM_SMMU_V1_64K, ARM_SMMU_V2 = "ARM_SMMU_V1", "ARM_SMMU_V1_64K", "ARM_SMMU_V2"
GENERIC_SMMU, ARM_MMU500, CAVIUM_SMMUV2, QCOM_SMMUV2 = ("GENERIC_SMMU", "ARM_MMU500",
                                                        "CAVIUM_SMMUV2", "QCOM_SMMUV2")

# arm_smmu_of_match[] (L1976): compatible -> (version, model)
ARM_SMMU_OF_MATCH: dict[str, tuple[str, str]] = {
    "arm,smmu-v1": (ARM_SMMU_V1, GENERIC_SMMU),
    "arm,smmu-v2": (ARM_SMMU_V2, GENERIC_SMMU),
    "arm,mmu-400": (ARM_SMMU_V1, GENERIC_SMMU),
    "arm,mmu-401": (ARM_SMMU_V1_64K, GENERIC_SMMU),
    "arm,mmu-500": (ARM_SMMU_V2, ARM_MMU500),
    "cavium,smmu-v2": (ARM_SMMU_V2, CAVIUM_SMMUV2),
    "nvidia,smmu-500": (ARM_SMMU_V2, ARM_MMU500),
    "qcom,smmu-v2": (ARM_SMMU_V2, QCOM_SMMUV2),
}


# -- per-boot statics ----------------------------------------------------------------


class arm_smmu_globals:  # noqa: N801
    """``static bool using_legacy_binding, using_generic_binding`` (L69) and the
    driver/ops objects of this boot."""

    def __init__(self) -> None:
        self.using_legacy_binding = False
        self.using_generic_binding = False
        self.arm_smmu_driver: platform_driver | None = None
        self.arm_smmu_ops = iommu_ops(
            "arm_smmu_ops",
            probe_device=arm_smmu_probe_device,
            device_group=arm_smmu_device_group,
            of_xlate=arm_smmu_of_xlate,
            release_device=arm_smmu_release_device,
            probe_finalize=arm_smmu_probe_finalize,
            def_domain_type=arm_smmu_def_domain_type,
        )
        # .identity_domain = &arm_smmu_identity_domain (static, one per boot)
        self.arm_smmu_ops.identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, self.arm_smmu_ops)


def g() -> arm_smmu_globals:
    return kernel().state(arm_smmu_globals)


# -- structures --------------------------------------------------------------------------


class arm_smmu_impl:  # noqa: N801
    """``struct arm_smmu_impl``: only the hooks that change probing."""

    def __init__(self, name: str, def_domain_type: Any = None, probe_finalize: Any = None) -> None:
        self.name = name
        self.def_domain_type = def_domain_type
        self.probe_finalize = probe_finalize

    def __repr__(self) -> str:
        return f"<arm_smmu_impl {self.name}>"


class arm_smmu_smr:  # noqa: N801
    __slots__ = ("id", "mask", "valid")

    def __init__(self) -> None:
        self.id = 0
        self.mask = 0
        self.valid = False


class arm_smmu_s2cr:  # noqa: N801
    """``s2cr_init_val``: type bypass/fault, no group, count 0."""

    __slots__ = ("group", "count", "type", "cbndx")

    def __init__(self) -> None:
        self.group: iommu_group | None = None
        self.count = 0
        self.type = "S2CR_TYPE_BYPASS"
        self.cbndx = 0


class arm_smmu_device:  # noqa: N801
    def __init__(self) -> None:
        self.dev: Any = None
        self.version = ""
        self.model = ""
        self.impl: arm_smmu_impl | None = None
        self.features = 0
        self.streamid_mask = 0
        self.smr_mask_mask = 0
        self.smrs: list[arm_smmu_smr] | None = None
        self.s2crs: list[arm_smmu_s2cr] = []
        self.num_mapping_groups = 0
        self.stream_map_mutex: Mutex | None = None
        self.iommu = iommu_device()

    def __repr__(self) -> str:
        return f"<arm_smmu_device {self.dev.init_name if self.dev else '?'}>"


class qcom_smmu(arm_smmu_device):  # noqa: N801
    """``struct qcom_smmu`` (arm-smmu-qcom.h): ``struct arm_smmu_device smmu`` first."""

    def __init__(self) -> None:
        super().__init__()
        self.cfg: Any = None


class arm_smmu_master_cfg:  # noqa: N801
    def __init__(self, smmu: arm_smmu_device, num_ids: int) -> None:
        self.smmu = smmu
        self.smendx = [0] * num_ids  # kzalloc(): the caller sets INVALID_SMENDX
        self.freed = False


def _sid(fwid: int) -> int:
    return (fwid >> ARM_SMMU_SMR_ID_SHIFT) & 0xFFFF


def _mask(fwid: int) -> int:
    return (fwid >> ARM_SMMU_SMR_MASK_SHIFT) & 0xFFFF


def _u32_prop(np: device_node, prop: str) -> int | None:
    v = np.desc.props.get(prop)
    return v[0] if isinstance(v, list) and v else None


# -- the legacy "mmu-masters" binding ----------------------------------------------------------


class _legacy_it:  # noqa: N801
    """``struct of_phandle_iterator`` plus the ``void *data`` it travels in."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.args: list[int] = []
        self.found: Any = None  # *(void **)data = dev


def dev_get_dev_node(dev: device) -> Any:
    if dev_is_pci(dev):
        # bus->bridge->parent->of_node of the root bus: the host controller's node
        return to_pci_dev(dev).host_np
    return dev.of_node


def _node_by_phandle(ph: int) -> Any:
    tree = kernel().globals["of_root"]
    for np in tree.by_path.values():
        if np.desc.phandle == ph:
            return np
    return None


@kfunc
def __find_legacy_master_phandle(dev: device, it: _legacy_it) -> int:  # noqa: N807
    """of_for_each_phandle(it, err, dev->of_node, "mmu-masters", "#stream-id-cells", -1)."""
    np = it.node
    cells = dev.of_node.desc.props.get("mmu-masters") if dev.of_node is not None else None
    if not isinstance(cells, list):
        return 0  # -ENOENT: no such property
    i = 0
    while i < len(cells):
        target = _node_by_phandle(cells[i])
        count = _u32_prop(target, "#stream-id-cells") if target is not None else None
        if count is None or i + 1 + count > len(cells):
            return -EINVAL  # of_phandle_iterator_next(): bad phandle / cell count
        if target is np:
            it.args = list(cells[i + 1:i + 1 + count])
            it.found = dev
            return 1
        i += 1 + count
    return 0


@kfunc
def arm_smmu_register_legacy_master(dev: device) -> tuple[int, arm_smmu_device | None]:
    """Returns (err, *smmu)."""
    np = dev_get_dev_node(dev)
    if np is None or "#stream-id-cells" not in np.desc.props:
        return -ENODEV, None
    it = _legacy_it(np)
    drv = g().arm_smmu_driver
    assert drv is not None
    err = driver_for_each_device(drv.driver, None, it, __find_legacy_master_phandle)
    smmu_dev = it.found
    if err == 0:
        return -ENODEV, None
    if err < 0:
        return err, None
    if dev_is_pci(dev):
        # "mmu-masters" assumes Stream ID == Requester ID: the last alias wins
        last: list[int] = []

        def __arm_smmu_get_pci_sid(pdev: Any, alias: int, data: Any) -> int:
            last[:] = [alias]
            return 0

        pci_for_each_dma_alias(to_pci_dev(dev), __arm_smmu_get_pci_sid, None)
        it.args = last
    err = iommu_fwspec_init(dev, None)
    if err:
        return err, None
    smmu = dev_get_drvdata(smmu_dev)
    err = iommu_fwspec_add_ids(dev, list(it.args))
    return err, smmu


# -- stream map entries ---------------------------------------------------------------------------


@kfunc
def arm_smmu_find_sme(smmu: arm_smmu_device, id_: int, mask: int) -> int:
    smrs = smmu.smrs
    free_idx = -ENOSPC
    # Stream indexing is blissfully easy
    if smrs is None:
        return id_
    # Validating SMRs is... less so
    for i in range(smmu.num_mapping_groups):
        if not smrs[i].valid:
            # Note the first free entry we come across, which we'll claim in
            # the end if nothing else matches.
            if free_idx < 0:
                free_idx = i
            continue
        # If the new entry is _entirely_ matched by an existing entry, then
        # reuse that.
        if (mask & smrs[i].mask) == mask and not ((id_ ^ smrs[i].id) & ~smrs[i].mask & 0xFFFF):
            return i
        # Any other overlap can conflict: refuse.
        if not ((id_ ^ smrs[i].id) & ~(smrs[i].mask | mask) & 0xFFFF):
            return -EINVAL
    return free_idx


@kfunc
def arm_smmu_free_sme(smmu: arm_smmu_device, idx: int) -> bool:
    smmu.s2crs[idx].count -= 1
    if smmu.s2crs[idx].count:
        return False
    smmu.s2crs[idx] = arm_smmu_s2cr()  # s2cr_init_val: the cached group is forgotten
    if smmu.smrs is not None:
        smmu.smrs[idx].valid = False
    return True


@kfunc
def arm_smmu_master_alloc_smes(dev: device) -> int:
    fwspec = dev_iommu_fwspec_get(dev)
    cfg = dev_iommu_priv_get(dev)
    smmu = cfg.smmu
    smrs = smmu.smrs
    mutex_lock(smmu.stream_map_mutex)
    ret = 0
    i = 0
    # Figure out a viable stream map entry allocation
    while i < fwspec.num_ids:
        idx = cfg.smendx[i]
        sid = _sid(fwspec.ids[i])
        mask = _mask(fwspec.ids[i])
        if idx != INVALID_SMENDX:
            ret = -EEXIST
            break
        ret = arm_smmu_find_sme(smmu, sid, mask)
        if ret < 0:
            break
        idx = ret
        if smrs is not None and smmu.s2crs[idx].count == 0:
            smrs[idx].id = sid
            smrs[idx].mask = mask
            smrs[idx].valid = True
        smmu.s2crs[idx].count += 1
        cfg.smendx[i] = idx
        ret = 0
        i += 1
    if ret < 0:
        # out_err:
        while i > 0:
            i -= 1
            arm_smmu_free_sme(smmu, cfg.smendx[i])
            cfg.smendx[i] = INVALID_SMENDX
        mutex_unlock(smmu.stream_map_mutex)
        return ret
    # It worked! Now, poke the actual hardware (arm_smmu_write_sme)
    mutex_unlock(smmu.stream_map_mutex)
    return 0


@kfunc
def arm_smmu_master_free_smes(cfg: arm_smmu_master_cfg, fwspec: iommu_fwspec | None) -> None:
    smmu: Any = cfg.smmu
    mutex_lock(smmu.stream_map_mutex)
    for i in range(fwspec.num_ids):
        idx = cfg.smendx[i]
        arm_smmu_free_sme(smmu, idx)
        cfg.smendx[i] = INVALID_SMENDX
    mutex_unlock(smmu.stream_map_mutex)


# -- iommu_ops ----------------------------------------------------------------------------------------


@kfunc
def arm_smmu_get_by_fwnode(fwnode: fwnode_handle) -> arm_smmu_device | None:
    # v6.14: bus_find_device_by_fwnode(&platform_bus_type, fwnode) (6.12:
    # driver_find_device_by_fwnode(&arm_smmu_driver.driver, fwnode))
    dev = bus_find_device_by_fwnode(platform_bus_type, fwnode)
    return dev_get_drvdata(dev) if dev is not None else None


@kfunc
def arm_smmu_probe_device(dev: device) -> iommu_device | ErrPtr:
    smmu: Any = None
    fwspec = dev_iommu_fwspec_get(dev)
    if g().using_legacy_binding:
        ret, smmu = arm_smmu_register_legacy_master(dev)
        # If dev->iommu_fwspec is initally NULL, arm_smmu_register_legacy_master()
        # will allocate/initialise a new one.
        fwspec = dev_iommu_fwspec_get(dev)
        if ret:
            return _out_free(dev, ret)
    else:
        smmu = arm_smmu_get_by_fwnode(fwspec.iommu_fwnode)
        # v6.14 has no NULL check here (6.12: -EPROBE_DEFER "smmu dev has not
        # bound yet"): drvdata is published before iommu_device_register().

    ret = -EINVAL
    for fwid in fwspec.ids:
        sid, mask = _sid(fwid), _mask(fwid)
        if sid & ~smmu.streamid_mask:
            kernel().printk(f"{dev.init_name}: stream ID {sid:#x} out of range for SMMU "
                            f"({smmu.streamid_mask:#x})")
            return _out_free(dev, ret)
        if mask & ~smmu.smr_mask_mask:
            kernel().printk(f"{dev.init_name}: SMR mask {mask:#x} out of range for SMMU "
                            f"({smmu.smr_mask_mask:#x})")
            return _out_free(dev, ret)

    if "arm_smmu_master_cfg" in core().fail_alloc:  # kzalloc() fails
        return _out_free(dev, -ENOMEM)
    cfg = arm_smmu_master_cfg(smmu, fwspec.num_ids)
    dev_iommu_priv_set(dev, cfg)
    cfg.smendx = [INVALID_SMENDX] * fwspec.num_ids

    # arm_smmu_rpm_get(): runtime PM is only enabled with a pm_domain
    ret = arm_smmu_master_alloc_smes(dev)
    if ret:
        # out_cfg_free: kfree(cfg) -- dev->iommu->priv still points at it
        cfg.freed = True
        return _out_free(dev, ret)
    device_link_add(dev, smmu.dev)
    return smmu.iommu


def _out_free(dev: device, ret: int) -> Any:
    iommu_fwspec_free(dev)
    return ERR_PTR(ret)


@kfunc
def arm_smmu_release_device(dev: device) -> None:
    fwspec = dev_iommu_fwspec_get(dev)
    cfg = dev_iommu_priv_get(dev)
    arm_smmu_master_free_smes(cfg, fwspec)
    cfg.freed = True  # kfree(cfg)


@kfunc
def arm_smmu_probe_finalize(dev: device) -> None:
    cfg = dev_iommu_priv_get(dev)
    smmu = cfg.smmu
    if smmu.impl is not None and smmu.impl.probe_finalize is not None:
        smmu.impl.probe_finalize(smmu, dev)


@kfunc
def arm_smmu_device_group(dev: device) -> iommu_group | ErrPtr | None:
    cfg = dev_iommu_priv_get(dev)
    fwspec = dev_iommu_fwspec_get(dev)
    smmu = cfg.smmu
    group: iommu_group | None = None
    mutex_lock(smmu.stream_map_mutex)
    for i in range(fwspec.num_ids):
        idx = cfg.smendx[i]
        if group is not None and smmu.s2crs[idx].group is not None and \
                group is not smmu.s2crs[idx].group:
            mutex_unlock(smmu.stream_map_mutex)
            return ERR_PTR(-EINVAL)
        group = smmu.s2crs[idx].group
    if group is not None:
        mutex_unlock(smmu.stream_map_mutex)
        return iommu_group_ref_get(group)

    if dev_is_pci(dev):
        group = pci_device_group(dev)
    elif dev_is_fsl_mc(dev):
        group = fsl_mc_device_group(dev)
    else:
        group = generic_device_group(dev)

    # Remember group for faster lookups
    if not IS_ERR(group):
        for i in range(fwspec.num_ids):
            smmu.s2crs[cfg.smendx[i]].group = group
    mutex_unlock(smmu.stream_map_mutex)
    return group


@kfunc
def arm_smmu_of_xlate(dev: device, args: of_phandle_args) -> int:
    fwid = 0
    if args.args_count > 0:
        fwid |= (args.args[0] & 0xFFFF) << ARM_SMMU_SMR_ID_SHIFT
    if args.args_count > 1:
        fwid |= (args.args[1] & 0xFFFF) << ARM_SMMU_SMR_MASK_SHIFT
    else:
        mask = _u32_prop(args.np, "stream-match-mask")
        if mask is not None:
            fwid |= (mask & 0xFFFF) << ARM_SMMU_SMR_MASK_SHIFT
    return iommu_fwspec_add_ids(dev, [fwid])


@kfunc
def arm_smmu_def_domain_type(dev: device) -> int:
    cfg = dev_iommu_priv_get(dev)
    impl = cfg.smmu.impl
    if g().using_legacy_binding:
        return IOMMU_DOMAIN_IDENTITY
    if impl is not None and impl.def_domain_type is not None:
        return int(impl.def_domain_type(dev))
    return 0


# -- implementations (arm-smmu-impl.c, arm-smmu-qcom.c) ---------------------------------------------

# arm-smmu-qcom.c L255
QCOM_SMMU_CLIENT_OF_MATCH = (
    "qcom,adreno", "qcom,adreno-gmu", "qcom,mdp4", "qcom,mdss", "qcom,qcm2290-mdss",
    "qcom,sc7180-mdss", "qcom,sc7180-mss-pil", "qcom,sc7280-mdss", "qcom,sc7280-mss-pil",
    "qcom,sc8180x-mdss", "qcom,sc8280xp-mdss", "qcom,sdm670-mdss", "qcom,sdm845-mdss",
    "qcom,sdm845-mss-pil", "qcom,sm6115-mdss", "qcom,sm6350-mdss", "qcom,sm6375-mdss",
    "qcom,sm8150-mdss", "qcom,sm8250-mdss", "qcom,sm8450-mdss", "qcom,x1e80100-mdss",
)


@kfunc
def qcom_smmu_def_domain_type(dev: device) -> int:
    np = dev.of_node
    match = np is not None and any(c in QCOM_SMMU_CLIENT_OF_MATCH for c in np.compatible)
    return IOMMU_DOMAIN_IDENTITY if match else 0


arm_mmu500_impl = arm_smmu_impl("arm_mmu500_impl")
cavium_impl = arm_smmu_impl("cavium_impl")
calxeda_impl = arm_smmu_impl("calxeda_impl")
mrvl_mmu500_impl = arm_smmu_impl("mrvl_mmu500_impl")
nvidia_smmu_impl = arm_smmu_impl("nvidia_smmu_impl")
qcom_smmu_v2_impl = arm_smmu_impl("qcom_smmu_v2_impl", def_domain_type=qcom_smmu_def_domain_type)
qcom_smmu_500_impl = arm_smmu_impl("qcom_smmu_500_impl", def_domain_type=qcom_smmu_def_domain_type)
sdm845_smmu_500_impl = arm_smmu_impl("sdm845_smmu_500_impl",
                                     def_domain_type=qcom_smmu_def_domain_type)
qcom_adreno_smmu_v2_impl = arm_smmu_impl("qcom_adreno_smmu_v2_impl",
                                         def_domain_type=qcom_smmu_def_domain_type)
qcom_adreno_smmu_500_impl = arm_smmu_impl("qcom_adreno_smmu_500_impl",
                                          def_domain_type=qcom_smmu_def_domain_type)

# struct qcom_smmu_match_data: (impl, adreno_impl)
_MSM8996 = (None, qcom_adreno_smmu_v2_impl)
_V2 = (qcom_smmu_v2_impl, qcom_adreno_smmu_v2_impl)
_SDM845_500 = (sdm845_smmu_500_impl, None)
_500_IMPL0 = (qcom_smmu_500_impl, qcom_adreno_smmu_500_impl)

# qcom_smmu_impl_of_match[] (arm-smmu-qcom.c L577)
QCOM_SMMU_IMPL_OF_MATCH: dict[str, tuple[Any, Any]] = {
    "qcom,msm8996-smmu-v2": _MSM8996,
    "qcom,msm8998-smmu-v2": _V2,
    "qcom,qcm2290-smmu-500": _500_IMPL0,
    "qcom,qdu1000-smmu-500": _500_IMPL0,
    "qcom,sc7180-smmu-500": _500_IMPL0,
    "qcom,sc7180-smmu-v2": _V2,
    "qcom,sc7280-smmu-500": _500_IMPL0,
    "qcom,sc8180x-smmu-500": _500_IMPL0,
    "qcom,sc8280xp-smmu-500": _500_IMPL0,
    "qcom,sdm630-smmu-v2": _V2,
    "qcom,sdm670-smmu-v2": _V2,
    "qcom,sdm845-smmu-v2": _V2,
    "qcom,sdm845-smmu-500": _SDM845_500,
    "qcom,sm6115-smmu-500": _500_IMPL0,
    "qcom,sm6125-smmu-500": _500_IMPL0,
    "qcom,sm6350-smmu-v2": _V2,
    "qcom,sm6350-smmu-500": _500_IMPL0,
    "qcom,sm6375-smmu-v2": _V2,
    "qcom,sm6375-smmu-500": _500_IMPL0,
    "qcom,sm7150-smmu-v2": _V2,
    "qcom,sm8150-smmu-500": _500_IMPL0,
    "qcom,sm8250-smmu-500": _500_IMPL0,
    "qcom,sm8350-smmu-500": _500_IMPL0,
    "qcom,sm8450-smmu-500": _500_IMPL0,
    "qcom,smmu-500": _500_IMPL0,
}


def of_match_node(table: dict[str, Any], np: device_node) -> Any:
    """Best match: the node's earliest compatible that is in the table."""
    if np is None:
        return None
    for c in np.compatible:
        if c in table:
            return table[c]
    return None


@kfunc
def devm_krealloc(dev: device, obj: arm_smmu_device, cls: type[qcom_smmu]) -> qcom_smmu:
    _node = dev.numa_node  # noqa: F841
    new = cls()
    new.__dict__.update(copy.copy(obj.__dict__))
    return new


@kfunc
def qcom_smmu_create(smmu: arm_smmu_device, data: tuple[Any, Any] | None) -> Any:
    np = smmu.dev.of_node
    if data is None:
        return ERR_PTR(-EINVAL)
    if np is not None and "qcom,adreno-smmu" in np.compatible:
        impl = data[1]
    else:
        impl = data[0]
    if impl is None:
        return smmu
    # Check to make sure qcom_scm has finished probing
    if not qcom_scm_is_available():
        kernel().printk(f"{smmu.dev.init_name}: qcom_scm not ready")
        return ERR_PTR(-EPROBE_DEFER)
    qsmmu = devm_krealloc(smmu.dev, smmu, qcom_smmu)
    qsmmu.impl = impl
    return qsmmu


@kfunc
def qcom_smmu_impl_init(smmu: arm_smmu_device) -> Any:
    np = smmu.dev.of_node
    match = of_match_node(QCOM_SMMU_IMPL_OF_MATCH, np)
    if match is not None:
        return qcom_smmu_create(smmu, match)
    WARN_ON(np is not None and "qcom,adreno-smmu" in np.compatible,
            f"Missing qcom_smmu_impl_of_match entry for: {smmu.dev.init_name}")
    return smmu


@kfunc
def arm_smmu_impl_init(smmu: arm_smmu_device) -> Any:
    np = smmu.dev.of_node
    if smmu.model == ARM_MMU500:
        smmu.impl = arm_mmu500_impl
    elif smmu.model == CAVIUM_SMMUV2:
        smmu.impl = cavium_impl  # cavium_smmu_impl_init(): devm_krealloc + impl
        return smmu
    # This is implicitly MMU-400 (the corpus does not keep this property:
    # no 6.12 DT has it)
    if "calxeda,smmu-secure-config-access" in np.desc.props:
        smmu.impl = calxeda_impl
    if any(c in np.compatible for c in ("nvidia,tegra234-smmu", "nvidia,tegra194-smmu",
                                        "nvidia,tegra186-smmu")):
        smmu.impl = nvidia_smmu_impl  # nvidia_smmu_impl_init(): not on the probe path
        return smmu
    # IS_ENABLED(CONFIG_ARM_SMMU_QCOM) (arm64 defconfig: y)
    smmu = qcom_smmu_impl_init(smmu)
    if IS_ERR(smmu):  # the C goes on to the marvell test, which no qcom node passes
        return smmu
    if "marvell,ap806-smmu-500" in np.compatible:
        smmu.impl = mrvl_mmu500_impl
    return smmu


# -- probe --------------------------------------------------------------------------------------------


@kfunc
def arm_smmu_device_dt_probe(smmu: arm_smmu_device) -> int:
    dev = smmu.dev
    if _u32_prop(dev.of_node, "#global-interrupts") is None:
        kernel().printk(f"{dev.init_name}: missing #global-interrupts property")
        return -ENODEV
    data = of_match_node(ARM_SMMU_OF_MATCH, dev.of_node)
    smmu.version, smmu.model = data
    gl = g()
    legacy_binding = "mmu-masters" in dev.of_node.desc.props
    if legacy_binding and not gl.using_generic_binding:
        if not gl.using_legacy_binding:
            kernel().printk('arm-smmu: deprecated "mmu-masters" DT property in use; '
                            "DMA API support unavailable")
        gl.using_legacy_binding = True
    elif not legacy_binding and not gl.using_legacy_binding:
        gl.using_generic_binding = True
    else:
        kernel().printk(f"{dev.init_name}: not probing due to mismatched DT properties")
        return -ENODEV
    return 0


@kfunc
def arm_smmu_device_cfg_probe(smmu: arm_smmu_device) -> int:
    # ID0: stream matching, NUMSIDB, NUMSMRG (see DEFAULT_*)
    size = 1 << DEFAULT_NUMSIDB
    smmu.streamid_mask = size - 1
    size = DEFAULT_NUMSMRG
    # Zero-initialised to mark as invalid
    smmu.smrs = [arm_smmu_smr() for _ in range(size)]
    # s2cr->type == 0 means translation, so initialise explicitly
    smmu.s2crs = [arm_smmu_s2cr() for _ in range(size)]
    smmu.num_mapping_groups = size
    smmu.stream_map_mutex = Mutex(f"&smmu->stream_map_mutex({smmu.dev.init_name})",
                                  "&smmu->stream_map_mutex")
    # impl->cfg_probe (qcom: bootloader SMR handoff) reads hardware: not modelled
    return 0


@kfunc
def arm_smmu_device_reset(smmu: arm_smmu_device) -> None:
    """Writes sCR0 (EXIDENABLE), the SMRs/S2CRs and context banks."""


@kfunc
def arm_smmu_test_smr_masks(smmu: arm_smmu_device) -> None:
    if smmu.smrs is None:
        return
    # Somewhat perversely, not having a free SMR for this test implies we can
    # get away without it anyway.
    if all(s.valid for s in smmu.smrs[:smmu.num_mapping_groups]):
        return
    # SMR.ID bits may not be preserved if the corresponding MASK bits are
    # set, so check each one separately (all implemented in the model).
    smmu.streamid_mask = smmu.streamid_mask & 0xFFFF
    smmu.smr_mask_mask = smmu.streamid_mask


def _publish_drvdata(pdev: platform_device, smmu: arm_smmu_device) -> None:
    platform_set_drvdata(pdev, smmu)


def _probe_smr_masks(smmu: arm_smmu_device) -> None:
    # arm_smmu_rmr_install_bypass_smr(): IORT RMRs only (ACPI)
    arm_smmu_device_reset(smmu)
    arm_smmu_test_smr_masks(smmu)


@kfunc
def arm_smmu_device_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    smmu: Any = devm_kmalloc(dev, arm_smmu_device)
    smmu.dev = dev
    if dev.of_node is not None:
        err = arm_smmu_device_dt_probe(smmu)
    else:
        err = -ENODEV  # arm_smmu_device_acpi_probe(): IORT, not modelled here
    if err:
        return err
    # smmu->base = devm_platform_get_and_ioremap_resource(); numpage
    smmu = arm_smmu_impl_init(smmu)
    if IS_ERR(smmu):
        return PTR_ERR(smmu)
    # interrupts, clocks: the model's SMMU nodes have them
    err = arm_smmu_device_cfg_probe(smmu)
    if err:
        return err

    drvdata = variant.choice("arm_smmu_device_probe.drvdata")
    smr_masks = variant.choice("arm_smmu_device_probe.smr_masks")
    if drvdata == "before_register":
        _publish_drvdata(pdev, smmu)
    if smr_masks == "before_register":
        _probe_smr_masks(smmu)

    err = iommu_device_sysfs_add(smmu.iommu, dev)
    if err:
        return err
    err = iommu_device_register(smmu.iommu, g().arm_smmu_ops,
                                None if g().using_legacy_binding else dev)
    if err:
        kernel().printk(f"{dev.init_name}: Failed to register iommu")
        return err

    if drvdata == "after_register":
        _publish_drvdata(pdev, smmu)
    if smr_masks == "after_register":
        _probe_smr_masks(smmu)
    # pm_runtime_enable() when dev->pm_domain: nothing the probe path reads
    return 0


@kfunc
def arm_smmu_init(drv: platform_driver) -> int:
    g().arm_smmu_driver = drv
    ret = __platform_driver_register(drv)
    if ret:
        return ret
    # arm_smmu_impl_module_init(): qcom_smmu_module_init() registers the
    # qcom_tbu driver (TBU nodes only; not on the client probe path)
    return 0


def make_driver() -> platform_driver:
    return platform_driver("arm-smmu", arm_smmu_device_probe, tuple(ARM_SMMU_OF_MATCH),
                           suppress_bind_attrs=True)


DRIVER = IommuDriverSpec(
    name="arm-smmu",
    family="arm-smmu",
    source="drivers/iommu/arm/arm-smmu/arm-smmu.c",
    compatible=tuple(ARM_SMMU_OF_MATCH),
    make_driver=make_driver,
    link_order=21,  # drivers/iommu/Makefile L2: arm/ -> arm-smmu/ (qcom_iommu, then arm_smmu)
    initcall="device",  # module_init(arm_smmu_init)
    module_init=arm_smmu_init,
)
