"""The model's side of a validation: the same DTB, the same PCI functions.

QEMU's DTB describes the host bridge, not the functions behind it (the
kernel enumerates those), except a virtio-iommu, which QEMU describes as a
child node of the host bridge so that ``iommu-map`` can point at it.  The
model gets the functions the QEMU command line creates as ``bus="pci"``
extra devices behind the host bridge node (``corpus.pci_dt`` adds the
DT-described ones, with their node's compatible): the host bridge itself at
00:00.0 and each ``-device`` at its fixed slot, named ``pciVVVV,DDDD``.

Drivers: the model gives every compatible a generic client driver unless the
boot configuration says it is absent.  The validation kernel has none for
QEMU's host bridge (1b36:0008), ``pci-testdev``, and for DT platform nodes
whose compatibles appear nowhere in the built ``Image`` (an ``of_device_id``
table keeps its strings in .rodata: ``gpio-keys``, ``cfi-flash``,
``arm,armv8-pmuv3`` ... are absent in the small config).  AMBA primecells
match by peripheral ID, not compatible, and keep their generic driver.

Facts of the tree under test the model otherwise takes from v6.14
(:func:`tree_facts`): how ``arm_smmu_get_by_fwnode()`` finds the SMMU
(6.12: among the devices *bound* to the driver, so not during the SMMU's own
probe), read from the C of the commit that is booted.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.dt import load_platform_file
from corpus.pci_dt import with_dt_pci_functions
from fuzz.validate.qemu import Machine
from harness import oracles
from harness.board import Board, BoardError, ExtraDevice
from harness.boot import ABSENT, Boot, BootConfig, DriverConfig
from harness.findings import Finding
from harness.iommu.drivers import arm_smmu_v3
from harness.kernel import set_kernel
from harness.variant import Variant


@dataclass
class ModelRun:
    """What the model concluded: its findings, groups (id -> member device
    names, kernel device names), bound drivers, whether it panicked."""

    findings: list[Finding]
    groups: dict[int, list[str]] = field(default_factory=dict)
    drivers: dict[str, str | None] = field(default_factory=dict)
    panicked: bool = False

    def group_of(self, dev: str) -> list[str] | None:
        for members in self.groups.values():
            if dev in members:
                return sorted(members)
        return None


def _host_bridge(p: Board) -> str:
    hosts = [n for n in p.nodes if n.props.get("device_type") in ("pci", "pciex")
             and n.available()]
    if len(hosts) != 1:
        raise BoardError(f"{p.name}: expected one PCI host bridge in the DTB, found {len(hosts)}")
    return hosts[0].path


def model_platform(dtb: Path, m: Machine) -> Board:
    """The DTB's platform plus ``m``'s PCI functions as extra devices."""
    p = with_dt_pci_functions(load_platform_file(dtb))
    host = _host_bridge(p)
    extra = list(p.extra_devices)
    have = {e.name for e in extra}
    for f in m.all_functions():
        if f.name not in have:
            extra.append(ExtraDevice(name=f.name, bus="pci", parent=host, rid=f.rid,
                                     compatible=(f.compatible,)))
    # pci_scan_child_bus(): functions are added in devfn order
    extra.sort(key=lambda e: (e.bus != "pci", e.rid or 0))
    return dataclasses.replace(p, extra_devices=extra)


def _in_image(image: bytes, compat: str) -> bool:
    return b"\0" + compat.encode() + b"\0" in image


def boot_config(p: Board, m: Machine, image: bytes | None) -> BootConfig:
    """Driver presence as the validation kernel has it (module doc)."""
    drivers: dict[str, DriverConfig] = {}
    for f in m.all_functions():
        if not f.driver:
            drivers[f.compatible] = DriverConfig(presence=ABSENT)
    if image is not None:
        for n in p.nodes:
            if not n.compatible or "arm,primecell" in n.compatible or n.iommu_cells is not None:
                continue
            if not any(_in_image(image, c) for c in n.compatible):
                drivers.setdefault(n.compatible[0], DriverConfig(presence=ABSENT))
    return BootConfig(drivers=drivers)


SMMU_V3_SOURCE = "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c"
_GET_BY_FWNODE = re.compile(r"arm_smmu_get_by_fwnode\(struct fwnode_handle \*fwnode\)\s*\{(.*?)\n\}",
                            re.S)


def tree_facts(smmu_v3_c: str | None) -> dict[str, str]:
    """Kernel globals for the model from the tree's C (``arm-smmu-v3.c``):
    ``arm_smmu_v3.LOOKUP`` is ``LOOKUP_DRIVER`` when ``arm_smmu_get_by_fwnode``
    calls ``driver_find_device_by_fwnode`` (6.12), else the v6.14 default."""
    facts: dict[str, str] = {}
    m = _GET_BY_FWNODE.search(smmu_v3_c or "")
    if m and "driver_find_device_by_fwnode" in m.group(1):
        facts[arm_smmu_v3.LOOKUP] = arm_smmu_v3.LOOKUP_DRIVER
    return facts


def run_model(p: Board, v: Variant, cfg: BootConfig,
              facts: dict[str, str] | None = None) -> ModelRun:
    """Boot ``p`` under ``v`` with the default (synchronous) schedule;
    ``facts`` are kernel globals of the tree under test (:func:`tree_facts`)."""
    b = Boot(p, v, cfg)
    b.kernel.globals.update(facts or {})
    try:
        k = b.run()
        devices = b.devices()
        if not k.panicked:
            oracles.final_checks(devices)
        groups: dict[int, list[str]] = {}
        drivers: dict[str, str | None] = {}
        for d in devices:
            name = d.init_name
            drivers[name] = d.driver.name if d.driver is not None else None
            g: Any = d.iommu_group
            if g is not None:
                groups.setdefault(g.id, []).append(name)
        return ModelRun(list(k.findings), groups, drivers, bool(k.panicked))
    finally:
        set_kernel(None)
