"""drivers/iommu/mtk_iommu.c (6.12 line numbers; the probe path is the same in
v6.14).  See docs/drivers/mediatek.md for the list of modelled facts.

* ``mtk_iommu_probe()`` (L1252): devm data, match data; MM type:
  ``mtk_iommu_mm_dts_parse()`` (L1129) walks "mediatek,larbs": every
  available larb must have a platform device (-ENODEV) with a driver bound
  (``!plarbdev->dev.driver`` -> -EPROBE_DEFER, L1180), records
  ``data->larb_imu[id].dev`` (L1178, *before* the driver check), needs
  "mediatek,smi" (-EINVAL) and one common smi-common for all larbs; then
  ``platform_set_drvdata()`` (L1377), ``mutex_init``, the ``hw_list``
  publication (L1380-1387: the SoC's global ``m4ulist`` for SHARE_PGTABLE
  instances, else the instance's own list head), ``iommu_device_register()``
  (L1394), ``component_master_add_with_match()`` (L1399).
  Order sites ``mtk_iommu_probe.drvdata`` and ``mtk_iommu_probe.hw_list``.
* ``mtk_iommu_of_xlate()`` (L960): exactly 1 cell (-EINVAL); priv set once
  from the m4u pdev's drvdata (``WARN_ON(!m4updev)``); add the ID.
* ``mtk_iommu_probe_device()`` (L863): ``data = priv`` dereferenced without
  a NULL check (``data->plat_data``); MM: all IDs in one larb (-EINVAL),
  ``larb_imu[larbid].dev`` must be set (-EINVAL), stateless device link.
* ``mtk_iommu_device_group()`` (L932): ``mtk_iommu_get_frst_data(c_data->
  hw_list)`` = ``list_first_entry`` (never NULL: an empty list gives the
  head's container, a NULL ``hw_list`` faults); group id = bank id, else the
  IOVA region id (L526/L550, -EINVAL when no region holds the ports); the
  group is cached in the *first* instance's ``m4u_group[id]`` under its
  mutex, so instances sharing ``m4ulist`` share groups.
* ``mtk_iommu_release_device()`` (L902): removes the larb link.
* ``module_platform_driver`` (L1817): device initcall.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from harness.errno import EEXIST, EINVAL, ENODEV, EPROBE_DEFER, ERR_PTR, IS_ERR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_fwspec_get,
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_device_unregister,
    iommu_fwspec_add_ids,
    iommu_group_alloc,
    iommu_group_ref_get,
)
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY, iommu_device, iommu_domain, iommu_ops
from harness.kernel import WARN_ON, BogusPointer, Mutex, kernel, kfunc, mutex_lock, mutex_unlock
from harness.of.device import of_device_get_match_data
from harness.of.node import (
    of_count_phandle_with_args,
    of_device_is_available,
    of_parse_phandle,
    of_property_read_u32,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.iommu.structs import iommu_group
    from harness.of.node import of_phandle_args

MTK_LARB_NR_MAX = 32  # include/dt-bindings/memory/mtk-memory-port.h L9
MTK_IOMMU_GROUP_MAX = 8  # L162
MTK_IOMMU_BANK_MAX = 5
ALL = 0xFFFFFFFF  # ~0


def MTK_M4U_TO_LARB(id_: int) -> int:  # noqa: N802 - kernel macro
    return (id_ >> 5) & 0x1F


def MTK_M4U_TO_PORT(id_: int) -> int:  # noqa: N802 - kernel macro
    return id_ & 0x1F


def BIT(n: int) -> int:  # noqa: N802 - kernel macro
    return 1 << n


def GENMASK(h: int, lo: int) -> int:  # noqa: N802 - kernel macro
    return ((1 << (h - lo + 1)) - 1) << lo


@dataclass(frozen=True)
class mtk_iommu_plat_data:  # noqa: N801
    """What the probe path reads of ``struct mtk_iommu_plat_data`` (L196)."""

    m4u_plat: str
    type_mm: bool = True  # MTK_IOMMU_TYPE_MM (0x0 << 13) vs TYPE_INFRA
    share_pgtable: bool = False  # SHARE_PGTABLE: data->list on the global m4ulist
    cfg_ifa_master_in_atf: bool = False
    banks_num: int = 1
    banks_enable: tuple[bool, ...] = (True,)
    banks_portmsk: dict[int, int] = field(default_factory=dict)
    iova_region_nr: int = 1  # ARRAY_SIZE(single_domain)
    # iova_region_larb_msk[region][larb] (rows of a 2-D array: never NULL)
    iova_region_larb_msk: tuple[dict[int, int], ...] = ()


# mt8192_multi_dom has MT8192_MULTI_REGION_NR = 6 entries on arm64 (L349)
_MT8186_MSK: tuple[dict[int, int], ...] = ({0: ALL, 1: ALL, 2: ALL}, {4: ALL, 7: ALL},
               {8: ALL, 9: ALL, 11: ALL, 13: ALL & ~(BIT(9) | BIT(10)), 16: ALL, 17: ALL,
                19: ALL, 20: ALL},
               {}, {13: BIT(9) | BIT(10)}, {14: ALL})
_MT8188_MSK: tuple[dict[int, int], ...] = ({0: ALL, 1: ALL, 2: ALL, 3: ALL}, {21: ALL, 22: ALL, 23: ALL},
               {**{i: ALL for i in range(4, 21)}, 25: ALL},
               {}, {24: BIT(0) | BIT(1)}, {24: BIT(2) | BIT(3)})
_MT8192_MSK: tuple[dict[int, int], ...] = ({0: ALL, 1: ALL}, {4: ALL, 5: ALL, 7: ALL},
               {2: ALL, 9: ALL, 11: ALL, 13: ALL & ~(BIT(9) | BIT(10)),
                14: ALL & ~(BIT(4) | BIT(5)), 16: ALL, 17: ALL, 18: ALL, 19: ALL, 20: ALL},
               {}, {13: BIT(9) | BIT(10)}, {14: BIT(4) | BIT(5)})
_MT8195_MSK: tuple[dict[int, int], ...] = ({0: ALL, 1: ALL, 2: ALL, 3: ALL}, {i: ALL for i in range(19, 25)},
               {**{i: ALL for i in range(4, 18)}, **{i: ALL for i in range(25, 29)}},
               {}, {18: BIT(0) | BIT(1)}, {18: BIT(2) | BIT(3)})

# mtk_iommu_of_ids[] (L1788) -> plat data (L1527-L1786)
PLAT_DATA: dict[str, mtk_iommu_plat_data] = {
    "mediatek,mt2712-m4u": mtk_iommu_plat_data("mt2712", share_pgtable=True),
    "mediatek,mt6779-m4u": mtk_iommu_plat_data("mt6779"),
    "mediatek,mt6795-m4u": mtk_iommu_plat_data("mt6795"),
    "mediatek,mt8167-m4u": mtk_iommu_plat_data("mt8167"),
    "mediatek,mt8173-m4u": mtk_iommu_plat_data("mt8173"),
    "mediatek,mt8183-m4u": mtk_iommu_plat_data("mt8183"),
    "mediatek,mt8186-iommu-mm": mtk_iommu_plat_data("mt8186", iova_region_nr=6,
                                                    iova_region_larb_msk=_MT8186_MSK),
    "mediatek,mt8188-iommu-infra": mtk_iommu_plat_data("mt8188", type_mm=False,
                                                       cfg_ifa_master_in_atf=True),
    "mediatek,mt8188-iommu-vdo": mtk_iommu_plat_data("mt8188", share_pgtable=True, iova_region_nr=6,
                                                     iova_region_larb_msk=_MT8188_MSK),
    "mediatek,mt8188-iommu-vpp": mtk_iommu_plat_data("mt8188", share_pgtable=True, iova_region_nr=6,
                                                     iova_region_larb_msk=_MT8188_MSK),
    "mediatek,mt8192-m4u": mtk_iommu_plat_data("mt8192", iova_region_nr=6,
                                               iova_region_larb_msk=_MT8192_MSK),
    "mediatek,mt8195-iommu-infra": mtk_iommu_plat_data(
        "mt8195", type_mm=False, banks_num=5, banks_enable=(True, False, False, False, True),
        banks_portmsk={0: GENMASK(19, 16), 4: GENMASK(31, 20)}),
    "mediatek,mt8195-iommu-vdo": mtk_iommu_plat_data("mt8195", share_pgtable=True, iova_region_nr=6,
                                                     iova_region_larb_msk=_MT8195_MSK),
    "mediatek,mt8195-iommu-vpp": mtk_iommu_plat_data("mt8195", share_pgtable=True, iova_region_nr=6,
                                                     iova_region_larb_msk=_MT8195_MSK),
    "mediatek,mt8365-m4u": mtk_iommu_plat_data("mt8365"),
}


class list_head:  # noqa: N801
    """``struct list_head`` holding ``mtk_iommu_data`` entries (via ``->list``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.entries: list[mtk_iommu_data] = []


class mtk_globals:  # noqa: N801
    """File-scope statics: ``static LIST_HEAD(m4ulist)`` (L337)."""

    def __init__(self) -> None:
        self.m4ulist = list_head("m4ulist")
        self.mtk_iommu_identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, None)


