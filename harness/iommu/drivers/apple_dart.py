"""drivers/iommu/apple-dart.c (Apple silicon DART; 6.12 line numbers, the
probe path is the same in v6.14).

Facts modelled:
* ``apple_dart_probe()`` (L1086): devm instance, match data (``hw``),
  MMIO, IRQ, clocks, hardware parameters (``pgsize``, ``supports_bypass``,
  ``num_streams`` = ``hw->max_sid_count`` for T8020/T6000, L1126-1134),
  ``apple_dart_hw_reset()``, ``request_irq()`` (L1157), ``platform_set_drvdata()``
  (L1162) -- order site ``apple_dart_probe.drvdata`` -- then
  ``iommu_device_sysfs_add()`` and ``iommu_device_register()`` (L1169).
* ``apple_dart_of_xlate()`` (L784), once per ``iommus`` specifier (and per
  ``iommu-map`` hit of a PCI function): drvdata of the DART's platform
  device (no NULL check), ``args_count != 1`` -> -EINVAL; the per-device
  ``apple_dart_master_cfg`` is ``kzalloc``ed on the first call (priv NULL)
  and set as priv; a later DART must agree with the first on
  ``supports_bypass`` and ``pgsize`` (-EINVAL); the SID goes into the stream
  map of that DART (up to ``MAX_DARTS_PER_DEVICE`` = 2 DARTs, L39; a third
  -> -EINVAL).  The SID is not range-checked (``set_bit`` into a
  ``DART_MAX_STREAMS`` bitmap).  A failed parse leaves priv in place while
  ``dev->iommu`` survives; a fresh ``dev_iommu`` gets a fresh cfg.
* ``apple_dart_probe_device()`` (L727): cfg NULL -> -ENODEV; a managed
  device link to every DART of the stream maps; returns the *first* DART's
  ``iommu_device`` (``&cfg->stream_maps[0].dart->iommu``: with a NULL dart
  that is a bogus pointer, not NULL).
* ``apple_dart_release_device()`` (L744): ``kfree(cfg)`` (priv left
  dangling; the core frees ``dev_iommu`` right after).
* ``apple_dart_device_group()`` (L871), under ``apple_dart_groups_lock``:
  for every SID below ``num_streams`` of every stream map, the group cached
  in ``dart->sid2group[sid]``; two different cached groups -> -EINVAL; one
  -> that group (devices sharing a SID share a group).  Otherwise
  ``pci_device_group`` / ``generic_device_group``; the group's master cfg
  (``iommu_group_get_iommudata``) is merged (PCI: same single DART only,
  -EINVAL otherwise) or a copy of this device's cfg is attached; then every
  SID is recorded in ``sid2group``.
* ``apple_dart_def_domain_type()`` (L946): first DART's ``pgsize >
  PAGE_SIZE`` -> identity; no bypass support -> DMA; else no preference.
  The model's DARTs report 16K pages (the M1 hardware) and the Debian arm64
  kernel has 4K pages, so every DART group gets the identity domain
  ("bypass forced" in the probe message).
* Registration: ``module_platform_driver()`` (L1365), device_initcall.
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
from harness.bus.pci import dev_is_pci, pci_device_group
from harness.errno import EINVAL, ENODEV, ENOMEM, ERR_PTR, IS_ERR, PTR_ERR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_group_get_iommudata,
    iommu_group_put,
    iommu_group_ref_get,
    iommu_group_set_iommudata,
)
from harness.iommu.structs import (
    IOMMU_DOMAIN_BLOCKED,
    IOMMU_DOMAIN_DMA,
    IOMMU_DOMAIN_IDENTITY,
    iommu_device,
    iommu_domain,
    iommu_ops,
)
from harness.kernel import BogusPointer, Mutex, kernel, kfunc, kinline, mutex_lock, mutex_unlock
from harness.of.device import of_device_get_match_data

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.iommu.structs import iommu_group
    from harness.of.node import of_phandle_args

MAX_DARTS_PER_DEVICE = 2
DART_MAX_STREAMS = 256
PAGE_SIZE = 4096  # Debian arm64: CONFIG_ARM64_4K_PAGES
DART_PGSIZE = 16384  # DART_PARAMS1 page shift 14 on t8103/t6000 hardware
# offsetof(struct apple_dart, iommu) on arm64 (4-byte spinlock_t, no lock
# debugging): 7 words of fields up to the bitfield, then sid2group[256] at
# 72 -> iommu at 72 + 2048.  &NULL->iommu is this small non-NULL pointer.
APPLE_DART_IOMMU_OFFSET = 0x848

DART_T8020, DART_T6000, DART_T8110 = "DART_T8020", "DART_T6000", "DART_T8110"

# of_device_id .data: (type, max_sid_count); T8110 reads the SID count from
# DART_T8110_PARAMS4 (the t8112/t6000 hardware has 256).
APPLE_DART_HW = {
    "apple,t8103-dart": (DART_T8020, 16),
    "apple,t8103-usb4-dart": (DART_T8020, 64),
    "apple,t8110-dart": (DART_T8110, 256),
    "apple,t6000-dart": (DART_T6000, 16),
}
COMPATIBLE = tuple(APPLE_DART_HW)


class apple_dart_globals:  # noqa: N801
    """``static DEFINE_MUTEX(apple_dart_groups_lock)`` (L830)."""

    def __init__(self) -> None:
        self.apple_dart_groups_lock = Mutex("apple_dart_groups_lock")


def g() -> apple_dart_globals:
    return kernel().state(apple_dart_globals)


class apple_dart:  # noqa: N801
    """``struct apple_dart``: drvdata of the DART platform device."""

    def __init__(self) -> None:
        self.dev: device | None = None
        self.hw: Any = None
        self.pgsize = 0
        self.supports_bypass = False
        self.num_streams = 0
        self.sid2group: dict[int, Any] = {}  # struct iommu_group *sid2group[DART_MAX_STREAMS]
        self.iommu = iommu_device()


class apple_dart_stream_map:  # noqa: N801
    __slots__ = ("dart", "sidmap")

    def __init__(self) -> None:
        self.dart: apple_dart | None = None
        self.sidmap: set[int] = set()


class apple_dart_master_cfg:  # noqa: N801
    """``struct apple_dart_master_cfg``: per client, kzalloc'd in of_xlate."""

    def __init__(self) -> None:
        self.stream_maps = [apple_dart_stream_map() for _ in range(MAX_DARTS_PER_DEVICE)]
        self.freed = False

    def copy(self) -> apple_dart_master_cfg:
        """``kmemdup(cfg, sizeof(*cfg))``."""
        c = apple_dart_master_cfg()
        for d, s in zip(c.stream_maps, self.stream_maps, strict=True):
            d.dart = s.dart
            d.sidmap = set(s.sidmap)
        return c


