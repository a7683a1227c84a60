"""drivers/iommu/omap-iommu.c (TI OMAP2+/DRA7 MMUs in front of the
IPU/DSP/ISP remote processors; 6.12 line numbers, with the v6.14
``of_xlate`` the spec describes).

Facts modelled:
* ``omap_iommu_init()`` (L1742, ``subsys_initcall`` L1776): registers the
  platform driver when a matching node exists.  The MMU devices themselves
  are created later, when their ``ti,sysc`` target module probes
  (:mod:`harness.of.bus_drivers`), so each MMU binds from ``device_add``.
* ``omap_iommu_probe()`` (L1161): DT only (-ENODEV otherwise); devm
  instance, ``ti,#tlb-entries`` (32 or 8), MMIO, DRA7 DSP system config
  (``omap_iommu_dra7_get_dsp_system_cfg()`` L1122: a ``ti,dra7-dsp-iommu``
  without ``ti,syscon-mmuconfig`` -> -EINVAL; instance id cell must be 0/1),
  IRQ, then ``platform_set_drvdata()`` (L1225) -- order site
  ``omap_iommu_probe.drvdata`` -- and, only if ``omap_iommu_can_register()``
  (L1104: every MMU except the DRA7 DSP EDMA MMUs; the DSP processor-port
  MMUs are recognised by their device names ``40d01000.mmu`` and
  ``41501000.mmu``), ``iommu_device_sysfs_add()`` + ``iommu_device_register()``
  (L1233) and ``has_iommu_driver = true``.  Then
  ``bus_iommu_probe(&platform_bus_type)`` (L1246, "Re-probe bus to probe
  device attached to this IOMMU"): a second walk of the platform bus.
* ``omap_iommu_of_xlate()`` (v6.14 L1725): does nothing and returns 0, so
  ``of_iommu_configure()`` leaves the client with a fwspec naming the first
  MMU of its ``iommus`` (6.12 has no ``of_xlate`` at all: ``of_iommu_xlate()``
  returns -ENODEV and OMAP clients never get an IOMMU).
* ``omap_iommu_probe_device()`` (L1646): re-parses ``iommus`` itself
  (``of_property_count_elems_of_size(..., sizeof(phandle))``, #iommu-cells is
  0): for every phandle the MMU's platform device (none -> -ENODEV) and its
  drvdata (NULL -> -EINVAL, which aborts a registration walk);
  ``kcalloc`` a NULL-terminated ``omap_iommu_arch_data`` array, set it as
  priv (a previous one is overwritten, not freed) and return the first
  MMU's ``iommu_device``.
* ``omap_iommu_release_device()`` (L1715): ``kfree(arch_data)``.
* ``device_group = generic_single_device_group``: one group per (first)
  MMU.
"""

from __future__ import annotations

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
from harness.errno import EINVAL, ENODEV, ERR_PTR
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    bus_iommu_probe,
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
from harness.kernel import kernel, kfunc
from harness.of.node import device_node, of_device_is_compatible

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.of.node import of_phandle_args

COMPATIBLE = ("ti,omap2-iommu", "ti,omap4-iommu", "ti,dra7-iommu", "ti,dra7-dsp-iommu")

omap_iommu_identity_domain = iommu_domain(IOMMU_DOMAIN_IDENTITY, None)


class omap_iommu:  # noqa: N801
    """``struct omap_iommu``: drvdata of the MMU platform device."""

    def __init__(self) -> None:
        self.name = ""
        self.dev: device | None = None
        self.nr_tlb_entries = 32
        self.id = 0
        self.has_iommu_driver = False
        self.iommu = iommu_device()


class omap_iommu_arch_data:  # noqa: N801
    """One entry of the per-client, NULL-terminated arch data array."""

    __slots__ = ("iommu_dev",)

    def __init__(self) -> None:
        self.iommu_dev: omap_iommu | None = None


@kfunc
def omap_iommu_domain_alloc_paging(dev: device) -> iommu_domain | ErrPtr | None:
    return iommu_domain(IOMMU_DOMAIN_DMA, omap_iommu_ops)


def _iommus_cells(np: device_node) -> list[Any]:
    """The "iommus" property as u32 cells: target nodes for phandles, ints for args."""
    cells: list[Any] = []
    for r in np.desc.iommus:
        cells.append(r.iommu)
        cells.extend(r.args)
    return cells


def of_parse_phandle(np: device_node, index: int) -> device_node | None:
    """``of_parse_phandle(np, "iommus", index)``: cell ``index`` as a phandle."""
    tree = kernel().globals["of_root"]
    cells = _iommus_cells(np)
    if index >= len(cells):
        return None
    c = cells[index]
    if isinstance(c, str):
        return tree.find(c)
    for node in tree.by_path.values():
        if node.desc.phandle == c:
            return node
    return None