def g() -> mtk_globals:
    return kernel().state(mtk_globals)


class mtk_smi_larb_iommu:  # noqa: N801
    def __init__(self) -> None:
        self.dev: device | None = None
        self.mmu = 0


class mtk_iommu_data:  # noqa: N801
    """``struct mtk_iommu_data`` (L252): the m4u pdev's drvdata."""

    def __init__(self) -> None:
        self.dev: device | None = None
        self.plat_data: mtk_iommu_plat_data | None = None
        self.m4u_group: list[Any] = [None] * MTK_IOMMU_GROUP_MAX
        self.iommu = iommu_device()
        self.smicomm_dev: device | None = None
        self.bank: list[Any] = []
        # zeroed by devm_kzalloc until mutex_init(): the model's mutex works
        # either way (a zeroed struct mutex is usable without DEBUG_MUTEXES)
        self.mutex = Mutex("&data->mutex")
        self.hw_list: list_head | None = None
        self.hw_list_head = list_head("hw_list_head")
        self.larb_imu = [mtk_smi_larb_iommu() for _ in range(MTK_LARB_NR_MAX)]


def MTK_IOMMU_IS_TYPE_MM(plat_data: mtk_iommu_plat_data) -> bool:  # noqa: N802
    return plat_data.type_mm


@kfunc
def mtk_iommu_get_frst_data(hwlist: list_head | None) -> Any:
    """``list_first_entry(hwlist, struct mtk_iommu_data, list)`` (L365)."""
    entries = hwlist.entries  # a NULL hw_list faults here
    if not entries:
        # container_of(head) of an empty list: neither NULL nor an instance
        return BogusPointer("struct mtk_iommu_data", 0)
    return entries[0]