def for_each_stream_map(cfg: apple_dart_master_cfg) -> list[apple_dart_stream_map]:
    """``for_each_stream_map()``: stops at the first map without a DART."""
    out = []
    for sm in cfg.stream_maps:
        if sm.dart is None:
            break
        out.append(sm)
    return out


def for_each_set_bit(sm: apple_dart_stream_map) -> list[int]:
    assert sm.dart is not None
    return sorted(s for s in sm.sidmap if s < sm.dart.num_streams)


@kfunc
def apple_dart_probe_device(dev: device) -> iommu_device | ErrPtr | BogusPointer:
    cfg = dev_iommu_priv_get(dev)
    if cfg is None:
        return ERR_PTR(-ENODEV)
    for sm in for_each_stream_map(cfg):
        device_link_add(dev, sm.dart.dev)  # DL_FLAG_PM_RUNTIME | DL_FLAG_AUTOREMOVE_SUPPLIER
    dart = cfg.stream_maps[0].dart
    if dart is None:
        return BogusPointer("struct iommu_device", APPLE_DART_IOMMU_OFFSET)
    return dart.iommu


@kfunc
def apple_dart_release_device(dev: device) -> None:
    cfg = dev_iommu_priv_get(dev)
    if cfg is not None:
        cfg.freed = True  # kfree(cfg)


