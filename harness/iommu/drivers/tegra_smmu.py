"""drivers/iommu/tegra-smmu.c, probed through the memory controller
(drivers/memory/tegra/mc.c).  6.12 line numbers; the probe path is the same
in v6.14.  See docs/drivers/tegra-smmu.md.

* ``tegra_mc_init()`` is an ``arch_initcall`` (mc.c L1018): the MC driver
  binds while ``of_platform_default_populate_init`` adds the devices (before
  ``iommu_subsys_init``), and its SMMU registers and walks the buses then;
  ``.prevent_deferred_probe = true`` (L1010).
* ``tegra_mc_probe()`` (mc.c L896): devm ``tegra_mc``,
  ``platform_set_drvdata()`` (L906) first (order site
  ``tegra_mc_probe.drvdata``), soc data, registers, irq, ...;
  for SoCs whose ``tegra_mc_soc`` has ``.smmu`` (tegra30/114/124/132/210):
  ``mc->smmu = tegra_smmu_probe(&pdev->dev, mc->soc->smmu, mc)`` (L970),
  NULL on error; the MC probe still returns 0.
* ``tegra_smmu_probe()`` (L1100): devm smmu, ``mc->smmu = smmu`` (L1120,
  "a bit of a hack ... looked up from the .probe_device() callback"),
  asids, ``INIT_LIST_HEAD(&smmu->groups)`` (L1126), mutex, ``smmu->soc`` (L1130),
  ``smmu->dev`` (L1131), ``smmu->mc``, registers, sysfs,
  ``iommu_device_register()`` (L1168).  Order sites
  ``tegra_smmu_probe.mc_smmu``, ``.groups``, ``.soc``, ``.dev``.
* ``tegra_smmu_of_xlate()`` (L962): ``mc = platform_get_drvdata(
  of_find_device_by_node(args->np))`` with **no** NULL checks, priv =
  ``mc->smmu``, add ``args[0]`` (the swgroup).
* ``tegra_smmu_probe_device()`` (L855): re-parses "iommus"; for every entry
  whose MC has an SMMU (``tegra_smmu_find``: pdev, drvdata, ``mc->smmu``):
  ``tegra_smmu_configure()`` = ``iommu_fwspec_init`` (0: the fwspec exists
  with the same ops) + ``ops->of_xlate`` again, so the swgroup ID is in the
  fwspec twice after a bind-time parse; priv NULL -> -ENODEV.
* ``tegra_smmu_device_group()`` (L909): one group per swgroup, or per SoC
  group (``tegra_smmu_find_group``: the "drm"/"display" swgroup sets),
  kept on ``smmu->groups`` (devm against ``smmu->dev``); NULL on failure.
* ``tegra_smmu_def_domain_type()`` (L983): IDENTITY.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from harness.bus.pci import dev_is_pci, pci_device_group
from harness.device import dev_fwnode
from harness.errno import ENODEV, ERR_PTR, IS_ERR, PTR_ERR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_fwspec_get,
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_fwspec_add_ids,
    iommu_fwspec_free,
    iommu_fwspec_init,
    iommu_group_ref_get,
)
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY, iommu_device, iommu_domain, iommu_ops
from harness.kernel import Mutex, kernel, kfunc, mutex_lock, mutex_unlock
from harness.of.device import of_device_get_match_data
from harness.of.node import of_parse_phandle_with_args

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.iommu.structs import iommu_group
    from harness.of.node import device_node, of_phandle_args


@dataclass(frozen=True)
class tegra_smmu_group_soc:  # noqa: N801
    name: str
    swgroups: tuple[int, ...]


@dataclass(frozen=True)
class tegra_smmu_soc:  # noqa: N801
    name: str
    groups: tuple[tegra_smmu_group_soc, ...]


@dataclass(frozen=True)
class tegra_mc_soc:  # noqa: N801
    name: str
    smmu: tegra_smmu_soc | None


# drivers/memory/tegra/tegra{30,114,124,210}.c *_groups[] with the swgroup
# numbers of include/dt-bindings/memory/tegra*-mc.h
_T30 = tegra_smmu_soc("tegra30", (tegra_smmu_group_soc("drm", (1, 2, 4, 9, 10)),))
_T114 = tegra_smmu_soc("tegra114", (tegra_smmu_group_soc("drm", (1, 2, 4, 6)),))
_T124 = tegra_smmu_soc("tegra124", (tegra_smmu_group_soc("drm", (1, 2, 24)),))
_T132 = tegra_smmu_soc("tegra132", _T124.groups)
_T210 = tegra_smmu_soc("tegra210", (tegra_smmu_group_soc("display", (1, 2)),))

# mc.c tegra_mc_of_match[] entries whose soc has .smmu
MC_SOCS = {
    "nvidia,tegra30-mc": tegra_mc_soc("tegra30", _T30),
    "nvidia,tegra114-mc": tegra_mc_soc("tegra114", _T114),
    "nvidia,tegra124-mc": tegra_mc_soc("tegra124", _T124),
    "nvidia,tegra132-mc": tegra_mc_soc("tegra132", _T132),
    "nvidia,tegra210-mc": tegra_mc_soc("tegra210", _T210),
}


class tegra_mc:  # noqa: N801
    def __init__(self) -> None:
        self.dev: Any = None
        self.soc: tegra_mc_soc | None = None
        self.smmu: Any = None


class tegra_smmu:  # noqa: N801
    def __init__(self) -> None:
        self.dev: Any = None
        self.mc: tegra_mc | None = None
        self.soc: tegra_smmu_soc | None = None
        # struct list_head groups: zeroed (not a valid list) until INIT_LIST_HEAD
        self.groups: list[tegra_smmu_group] | None = None
        self.lock = Mutex("&smmu->lock")
        self.iommu = iommu_device()


class tegra_smmu_group:  # noqa: N801
    def __init__(self) -> None:
        self.swgroup = 0
        self.smmu: tegra_smmu | None = None
        self.soc: tegra_smmu_group_soc | None = None
        self.group: iommu_group | None = None


@kfunc
def tegra_smmu_find(np: device_node) -> tegra_smmu | None:
    pdev = of_find_device_by_node(np)
    if pdev is None:
        return None
    mc = platform_get_drvdata(pdev)
    platform_device_put(pdev)
    if mc is None:
        return None
    return mc.smmu


@kfunc
def tegra_smmu_configure(smmu: tegra_smmu, dev: device, args: of_phandle_args) -> int:
    ops = smmu.iommu.ops
    err = iommu_fwspec_init(dev, dev_fwnode(smmu.dev))
    if err < 0:
        kernel().printk(f"{dev.init_name}: failed to initialize fwspec: {err}")
        return err
    err = ops.of_xlate(dev, args)
    if err < 0:
        kernel().printk(f"{dev.init_name}: failed to parse SW group ID: {err}")
        iommu_fwspec_free(dev)
        return err
    return 0


@kfunc
def tegra_smmu_probe_device(dev: device) -> iommu_device | ErrPtr:
    np = dev.of_node
    tree = kernel().globals["of_root"]
    index = 0
    while True:
        args = of_parse_phandle_with_args(np, tree, index)
        if args is None:
            break
        smmu = tegra_smmu_find(args.np)
        if smmu is not None:
            err = tegra_smmu_configure(smmu, dev, args)
            if err < 0:
                return ERR_PTR(err)
        index += 1
    smmu = dev_iommu_priv_get(dev)
    if smmu is None:
        return ERR_PTR(-ENODEV)
    return smmu.iommu


def tegra_smmu_find_group(smmu: tegra_smmu, swgroup: int) -> tegra_smmu_group_soc | None:
    # a NULL smmu->soc faults here, as in C
    for grp in smmu.soc.groups:  # type: ignore[union-attr]
        if swgroup in grp.swgroups:
            return grp
    return None


def list_for_each_entry(head: list[tegra_smmu_group] | None) -> list[Any]:
    """``list_for_each_entry(group, &smmu->groups, list)``.

    A head that was never ``INIT_LIST_HEAD``ed is zeroed: ``head->next`` is
    NULL and, ``list`` being the first member of ``struct tegra_smmu_group``
    (L24), the first entry is NULL; NULL != head, so the body reads it.
    """
    if head is None:
        pos: Any = None
        _ = pos.swgroup  # group->swgroup of the NULL entry faults
    return list(head or ())


@kfunc
def tegra_smmu_device_group(dev: device) -> iommu_group | ErrPtr | None:
    fwspec = dev_iommu_fwspec_get(dev)
    smmu = dev_iommu_priv_get(dev)
    swgroup = fwspec.ids[0]
    # Find group_soc associating with swgroup
    soc = tegra_smmu_find_group(smmu, swgroup)
    mutex_lock(smmu.lock)
    # Find existing iommu_group associating with swgroup or group_soc
    for group in list_for_each_entry(smmu.groups):
        if group.swgroup == swgroup or (soc is not None and group.soc is soc):
            grp = iommu_group_ref_get(group.group)
            mutex_unlock(smmu.lock)
            return grp
    group = devm_kmalloc(smmu.dev, tegra_smmu_group)
    group.swgroup = swgroup
    group.smmu = smmu
    group.soc = soc
    group.group = pci_device_group(dev) if dev_is_pci(dev) else generic_device_group(dev)
    if IS_ERR(group.group):
        mutex_unlock(smmu.lock)
        return None
    group.group.iommu_data = group  # iommu_group_set_iommudata(..., tegra_smmu_group_release)
    smmu.groups.append(group)
    mutex_unlock(smmu.lock)
    return group.group


@kfunc
def tegra_smmu_of_xlate(dev: device, args: of_phandle_args) -> int:
    iommu_pdev = of_find_device_by_node(args.np)
    mc = platform_get_drvdata(iommu_pdev)
    id_ = args.args[0]
    platform_device_put(iommu_pdev)
    dev_iommu_priv_set(dev, mc.smmu)
    return iommu_fwspec_add_ids(dev, [id_])


@kfunc
def tegra_smmu_def_domain_type(dev: device) -> int:
    return IOMMU_DOMAIN_IDENTITY


tegra_smmu_ops = iommu_ops(
    "tegra_smmu_ops",
    probe_device=tegra_smmu_probe_device,
    device_group=tegra_smmu_device_group,
    of_xlate=tegra_smmu_of_xlate,
    def_domain_type=tegra_smmu_def_domain_type,
    identity_domain=iommu_domain(IOMMU_DOMAIN_IDENTITY, None),
)


@kfunc
def tegra_smmu_probe(dev: device, soc: tegra_smmu_soc, mc: tegra_mc) -> Any:
    smmu = devm_kmalloc(dev, tegra_smmu)
    o_mc_smmu = variant.choice("tegra_smmu_probe.mc_smmu")
    o_soc = variant.choice("tegra_smmu_probe.soc")
    o_dev = variant.choice("tegra_smmu_probe.dev")
    # This is a bit of a hack. Ideally we'd want to simply return this
    # value. However iommu_device_register() will attempt to add all devices
    # to the IOMMU before we get that far. In order not to rely on global
    # variables to track the IOMMU instance, we set it here so that it can be
    # looked up from the .probe_device() callback via the IOMMU device's
    # .drvdata field.
    if o_mc_smmu == "before_register":
        mc.smmu = smmu
    # smmu->asids = devm_bitmap_zalloc(...)
    o_groups = variant.choice("tegra_smmu_probe.groups")
    if o_groups == "before_register":
        smmu.groups = []  # INIT_LIST_HEAD(&smmu->groups);
    # mutex_init(&smmu->lock);
    if o_soc == "before_register":
        smmu.soc = soc
    if o_dev == "before_register":
        smmu.dev = dev
    smmu.mc = mc
    # pfn/tlb masks, PTC/TLB config, flushes, tegra_smmu_ahb_enable()
    err = iommu_device_sysfs_add(smmu.iommu, dev)
    if err:
        return ERR_PTR(err)
    err = iommu_device_register(smmu.iommu, tegra_smmu_ops, dev)
    if err:
        return ERR_PTR(err)
    if o_mc_smmu == "after_register":
        mc.smmu = smmu
    if o_groups == "after_register":
        smmu.groups = []
    if o_soc == "after_register":
        smmu.soc = soc
    if o_dev == "after_register":
        smmu.dev = dev
    # tegra_smmu_debugfs_init(smmu)
    return smmu


@kfunc
def tegra_mc_probe(pdev: platform_device) -> int:
    mc = devm_kmalloc(pdev.dev, tegra_mc)
    order = variant.choice("tegra_mc_probe.drvdata")
    if order == "before_register":
        platform_set_drvdata(pdev, mc)
    mc.soc = of_device_get_match_data(pdev.dev, MC_SOCS)
    mc.dev = pdev.dev
    # dma_coerce_mask_and_coherent, registers, debugfs, soc->ops->probe,
    # channels, irq, reset controller, interconnect: nothing the SMMU reads
    soc = mc.soc
    assert soc is not None
    if soc.smmu is not None:  # IS_ENABLED(CONFIG_TEGRA_IOMMU_SMMU) && mc->soc->smmu
        mc.smmu = tegra_smmu_probe(pdev.dev, soc.smmu, mc)
        if IS_ERR(mc.smmu):
            kernel().printk(f"{pdev.dev.init_name}: failed to probe SMMU: {PTR_ERR(mc.smmu)}")
            mc.smmu = None
    if order == "after_register":
        platform_set_drvdata(pdev, mc)
    return 0


def make_driver() -> platform_driver:
    drv = platform_driver("tegra-mc", tegra_mc_probe, tuple(MC_SOCS), suppress_bind_attrs=True)
    drv.prevent_deferred_probe = True
    return drv


DRIVER = IommuDriverSpec(
    name="tegra-mc",
    family="tegra-smmu",
    source="drivers/iommu/tegra-smmu.c",
    compatible=tuple(MC_SOCS),
    make_driver=make_driver,
    link_order=1670,  # drivers/memory/ links after drivers/iommu/
    initcall="arch",  # arch_initcall(tegra_mc_init)
)