@kfunc
def mtk_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    fwspec = dev_iommu_fwspec_get(dev)
    data = dev_iommu_priv_get(dev)
    if not MTK_IOMMU_IS_TYPE_MM(data.plat_data):
        return data.iommu
    # Link the consumer device with the smi-larb device(supplier).
    larbid = MTK_M4U_TO_LARB(fwspec.ids[0])
    if larbid >= MTK_LARB_NR_MAX:
        return ERR_PTR(-EINVAL)
    for i in range(1, fwspec.num_ids):
        larbidx = MTK_M4U_TO_LARB(fwspec.ids[i])
        if larbid != larbidx:
            kernel().printk(f"{dev.init_name}: Can only use one larb. Fail@larb{larbid}-{larbidx}.")
            return ERR_PTR(-EINVAL)
    larbdev = data.larb_imu[larbid].dev
    if larbdev is None:
        return ERR_PTR(-EINVAL)
    device_link_add(dev, larbdev)
    return data.iommu


@kfunc
def mtk_iommu_release_device(dev: device) -> None:
    fwspec = dev_iommu_fwspec_get(dev)
    data = dev_iommu_priv_get(dev)
    if MTK_IOMMU_IS_TYPE_MM(data.plat_data):
        larbid = MTK_M4U_TO_LARB(fwspec.ids[0])
        _larbdev = data.larb_imu[larbid].dev  # noqa: F841 - device_link_remove(dev, larbdev)


def mtk_iommu_get_bank_id(dev: device, plat_data: mtk_iommu_plat_data) -> int:
    fwspec = dev_iommu_fwspec_get(dev)
    bankid = 0
    if plat_data.banks_num == 1:
        return bankid
    portmsk = 0
    for id_ in fwspec.ids:
        portmsk |= BIT(MTK_M4U_TO_PORT(id_))
    for i in range(min(plat_data.banks_num, MTK_IOMMU_BANK_MAX)):
        if not plat_data.banks_enable[i]:
            continue
        if portmsk & plat_data.banks_portmsk.get(i, 0):
            bankid = i
            break
    return bankid  # default is 0


def mtk_iommu_get_iova_region_id(dev: device, plat_data: mtk_iommu_plat_data) -> int:
    fwspec = dev_iommu_fwspec_get(dev)
    if plat_data.iova_region_nr == 1:
        return 0
    larbid = MTK_M4U_TO_LARB(fwspec.ids[0])
    portidmsk = 0
    for id_ in fwspec.ids:
        portidmsk |= BIT(MTK_M4U_TO_PORT(id_))
    for i in range(plat_data.iova_region_nr):
        rgn_larb_msk = plat_data.iova_region_larb_msk[i]
        if (rgn_larb_msk.get(larbid, 0) & portidmsk) == portidmsk:
            return i
    kernel().printk(f"{dev.init_name}: Can NOT find the region for larb({larbid}-{portidmsk:x}).")
    return -EINVAL