@kfunc
def apple_dart_domain_alloc_paging(dev: device) -> iommu_domain | ErrPtr | None:
    # apple_dart_finalize_domain() with the device's cfg: page table sized
    # from the first DART; nothing the probe path publishes.
    return iommu_domain(IOMMU_DOMAIN_DMA, apple_dart_iommu_ops)


@kfunc
def apple_dart_of_xlate(dev: device, args: of_phandle_args) -> int:
    cfg = dev_iommu_priv_get(dev)
    iommu_pdev = of_find_device_by_node(args.np)
    dart = platform_get_drvdata(iommu_pdev)
    platform_device_put(iommu_pdev)

    if args.args_count != 1:
        return -EINVAL
    sid = args.args[0]

    if cfg is None:
        cfg = apple_dart_master_cfg()  # kzalloc
    dev_iommu_priv_set(dev, cfg)

    cfg_dart = cfg.stream_maps[0].dart
    if cfg_dart is not None:
        if cfg_dart.supports_bypass != dart.supports_bypass:
            return -EINVAL
        if cfg_dart.pgsize != dart.pgsize:
            return -EINVAL

    for sm in cfg.stream_maps:
        if sm.dart is dart:
            sm.sidmap.add(sid)  # set_bit(sid, ...)
            return 0
    for sm in cfg.stream_maps:
        if sm.dart is None:
            sm.dart = dart
            sm.sidmap.add(sid)
            return 0
    return -EINVAL


def apple_dart_release_group(iommu_data: apple_dart_master_cfg) -> None:
    """Group release callback: clear this group's SIDs from sid2group."""
    mutex_lock(g().apple_dart_groups_lock)
    for sm in for_each_stream_map(iommu_data):
        for sid in for_each_set_bit(sm):
            sm.dart.sid2group.pop(sid, None)  # type: ignore[union-attr]
    iommu_data.freed = True
    mutex_unlock(g().apple_dart_groups_lock)


@kfunc
def apple_dart_merge_master_cfg(dst: apple_dart_master_cfg, src: apple_dart_master_cfg) -> int:
    # Only called for groups returned from pci_device_group(): a PCIe bus is
    # never spread over several DARTs, so both must have the same single DART.
    if src.stream_maps[1].dart is not None:
        return -EINVAL
    if dst.stream_maps[1].dart is not None:
        return -EINVAL
    if src.stream_maps[0].dart is not dst.stream_maps[0].dart:
        return -EINVAL
    dst.stream_maps[0].sidmap |= {s for s in src.stream_maps[0].sidmap
                                  if s < dst.stream_maps[0].dart.num_streams}  # type: ignore[union-attr]
    return 0


@kfunc
def apple_dart_device_group(dev: device) -> iommu_group | ErrPtr | None:
    mutex_lock(g().apple_dart_groups_lock)
    res = _apple_dart_device_group_locked(dev, dev_iommu_priv_get(dev))
    # out: (an oops above leaves the mutex held, as in the kernel)
    mutex_unlock(g().apple_dart_groups_lock)
    return res


