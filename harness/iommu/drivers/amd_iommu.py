"""drivers/iommu/amd/{init,iommu}.c: AMD-Vi, NULL-fwnode instances described
by the ACPI IVRS table (6.12 line numbers; v6.14 is the same on the probe
path).

Facts modelled:
* ``amd_iommu_detect`` (init.c L3545) installs
  ``x86_init.iommu.iommu_init = amd_iommu_init`` (L3561) when an IVRS table
  exists (and ``pci_request_acs()``, L3254); ``pci_iommu_init``
  (arch/x86/kernel/pci-dma.c L176, ``rootfs_initcall`` L193) calls it, after
  ``acpi_init`` (subsys_initcall) enumerated the PCI and ACPI devices.
* ``amd_iommu_init`` (L3497) -> ``iommu_go_to_state(IOMMU_INITIALIZED)``:
  the IVRS parse (``init_iommu_from_acpi``, L1311) fills each PCI segment's
  ``rlookup_table`` (devid -> IOMMU) from the IVHD device entries -- ALL
  (every devid up to ``last_bdf``, L1355), SELECT (L1362), ranges (L1374),
  ACPI HID entries into ``acpihid_map`` (L1506, ``add_acpi_hid_device``
  L1237); ``last_bdf`` is the highest devid the segment's IVHDs name, 0xffff
  with an ALL entry (``find_last_devid_from_ivhd`` L576-588).
* ``amd_iommu_init_pci`` (L2184) -> for each IOMMU in IVHD order
  ``iommu_init_pci`` (L2033): the IOMMU's own PCI function must exist
  (``pci_get_domain_bus_and_slot``, else -ENODEV, L2037-2042), its
  ``match_driver`` is cleared (L2045: no other PCI driver binds it),
  ``iommu_device_sysfs_add`` with it as parent, then
  ``iommu_device_register(&iommu->iommu, &amd_iommu_ops, NULL)`` (L2143):
  a NULL fwnode, so devices without a fwspec resolve to the first
  registered AMD IOMMU's ops.
* ``check_device`` (iommu.c L650): ``get_device_sbdf_id`` (PCI: segment
  and requester ID; else the ``acpihid_map`` devid of the ACPI companion,
  -EINVAL when no entry matches), ``rlookup_amd_iommu`` (L339), devid
  beyond the segment's ``last_bdf`` -> false.
* ``amd_iommu_probe_device`` (L2439): ``check_device`` false -> -ENODEV;
  the rlookup IOMMU's ``iommu.ops`` still NULL ("Not registered yet?",
  L2453-2455) -> -ENODEV; priv already set -> that IOMMU (re-entry
  tolerated); else ``iommu_init_device`` (L676): ``find_dev_data`` by devid
  (per-IOMMU list, kept across release), ``dev_iommu_priv_set``.
* ``amd_iommu_release_device`` (L2491): ``amd_iommu_uninit_device`` keeps
  the dev_data for re-plug.
* ``amd_iommu_device_group`` (L2506): PCI -> ``pci_device_group``, else
  ``acpihid_device_group`` (L485): ACPI HID devices sharing a devid share a
  group, cached in the ``acpihid_map`` entry.

Failure of ``amd_iommu_init_pci`` (a later IOMMU's PCI function missing):
``state_next`` (L3398-3411) has two branches; the model follows the one
with interrupt remapping enabled (x2APIC systems): device tables
uninitialised, caches flushed, nothing freed, the IOMMUs registered before
the failing one stay registered.  Without interrupt remapping the C
``free_iommu_resources()`` (L2956) kfree()s every ``amd_iommu`` -- whose
embedded ``iommu_device`` the earlier registrations left on
``iommu_device_list`` -- and the rlookup tables [INFERENCE: a use-after-free
window]; that branch is not modelled.

Not modelled: IVRS aliases (``setup_aliases``/``clone_aliases``), the
special IOAPIC/HPET entries, the exclusion ranges, IOMMUv2/PPR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.board import AcpiIommu
from harness.bus.pci import dev_is_pci, pci_bus_type, pci_device_group, to_pci_dev
from harness.errno import EINVAL, ENODEV, ERR_PTR
from harness.iommu import fw_refs
from harness.iommu.drivers import IommuDriverSpec
from harness.iommu.iommu import (
    dev_iommu_priv_get,
    dev_iommu_priv_set,
    generic_device_group,
    iommu_device_register,
    iommu_device_sysfs_add,
    iommu_group_ref_get,
)
from harness.iommu.structs import iommu_device, iommu_ops
from harness.kernel import kernel, kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.errno import ErrPtr
    from harness.iommu.structs import iommu_group

DRIVER_NAME = "amd-iommu"


class amd_iommu_pci_seg:  # noqa: N801
    def __init__(self, id_: int) -> None:
        self.id = id_
        self.last_bdf = 0
        # rlookup_table[] as the devid ranges written into it, in write order
        # (a later write wins); an ALL entry is one 0..last_bdf range
        self.rlookup_writes: list[tuple[int, int, amd_iommu]] = []

    def set_rlookup(self, first: int, last: int, iommu: amd_iommu) -> None:
        self.rlookup_writes.append((first, last, iommu))

    def rlookup(self, devid: int) -> amd_iommu | None:
        for first, last, iommu in reversed(self.rlookup_writes):
            if first <= devid <= last:
                return iommu
        return None


class amd_iommu:  # noqa: N801
    """``struct amd_iommu``: one IVHD."""

    def __init__(self, desc: AcpiIommu, index: int, pci_seg: amd_iommu_pci_seg) -> None:
        self.desc = desc
        self.index = index
        self.devid = desc.rid
        self.pci_seg = pci_seg
        self.dev: Any = None  # its PCI function (a struct pci_dev)
        self.dev_data_list: dict[int, iommu_dev_data] = {}
        self.iommu = iommu_device()


class iommu_dev_data:  # noqa: N801
    def __init__(self, devid: int) -> None:
        self.devid = devid
        self.dev: device | None = None


class acpihid_map_entry:  # noqa: N801
    def __init__(self, name: str, devid: int) -> None:
        self.name = name  # hid + uid: the model's ACPI device name
        self.devid = devid  # PCI_SEG_DEVID_TO_SBDF(seg, devid)
        self.group: iommu_group | None = None


class AmdState:
    """init.c / iommu.c statics: ``amd_iommu_list``, segments, ``acpihid_map``."""

    def __init__(self) -> None:
        self.amd_iommu_list: list[amd_iommu] = []
        self.pci_segments: dict[int, amd_iommu_pci_seg] = {}
        self.acpihid_map: list[acpihid_map_entry] = []


def g() -> AmdState:
    return kernel().state(AmdState)


def _sbdf(seg: int, devid: int) -> int:
    return (seg << 16) | devid


# -- device lookups --------------------------------------------------------------------


@kfunc
def get_acpihid_device_id(dev: device) -> tuple[int, acpihid_map_entry | None]:
    fw = dev.fwnode
    if fw is None or fw.kind != "acpi":  # ACPI_COMPANION(dev) == NULL
        return -ENODEV, None
    for p in g().acpihid_map:
        if p.name == fw.name:  # acpi_dev_hid_uid_match()
            return p.devid, p
    return -EINVAL, None


def get_device_sbdf_id(dev: device) -> int:
    if dev_is_pci(dev):
        pdev = to_pci_dev(dev)
        return _sbdf(pdev.segment, pdev.rid)
    return get_acpihid_device_id(dev)[0]


@kfunc
def rlookup_amd_iommu(dev: device) -> amd_iommu | None:
    sbdf = get_device_sbdf_id(dev)
    seg = (sbdf >> 16) & 0xFFFF if sbdf >= 0 else 0
    pci_seg = g().pci_segments.get(seg)
    if pci_seg is None or sbdf < 0:
        return None
    return pci_seg.rlookup(sbdf & 0xFFFF)


@kfunc
def check_device(dev: device) -> bool:
    if dev is None:
        return False
    sbdf = get_device_sbdf_id(dev)
    if sbdf < 0:
        return False
    devid = sbdf & 0xFFFF
    iommu = rlookup_amd_iommu(dev)
    if iommu is None:
        return False
    # Out of our scope?
    return devid <= iommu.pci_seg.last_bdf


@kfunc
def find_dev_data(iommu: amd_iommu, devid: int) -> iommu_dev_data:
    dev_data = iommu.dev_data_list.get(devid)
    if dev_data is None:
        dev_data = iommu.dev_data_list[devid] = iommu_dev_data(devid)
    return dev_data


@kfunc
def amd_iommu_init_device(iommu: amd_iommu, dev: device) -> int:
    """iommu.c L676 ``iommu_init_device`` (static; renamed here so it is not
    confused with the core's function of the same name)."""
    if dev_iommu_priv_get(dev) is not None:
        return 0
    sbdf = get_device_sbdf_id(dev)
    if sbdf < 0:
        return sbdf
    dev_data = find_dev_data(iommu, sbdf & 0xFFFF)
    dev_data.dev = dev
    # The dev_iommu_priv_set() needs to be called before setup_aliases.
    dev_iommu_priv_set(dev, dev_data)
    return 0


# -- iommu_ops -------------------------------------------------------------------------


@kfunc
def amd_iommu_probe_device(dev: device) -> iommu_device | ErrPtr:
    if not check_device(dev):
        return ERR_PTR(-ENODEV)
    iommu = rlookup_amd_iommu(dev)
    if iommu is None:
        return ERR_PTR(-ENODEV)
    # Not registered yet?
    if iommu.iommu.ops is None:
        return ERR_PTR(-ENODEV)
    if dev_iommu_priv_get(dev) is not None:
        return iommu.iommu
    ret = amd_iommu_init_device(iommu, dev)
    if ret:
        kernel().printk(f"{dev.init_name}: Failed to initialize - trying to proceed anyway")
        return ERR_PTR(ret)
    return iommu.iommu


@kfunc
def amd_iommu_release_device(dev: device) -> None:
    if not check_device(dev):
        return
    if rlookup_amd_iommu(dev) is None:
        return
    # amd_iommu_uninit_device(): "We keep dev_data around for unplugged devices"


@kfunc
def acpihid_device_group(dev: device) -> iommu_group | ErrPtr | None:
    devid, entry = get_acpihid_device_id(dev)
    if devid < 0 or entry is None:
        return ERR_PTR(devid)
    for p in g().acpihid_map:
        if devid == p.devid and p.group is not None:
            entry.group = p.group
    if entry.group is None:
        entry.group = generic_device_group(dev)
    else:
        iommu_group_ref_get(entry.group)
    return entry.group


@kfunc
def amd_iommu_device_group(dev: device) -> iommu_group | ErrPtr | None:
    if dev_is_pci(dev):
        return pci_device_group(dev)
    return acpihid_device_group(dev)


amd_iommu_ops = iommu_ops(
    "amd_iommu_ops",
    probe_device=amd_iommu_probe_device,
    device_group=amd_iommu_device_group,
    release_device=amd_iommu_release_device,
)


# -- init ---------------------------------------------------------------------------------


def _ivhd_ranges(a: AcpiIommu) -> list[tuple[int, int]]:
    """Devid ranges the IVHD's SELECT/range entries name (``owns`` names are
    ACPI HID entries without a devid of their own: they use the IOMMU's)."""
    out: list[tuple[int, int]] = []
    for e in a.scope:
        if e.acpi is not None:
            continue
        if e.pci_range is not None:
            out.append(e.pci_range)
        elif e.pci is not None:
            out.append((e.pci, e.pci))
            if e.bridge is not None:  # a range over the bridge's buses
                out.append((e.bridge[0] << 8, (e.bridge[1] << 8) | 0xFF))
    return out


def find_last_devid_from_ivhd(a: AcpiIommu) -> int:
    if a.include_all:
        # Use maximum BDF value for DEV_ALL
        return 0xFFFF
    last = 0
    for e in a.scope:
        if e.pci_range is not None:
            last = max(last, e.pci_range[1])  # IVHD_DEV_RANGE_END
        elif e.pci is not None:
            last = max(last, (e.bridge[1] << 8) | 0xFF if e.bridge is not None else e.pci)
    return last


@kfunc
def early_amd_iommu_init() -> int:
    """The IVRS parse: segments, IOMMUs, rlookup tables, acpihid_map."""
    units = [a for a in kernel().globals.get("acpi_iommus", []) if a.driver == DRIVER_NAME]
    if not units:
        return -ENODEV
    s = g()
    for a in units:  # find_last_devid_acpi(): per segment
        seg = s.pci_segments.setdefault(a.segment, amd_iommu_pci_seg(a.segment))
        seg.last_bdf = max(seg.last_bdf, find_last_devid_from_ivhd(a))
    for index, a in enumerate(units):
        pci_seg = s.pci_segments[a.segment]
        iommu = amd_iommu(a, index, pci_seg)
        s.amd_iommu_list.append(iommu)
        # init_iommu_from_acpi(): set_dev_entry_from_acpi() + rlookup
        ranges = [(0, pci_seg.last_bdf)] if a.include_all else _ivhd_ranges(a)
        for first, last in ranges:
            pci_seg.set_rlookup(first, last, iommu)
        for e in a.scope:
            if e.acpi is not None:
                devid = e.pci if e.pci is not None else (a.rid or 0)
                s.acpihid_map.append(acpihid_map_entry(e.acpi, _sbdf(a.segment, devid)))
                pci_seg.set_rlookup(devid, devid, iommu)
        for name in a.owns:
            s.acpihid_map.append(acpihid_map_entry(name, _sbdf(a.segment, a.rid or 0)))
            pci_seg.set_rlookup(a.rid or 0, a.rid or 0, iommu)
    return 0


@kfunc
def iommu_init_pci(iommu: amd_iommu) -> int:
    pdev = None
    for d in pci_bus_type.devices:
        p = to_pci_dev(d)
        if iommu.devid is not None and p.segment == iommu.pci_seg.id and p.rid == iommu.devid:
            pdev = p
    if pdev is None:
        return -ENODEV
    iommu.dev = pdev
    # Prevent binding other PCI device drivers to IOMMU devices
    pdev.match_driver = False
    ret = iommu_device_sysfs_add(iommu.iommu, pdev.dev)
    if ret:
        return ret
    iommu_device_register(iommu.iommu, amd_iommu_ops, None)
    return 0  # pci_enable_device()


@kfunc
def amd_iommu_init_pci() -> int:
    for iommu in g().amd_iommu_list:
        ret = iommu_init_pci(iommu)
        if ret:
            kernel().printk(f"AMD-Vi: IOMMU{iommu.index}: Failed to initialize IOMMU Hardware "
                            f"(error={ret})!")
            return ret
    return 0


def amd_fw_claim(dev: device) -> list[iommu_device]:
    """For the oracles: the registered IOMMU the IVRS tables give ``dev`` to."""
    if not check_device(dev):
        return []
    iommu = rlookup_amd_iommu(dev)
    if iommu is None or not iommu.iommu.listed:
        return []
    return [iommu.iommu]


@kfunc
def amd_iommu_init() -> int:
    # iommu_go_to_state(IOMMU_INITIALIZED)
    ret = early_amd_iommu_init()
    if ret:
        return ret
    fw_refs.register_fw_claim(amd_fw_claim)
    return amd_iommu_init_pci()


DRIVER = IommuDriverSpec(
    name=DRIVER_NAME,
    family="amd",
    source="drivers/iommu/amd/iommu.c",
    compatible=(),
    link_order=20,  # drivers/iommu/Makefile L2: amd/ intel/ arm/ iommufd/
    initcall="rootfs",  # pci_iommu_init (arch/x86/kernel/pci-dma.c L193)
    init=amd_iommu_init,
)