def mtk_iommu_get_group_id(dev: device, plat_data: mtk_iommu_plat_data) -> int:
    # If the bank function is enabled, each bank is a iommu group/domain.
    # Otherwise, each iova region is a iommu group/domain.
    bankid = mtk_iommu_get_bank_id(dev, plat_data)
    if bankid:
        return bankid
    return mtk_iommu_get_iova_region_id(dev, plat_data)


@kfunc
def mtk_iommu_device_group(dev: device) -> iommu_group | ErrPtr | None:
    c_data = dev_iommu_priv_get(dev)
    hw_list = c_data.hw_list
    data = mtk_iommu_get_frst_data(hw_list)
    if data is None:
        return ERR_PTR(-ENODEV)
    groupid = mtk_iommu_get_group_id(dev, data.plat_data)
    if groupid < 0:
        return ERR_PTR(groupid)
    mutex_lock(data.mutex)
    group = data.m4u_group[groupid]
    if group is None:
        group = iommu_group_alloc()
        if not IS_ERR(group):
            data.m4u_group[groupid] = group
    else:
        iommu_group_ref_get(group)
    mutex_unlock(data.mutex)
    return group


@kfunc
def mtk_iommu_of_xlate(dev: device, args: of_phandle_args) -> int:
    if args.args_count != 1:
        kernel().printk(f"{dev.init_name}: invalid #iommu-cells({args.args_count}) property for IOMMU")
        return -EINVAL
    if dev_iommu_priv_get(dev) is None:
        # Get the m4u device
        m4updev = of_find_device_by_node(args.np)
        if WARN_ON(m4updev is None, "mtk_iommu_of_xlate: no m4u device"):
            return -EINVAL
        dev_iommu_priv_set(dev, platform_get_drvdata(m4updev))
        platform_device_put(m4updev)
    return iommu_fwspec_add_ids(dev, list(args.args[:1]))


mtk_iommu_ops = iommu_ops(
    "mtk_iommu_ops",
    probe_device=mtk_iommu_probe_device,
    device_group=mtk_iommu_device_group,
    of_xlate=mtk_iommu_of_xlate,
    release_device=mtk_iommu_release_device,
    identity_domain=iommu_domain(IOMMU_DOMAIN_IDENTITY, None),
)


def _tree() -> Any:
    return kernel().globals["of_root"]


@kfunc
def mtk_iommu_mm_dts_parse(dev: device, match: list[Any], data: mtk_iommu_data) -> int:
    tree = _tree()
    np = dev.of_node
    frst_avail_smicomm_node = None
    larb_nr = of_count_phandle_with_args(np, "mediatek,larbs")
    if larb_nr < 0:
        return larb_nr
    if larb_nr == 0 or larb_nr > MTK_LARB_NR_MAX:
        return -EINVAL
    ret = 0
    for i in range(larb_nr):
        larbnode = of_parse_phandle(np, tree, "mediatek,larbs", i)
        if larbnode is None:
            return -EINVAL  # err_larbdev_put
        if not of_device_is_available(larbnode):
            continue
        id_ = of_property_read_u32(larbnode, "mediatek,larb-id")
        if id_ is None:  # The id is consecutive if there is no this property
            id_ = i
        if id_ >= MTK_LARB_NR_MAX:
            return -EINVAL
        plarbdev = of_find_device_by_node(larbnode)
        if plarbdev is None:
            return -ENODEV
        if data.larb_imu[id_].dev is not None:
            return -EEXIST
        data.larb_imu[id_].dev = plarbdev.dev
        if plarbdev.dev.driver is None:
            return -EPROBE_DEFER
        # Get smi-(sub)-common dev from the last larb.
        smi_subcomm_node = of_parse_phandle(larbnode, tree, "mediatek,smi", 0)
        if smi_subcomm_node is None:
            return -EINVAL
        # It may have two level smi-common: the node is smi-sub-common if it
        # has a new mediatek,smi property, otherwise it is smi-common.
        smicomm_node = of_parse_phandle(smi_subcomm_node, tree, "mediatek,smi", 0)
        if smicomm_node is None:
            smicomm_node = smi_subcomm_node
        # All the larbs that connect to one IOMMU must connect with the same smi-common.
        if frst_avail_smicomm_node is None:
            frst_avail_smicomm_node = smicomm_node
        elif frst_avail_smicomm_node is not smicomm_node:
            kernel().printk(f"{dev.init_name}: mediatek,smi property is not right @larb{id_}.")
            return -EINVAL
        match.append(plarbdev.dev)  # component_match_add(dev, match, component_compare_dev, ...)
    if frst_avail_smicomm_node is None:
        return -EINVAL
    pcommdev = of_find_device_by_node(frst_avail_smicomm_node)
    if pcommdev is None:
        return -ENODEV
    data.smicomm_dev = pcommdev.dev
    device_link_add(data.smicomm_dev, dev)
    return ret