@kinline
def _apple_dart_device_group_locked(dev: device, cfg: apple_dart_master_cfg) -> Any:
    stream_group_found = None
    for sm in for_each_stream_map(cfg):
        for sid in for_each_set_bit(sm):
            stream_group = sm.dart.sid2group.get(sid)  # type: ignore[union-attr]
            if stream_group_found is not None and stream_group_found is not stream_group:
                return ERR_PTR(-EINVAL)
            stream_group_found = stream_group
    if stream_group_found is not None:
        return iommu_group_ref_get(stream_group_found)

    group: Any = pci_device_group(dev) if dev_is_pci(dev) else generic_device_group(dev)
    if group is None:
        return ERR_PTR(-ENOMEM)
    if IS_ERR(group):
        # "if (!group)" lets an ERR_PTR from iommu_group_alloc() through: the
        # next access dereferences the error pointer.
        group = BogusPointer("struct iommu_group", PTR_ERR(group) & 0xFFFFFFFFFFFFFFFF)

    group_master_cfg = iommu_group_get_iommudata(group)
    if group_master_cfg is not None:
        ret = apple_dart_merge_master_cfg(group_master_cfg, cfg)
        if ret:
            kernel().printk(f"apple-dart {dev.init_name}: Failed to merge DART IOMMU groups.")
            iommu_group_put(group)
            return ERR_PTR(ret)
    else:
        iommu_group_set_iommudata(group, cfg.copy(), apple_dart_release_group)

    for sm in for_each_stream_map(cfg):
        for sid in for_each_set_bit(sm):
            sm.dart.sid2group[sid] = group  # type: ignore[union-attr]
    return group


@kfunc
def apple_dart_def_domain_type(dev: device) -> int:
    cfg = dev_iommu_priv_get(dev)
    if cfg.stream_maps[0].dart.pgsize > PAGE_SIZE:
        return IOMMU_DOMAIN_IDENTITY
    if not cfg.stream_maps[0].dart.supports_bypass:
        return IOMMU_DOMAIN_DMA
    return 0


apple_dart_identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, None)
apple_dart_blocked_domain = iommu_domain(IOMMU_DOMAIN_BLOCKED, None)

apple_dart_iommu_ops = iommu_ops(
    "apple_dart_iommu_ops",
    probe_device=apple_dart_probe_device,
    device_group=apple_dart_device_group,
    of_xlate=apple_dart_of_xlate,
    release_device=apple_dart_release_device,
    domain_alloc_paging=apple_dart_domain_alloc_paging,
    def_domain_type=apple_dart_def_domain_type,
    identity_domain=apple_dart_identity_domain,
)


@kfunc
def apple_dart_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    dart = devm_kmalloc(dev, apple_dart)
    dart.dev = dev
    dart.hw = of_device_get_match_data(dev, APPLE_DART_HW)
    # devm_platform_get_and_ioremap_resource(), platform_get_irq(),
    # devm_clk_bulk_get_all(), clk_bulk_prepare_enable(): present in the model
    dart.pgsize = DART_PGSIZE
    dart.supports_bypass = True
    dart.num_streams = dart.hw[1]
    if dart.num_streams > DART_MAX_STREAMS:
        return -EINVAL
    # apple_dart_hw_reset(), request_irq(): succeed
    order = variant.choice("apple_dart_probe.drvdata")
    if order == "before_register":
        platform_set_drvdata(pdev, dart)
    ret = iommu_device_sysfs_add(dart.iommu, dev)
    if ret:
        return ret
    ret = iommu_device_register(dart.iommu, apple_dart_iommu_ops, dev)
    if ret:
        return ret
    if order == "after_register":
        platform_set_drvdata(pdev, dart)
    kernel().printk(f"apple-dart {dev.init_name}: DART [pagesize {dart.pgsize:x}, "
                    f"{dart.num_streams} streams, bypass support: {int(dart.supports_bypass)}, "
                    f"bypass forced: {int(dart.pgsize > PAGE_SIZE)}] initialized")
    return 0


def make_driver() -> platform_driver:
    return platform_driver("apple-dart", apple_dart_probe, COMPATIBLE, suppress_bind_attrs=True)


DRIVER = IommuDriverSpec(
    name="apple-dart",
    family="apple-dart",
    source="drivers/iommu/apple-dart.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=320,  # drivers/iommu/Makefile L32
)