@kfunc
def omap_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    # Allocate the per-device iommu structure for DT-based devices.
    if dev.of_node is None:
        return ERR_PTR(-ENODEV)
    # retrieve the count of IOMMU nodes using phandle size as element size
    # since #iommu-cells = 0 for OMAP
    if not dev.of_node.desc.iommus:
        return ERR_PTR(-ENODEV)  # of_property_count_elems_of_size() < 0
    num_iommus = len(_iommus_cells(dev.of_node))
    arch_data = [omap_iommu_arch_data() for _ in range(num_iommus + 1)]  # kcalloc
    for i in range(num_iommus):
        np = of_parse_phandle(dev.of_node, i)
        if np is None:
            return ERR_PTR(-EINVAL)
        pdev = of_find_device_by_node(np)
        if pdev is None:
            return ERR_PTR(-ENODEV)
        oiommu = platform_get_drvdata(pdev)
        platform_device_put(pdev)
        if oiommu is None:
            return ERR_PTR(-EINVAL)
        arch_data[i].iommu_dev = oiommu
    dev_iommu_priv_set(dev, arch_data)
    # use the first IOMMU alone for the sysfs device linking.
    oiommu = arch_data[0].iommu_dev
    return oiommu.iommu


@kfunc
def omap_iommu_release_device(dev: device) -> None:
    arch_data = dev_iommu_priv_get(dev)
    if dev.of_node is None or arch_data is None:
        return
    # kfree(arch_data)


@kfunc
def omap_iommu_of_xlate(dev: device, args: of_phandle_args) -> int:
    # v6.14: "TODO: collect args->np to save re-parsing in probe above"
    return 0


omap_iommu_ops = iommu_ops(
    "omap_iommu_ops",
    probe_device=omap_iommu_probe_device,
    device_group=generic_single_device_group,
    of_xlate=omap_iommu_of_xlate,
    release_device=omap_iommu_release_device,
    domain_alloc_paging=omap_iommu_domain_alloc_paging,
    identity_domain=omap_iommu_identity_domain,
)


def omap_iommu_can_register(pdev: platform_device) -> bool:
    np: Any = pdev.dev.of_node
    if not of_device_is_compatible(np, "ti,dra7-dsp-iommu"):
        return True
    # restrict IOMMU core registration only for processor-port MDMA MMUs on DRA7 DSPs
    return pdev.dev.init_name in ("40d01000.mmu", "41501000.mmu")


def omap_iommu_dra7_get_dsp_system_cfg(pdev: platform_device, obj: omap_iommu) -> int:
    np: Any = pdev.dev.of_node
    if not of_device_is_compatible(np, "ti,dra7-dsp-iommu"):
        return 0
    cfg = np.desc.props.get("ti,syscon-mmuconfig")
    if cfg is None:
        kernel().printk(f"omap-iommu {pdev.dev.init_name}: ti,syscon-mmuconfig property is missing")
        return -EINVAL
    # syscon_regmap_lookup_by_phandle(): the syscon exists in the model
    if not isinstance(cfg, list) or len(cfg) < 2:
        return -EINVAL
    obj.id = cfg[1]
    if obj.id not in (0, 1):
        return -EINVAL
    return 0


@kfunc
def omap_iommu_probe(pdev: platform_device) -> int:
    of = pdev.dev.of_node
    if of is None:
        return -ENODEV
    obj = devm_kmalloc(pdev.dev, omap_iommu)
    obj.name = pdev.dev.init_name
    obj.dev = pdev.dev
    # ti,#tlb-entries is 32 unless the node says 8: the model's nodes don't say
    err = omap_iommu_dra7_get_dsp_system_cfg(pdev, obj)
    if err:
        return err
    # platform_get_irq(), devm_request_irq(): succeed
    order = variant.choice("omap_iommu_probe.drvdata")
    if order == "before_register":
        platform_set_drvdata(pdev, obj)
    if omap_iommu_can_register(pdev):
        err = iommu_device_sysfs_add(obj.iommu, obj.dev)
        if err:
            return err
        err = iommu_device_register(obj.iommu, omap_iommu_ops, pdev.dev)
        if err:
            return err
        if order == "after_register":
            platform_set_drvdata(pdev, obj)
        obj.has_iommu_driver = True
    # pm_runtime_enable(), omap_iommu_debugfs_add()
    kernel().printk(f"omap-iommu {pdev.dev.init_name}: {obj.name} registered")
    # Re-probe bus to probe device attached to this IOMMU
    bus_iommu_probe(platform_bus_type)
    return 0


def make_driver() -> platform_driver:
    return platform_driver("omap-iommu", omap_iommu_probe, COMPATIBLE)


DRIVER = IommuDriverSpec(
    name="omap-iommu",
    family="omap",
    source="drivers/iommu/omap-iommu.c",
    compatible=COMPATIBLE,
    make_driver=make_driver,
    link_order=190,  # drivers/iommu/Makefile L19
    initcall="subsys",  # subsys_initcall(omap_iommu_init)
)