@kfunc
def component_master_add_with_match(dev: device, match: list[Any]) -> int:
    """Binds the larb components once all of them have registered (mtk-smi);
    ``mtk_iommu_bind()`` -> ``component_bind_all()`` writes the larbs' MMU
    settings, which no IOMMU probe-path callback reads."""
    return 0


def _publish_drvdata(pdev: platform_device, data: mtk_iommu_data) -> None:
    platform_set_drvdata(pdev, data)


def _publish_hw_list(data: mtk_iommu_data) -> None:
    pd = data.plat_data
    assert pd is not None
    if pd.share_pgtable:
        g().m4ulist.entries.append(data)  # list_add_tail(&data->list, data->plat_data->hw_list)
        data.hw_list = g().m4ulist
    else:
        data.hw_list_head = list_head("hw_list_head")  # INIT_LIST_HEAD
        data.hw_list_head.entries.append(data)
        data.hw_list = data.hw_list_head


def _list_del(data: mtk_iommu_data) -> None:
    if data.hw_list is not None and data in data.hw_list.entries:
        data.hw_list.entries.remove(data)


@kfunc
def mtk_iommu_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    data = devm_kmalloc(dev, mtk_iommu_data)
    data.dev = dev
    data.plat_data = of_device_get_match_data(dev, PLAT_DATA)
    pd = data.plat_data
    assert pd is not None
    # protect memory, infracfg (HAS_4GB_MODE), registers, banks, irqs, bclk,
    # dma_set_mask: resources the model's m4u nodes always have.
    data.bank = [i for i in range(pd.banks_num) if pd.banks_enable[i]]
    # pm_runtime_enable(dev);
    match: list[Any] = []
    if MTK_IOMMU_IS_TYPE_MM(pd):
        ret = mtk_iommu_mm_dts_parse(dev, match, data)
        if ret:
            # dev_err_probe(): a deferral is the device's deferred-probe
            # reason, logged at debug level only
            if ret == -EPROBE_DEFER:
                dev.deferred_probe_reason = "mm dts parse fail"
            else:
                kernel().printk(f"{dev.init_name}: mm dts parse fail")
            return ret  # out_runtime_disable
    # INFRA without CFG_IFA_MASTER_IN_ATF: syscon_regmap_lookup_by_compatible(pericfg)

    drvdata_order = variant.choice("mtk_iommu_probe.drvdata")
    hw_list_order = variant.choice("mtk_iommu_probe.hw_list")
    if drvdata_order == "before_register":
        _publish_drvdata(pdev, data)
    # mutex_init(&data->mutex);
    if hw_list_order == "before_register":
        _publish_hw_list(data)

    ret = iommu_device_sysfs_add(data.iommu, dev)
    if ret:
        _list_del(data)
        return ret
    ret = iommu_device_register(data.iommu, mtk_iommu_ops, dev)
    if ret:
        _list_del(data)  # out_sysfs_remove: out_list_del:
        return ret
    if drvdata_order == "after_register":
        _publish_drvdata(pdev, data)
    if hw_list_order == "after_register":
        _publish_hw_list(data)

    if MTK_IOMMU_IS_TYPE_MM(pd):
        ret = component_master_add_with_match(dev, match)
        if ret:
            iommu_device_unregister(data.iommu)  # out_device_unregister
            _list_del(data)
            return ret
    return ret


def make_driver() -> platform_driver:
    return platform_driver("mtk-iommu", mtk_iommu_probe, tuple(PLAT_DATA))


DRIVER = IommuDriverSpec(
    name="mtk-iommu",
    family="mtk_iommu",
    source="drivers/iommu/mtk_iommu.c",
    compatible=tuple(PLAT_DATA),
    make_driver=make_driver,
    link_order=170,  # drivers/iommu/Makefile L17
)
