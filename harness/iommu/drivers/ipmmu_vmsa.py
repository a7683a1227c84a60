"""drivers/iommu/ipmmu-vmsa.c: Renesas IPMMU (6.12 line numbers; the probe
path is the same in v6.14).  See docs/drivers/ipmmu-vmsa.md.

* ``ipmmu_probe()`` (L1006): devm data, features from the match table
  (``has_cache_leaf_nodes`` for Gen3/Gen4/RZ-G2), registers; the instance is
  its own root unless it is a cache IPMMU ("renesas,ipmmu-main" present and
  ``has_cache_leaf_nodes``), whose root is found by ``ipmmu_find_root()``
  (``driver_for_each_device`` over the *bound* IPMMUs, drvdata, ``root ==
  mmu``); no root yet -> -EPROBE_DEFER.  Only Gen2 instances and Gen3/4
  leaves register (L1091-1101: the root IPMMU-MM does not);
  ``iommu_device_register()`` (L1097) comes **before**
  ``platform_set_drvdata()`` (L1108) -- order site ``ipmmu_probe.drvdata``.
* ``ipmmu_of_xlate()`` (L777): ``ipmmu_device_is_allowed()`` (L748: SoCs of
  the families "R-Car Gen3"/"R-Car Gen4"/"RZ/G2" opt devices in: the SoC
  deny list (r8a774a1, r8a7795 ES2.*, r8a7796) refuses all, PCI devices and
  the four SDHI names of ``devices_allowlist`` are allowed) else -ENODEV;
  ``iommu_fwspec_add_ids`` (return value ignored); once per ``dev_iommu``:
  ``dev_iommu_priv_set(platform_get_drvdata(ipmmu_pdev))`` -- NULL while the
  instance has not reached L1108.
* ``ipmmu_probe_device()`` (L835): priv NULL -> -ENODEV.
* ``ipmmu_probe_finalize()`` (L848): arm32 without IOMMU_DMA builds the ARM
  mapping; nothing on arm64.
* ``device_group`` (L885): ``generic_device_group`` on arm32 (no IOMMU_DMA),
  else ``generic_single_device_group`` (one group per leaf instance).
* ``builtin_platform_driver`` (L1166): device initcall.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness import variant
from harness.base.devres import devm_kmalloc
from harness.base.platform import (
    of_find_device_by_node,
    platform_bus_type,
    platform_device,
    platform_device_put,
    platform_driver,
    platform_get_drvdata,
    platform_set_drvdata,
)
from harness.bus.pci import dev_is_pci
from harness.device import dev_get_drvdata
from harness.errno import ENODEV, EPROBE_DEFER, ERR_PTR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_fwspec_get,
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    generic_single_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_fwspec_add_ids,
)
from harness.iommu.structs import IOMMU_DOMAIN_IDENTITY, iommu_device, iommu_domain, iommu_ops
from harness.kernel import kernel, kfunc
from harness.of.device import of_device_get_match_data
from harness.of.node import of_property_present

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device, device_driver
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args


@dataclass(frozen=True)
class ipmmu_features:  # noqa: N801
    name: str
    has_cache_leaf_nodes: bool


ipmmu_features_default = ipmmu_features("default", False)  # L913
ipmmu_features_rcar_gen3 = ipmmu_features("rcar_gen3", True)  # L927
ipmmu_features_rcar_gen4 = ipmmu_features("rcar_gen4", True)  # L941

# ipmmu_of_ids[] (L955)
MATCH: dict[str, ipmmu_features] = {
    "renesas,ipmmu-vmsa": ipmmu_features_default,
    **{f"renesas,ipmmu-{soc}": ipmmu_features_rcar_gen3
       for soc in ("r8a774a1", "r8a774b1", "r8a774c0", "r8a774e1", "r8a7795", "r8a7796",
                   "r8a77961", "r8a77965", "r8a77970", "r8a77980", "r8a77990", "r8a77995")},
    "renesas,ipmmu-r8a779a0": ipmmu_features_rcar_gen4,
    "renesas,rcar-gen4-ipmmu-vmsa": ipmmu_features_rcar_gen4,
}

# drivers/soc/renesas/renesas-soc.c renesas_socs[]: SoC compatible -> family.
# soc_id is the matched compatible without "renesas,".
_FAMILY = {
    **{c: "R-Car Gen3" for c in ("r8a7795", "r8a779m0", "r8a779m1", "r8a779m8", "r8a779mb", "r8a7796",
                                 "r8a77961", "r8a779m2", "r8a779m3", "r8a77965", "r8a779m4",
                                 "r8a779m5", "r8a77970", "r8a77980", "r8a77990", "r8a779m6",
                                 "r8a77995", "r8a779m7")},
    **{c: "R-Car Gen4" for c in ("r8a779a0", "r8a779f0", "r8a779g0", "r8a779h0")},
    **{c: "RZ/G2" for c in ("r8a774a1", "r8a774b1", "r8a774c0", "r8a774e1")},
    **{c: "R-Car Gen2" for c in ("r8a7790", "r8a7791", "r8a7792", "r8a7793", "r8a7794")},
    **{c: "RZ/G1" for c in ("r8a7742", "r8a7743", "r8a7744", "r8a7745", "r8a77470")},
}
# The revision comes from the PRR register at run time; DT does not say.  The
# model assumes the last silicon revision of each SoC (H3: ES3.0).
_REVISION = {"r8a7795": "ES3.0"}

soc_needs_opt_in = ({"family": "R-Car Gen3"}, {"family": "R-Car Gen4"}, {"family": "RZ/G2"})
soc_denylist = ({"soc_id": "r8a774a1"}, {"soc_id": "r8a7795", "revision": "ES2.*"},
                {"soc_id": "r8a7796"})
devices_allowlist = ("ee100000.mmc", "ee120000.mmc", "ee140000.mmc", "ee160000.mmc")


def _soc_attrs() -> dict[str, str]:
    """The soc_device attributes renesas_soc_init() registers (from the root node)."""
    tree = kernel().globals.get("of_root")  # set by the boot before drivers are made
    root = tree.root if tree is not None else None
    for c in root.compatible if root is not None else ():
        soc = c.split(",", 1)[1] if c.startswith("renesas,") else ""
        if soc in _FAMILY:
            return {"family": _FAMILY[soc], "soc_id": soc, "revision": _REVISION.get(soc, "ES1.0")}
    return {}


def _glob_match(pattern: str, s: str) -> bool:
    return fnmatch.fnmatchcase(s, pattern)


@kfunc
def soc_device_match(matches: tuple[dict[str, str], ...]) -> bool:
    attrs = _soc_attrs()
    if not attrs:
        return False
    return any(all(k in attrs and _glob_match(v, attrs[k]) for k, v in m.items()) for m in matches)


def CONFIG_ARM() -> bool:  # noqa: N802
    """arm32 kernels run the Gen2 / RZ-G1 SoCs (Cortex-A15/A7); the Gen3+
    SoCs are arm64.  ``CONFIG_IOMMU_DMA`` is arm64-only."""
    return _soc_attrs().get("family") in ("R-Car Gen2", "RZ/G1")


class ipmmu_vmsa_device:  # noqa: N801
    def __init__(self) -> None:
        self.dev: device | None = None
        self.features: ipmmu_features | None = None
        self.root: ipmmu_vmsa_device | None = None
        self.iommu = iommu_device()
        self.mapping: Any = None
        self.utlb_ctx: dict[int, int] = {}


def to_ipmmu(dev: device) -> ipmmu_vmsa_device | None:
    return dev_iommu_priv_get(dev)


def ipmmu_is_root(mmu: ipmmu_vmsa_device) -> bool:
    return mmu.root is mmu


@kfunc
def ipmmu_device_is_allowed(dev: device) -> bool:
    # R-Car Gen3/4 and RZ/G2 use the allow list to opt-in devices.
    # For Other SoCs, this returns true anyway.
    if not soc_device_match(soc_needs_opt_in):
        return True
    # Check whether this SoC can use the IPMMU correctly or not
    if soc_device_match(soc_denylist):
        return False
    # Check whether this device is a PCI device
    if dev_is_pci(dev):
        return True
    # Check whether this device can work with the IPMMU
    return dev.init_name in devices_allowlist


@kfunc
def ipmmu_init_platform_device(dev: device, args: of_phandle_args) -> int:
    ipmmu_pdev = of_find_device_by_node(args.np)
    if ipmmu_pdev is None:
        return -ENODEV
    dev_iommu_priv_set(dev, platform_get_drvdata(ipmmu_pdev))
    platform_device_put(ipmmu_pdev)
    return 0


@kfunc
def ipmmu_of_xlate(dev: device, spec: of_phandle_args) -> int:
    if not ipmmu_device_is_allowed(dev):
        return -ENODEV
    iommu_fwspec_add_ids(dev, list(spec.args[:1]))
    # Initialize once - xlate() will call multiple times
    if to_ipmmu(dev) is not None:
        return 0
    return ipmmu_init_platform_device(dev, spec)


@kfunc
def ipmmu_probe_device(dev: device) -> iommu_device | ErrPtr:
    mmu = to_ipmmu(dev)
    # Only let through devices that have been verified in xlate()
    if mmu is None:
        return ERR_PTR(-ENODEV)
    return mmu.iommu


@kfunc
def ipmmu_init_arm_mapping(dev: device) -> int:
    mmu = to_ipmmu(dev)
    if mmu.mapping is None:
        mmu.mapping = ("arm_iommu_create_mapping", 1 << 30, 2 << 30)
    return 0  # arm_iommu_attach_device(dev, mmu->mapping)


@kfunc
def ipmmu_probe_finalize(dev: device) -> None:
    ret = 0
    if CONFIG_ARM():  # && !IS_ENABLED(CONFIG_IOMMU_DMA)
        ret = ipmmu_init_arm_mapping(dev)
    if ret:
        kernel().printk(f"{dev.init_name}: Can't create IOMMU mapping - DMA-OPS will not work")


@kfunc
def ipmmu_release_device(dev: device) -> None:
    fwspec = dev_iommu_fwspec_get(dev)
    mmu = to_ipmmu(dev)
    for utlb in fwspec.ids:
        mmu.utlb_ctx[utlb] = -1  # ipmmu_imuctr_write(mmu, utlb, 0); IPMMU_CTX_INVALID
    # arm_iommu_release_mapping(mmu->mapping)


ipmmu_ops = iommu_ops(
    "ipmmu_ops",
    probe_device=ipmmu_probe_device,
    # set per kernel build (make_driver): the FIXME at L882
    device_group=generic_single_device_group,
    of_xlate=ipmmu_of_xlate,
    release_device=ipmmu_release_device,
    probe_finalize=ipmmu_probe_finalize,
    identity_domain=iommu_domain(IOMMU_DOMAIN_IDENTITY, None),
)


def _ipmmu_driver() -> Any:
    for drv in platform_bus_type.drivers:
        if drv.name == "ipmmu-vmsa":
            return drv
    return None


@kfunc
def driver_for_each_device(drv: device_driver, data: list[Any], fn: Any) -> int:
    """Bound devices of ``drv`` (its klist, filled by ``driver_bound``)."""
    for dev in list(drv.devices if drv is not None else ()):
        error = fn(dev, data)
        if error:
            return error
    return 0


@kfunc
def __ipmmu_check_device(dev: device, rootp: list[Any]) -> int:  # noqa: N807
    mmu = dev_get_drvdata(dev)
    if ipmmu_is_root(mmu):
        rootp[0] = mmu
    return 0


@kfunc
def ipmmu_find_root() -> ipmmu_vmsa_device | None:
    root: list[Any] = [None]
    return root[0] if driver_for_each_device(_ipmmu_driver(), root, __ipmmu_check_device) == 0 \
        else None


@kfunc
def ipmmu_probe(pdev: platform_device) -> int:
    dev = pdev.dev
    mmu = devm_kmalloc(dev, ipmmu_vmsa_device)
    mmu.dev = dev
    mmu.features = of_device_get_match_data(dev, MATCH)
    feat = mmu.features
    assert feat is not None
    # dma_set_mask_and_coherent(40), registers, ns alias offset, num_ctx
    # Determine if this IPMMU instance is a root device by checking for
    # the lack of has_cache_leaf_nodes flag or renesas,ipmmu-main property.
    np = dev.of_node
    assert np is not None  # matched through its DT compatible
    if not feat.has_cache_leaf_nodes or not of_property_present(np, "renesas,ipmmu-main"):
        mmu.root = mmu
    else:
        mmu.root = ipmmu_find_root()
    # Wait until the root device has been registered for sure.
    if mmu.root is None:
        return -EPROBE_DEFER
    # Root devices have mandatory IRQs: platform_get_irq, devm_request_irq,
    # ipmmu_device_reset, reserved context

    order = variant.choice("ipmmu_probe.drvdata")
    if order == "before_register":
        # ahead of the whole block below, as the rule moves it: every
        # instance, the root included, publishes (the C's L1108 is
        # unconditional; ipmmu_find_root() reads the root's drvdata)
        platform_set_drvdata(pdev, mmu)
    # Register the IPMMU to the IOMMU subsystem in the following cases:
    # - R-Car Gen2 IPMMU (all devices registered)
    # - R-Car Gen3 IPMMU (leaf devices only - skip root IPMMU-MM device)
    if not feat.has_cache_leaf_nodes or not ipmmu_is_root(mmu):
        ret = iommu_device_sysfs_add(mmu.iommu, dev)
        if ret:
            return ret
        ret = iommu_device_register(mmu.iommu, ipmmu_ops, dev)
        if ret:
            return ret
    # We can't create the ARM mapping here as it requires the bus to have
    # an IOMMU, which only happens when bus_set_iommu() is called in
    # ipmmu_init() after the probe function returns.
    if order == "after_register":
        platform_set_drvdata(pdev, mmu)
    return 0


def make_driver() -> platform_driver:
    # .device_group = IS_ENABLED(CONFIG_ARM) && !IS_ENABLED(CONFIG_IOMMU_DMA)
    #                 ? generic_device_group : generic_single_device_group,
    # a compile-time choice: the kernel built for this board's architecture
    ipmmu_ops.device_group = generic_device_group if CONFIG_ARM() else generic_single_device_group
    return platform_driver("ipmmu-vmsa", ipmmu_probe, tuple(MATCH), suppress_bind_attrs=True)


DRIVER = IommuDriverSpec(
    name="ipmmu-vmsa",
    family="ipmmu-vmsa",
    source="drivers/iommu/ipmmu-vmsa.c",
    compatible=tuple(MATCH),
    make_driver=make_driver,
    link_order=150,  # drivers/iommu/Makefile L15
)
