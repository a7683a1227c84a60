"""Helpers for the arm-smmu/qcom_iommu board tests: boot a board and read
groups, and the hand-written legacy-binding variant of a real board."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from harness.board import Board, Node
from harness.boot import Boot, BootConfig
from harness.findings import Finding
from harness.kernel import set_kernel
from harness.variant import Variant


@dataclass
class Booted:
    """What a board test reads after one boot."""

    findings: list[Finding]
    panicked: bool
    groups: dict[str, Any]  # device name -> iommu_group (None: not grouped)
    devices: dict[str, Any]  # device name -> device
    registered: list[Any]  # iommu_device_list in registration order
    log: list[str]


def boot(platform: Board, v: Variant, cfg: BootConfig | None = None) -> Booted:
    from harness.iommu.iommu import core
    from harness.oracles import final_checks

    b = Boot(platform, v, cfg or BootConfig())
    try:
        k = b.run()
        devs = b.devices()
        if not k.panicked:
            final_checks(devs)
        return Booted(list(k.findings), k.panicked, {d.init_name: d.iommu_group for d in devs},
                      {d.init_name: d for d in devs}, list(core().iommu_device_list), list(k.log))
    finally:
        set_kernel(None)


def clients_of(platform: Board, iommu_path: str) -> list[Node]:
    """Available nodes whose "iommus" name ``iommu_path``."""
    return [n for n in platform.nodes if n.available()
            and any(r.iommu == iommu_path for r in n.iommus)]


def legacy_mmu_masters(platform: Board) -> Board:
    """A documented hand-written variant of a real board with the legacy
    arm-smmu binding (no 6.12 arm/arm64 DT uses it any more): every
    ``iommus = <&smmu ID...>`` of an arm-smmu instance becomes an entry of
    that SMMU's ``mmu-masters = <&master ID...>``, the master gets
    ``#stream-id-cells`` (the instance's ``#iommu-cells``), loses its
    ``iommus``, and the SMMU loses ``#iommu-cells`` (bindings/iommu/arm,smmu.yaml,
    "mmu-masters" deprecated).  Masters without a phandle get a fresh one.
    """
    from harness.iommu.drivers.arm_smmu import ARM_SMMU_OF_MATCH

    p = copy.deepcopy(platform)
    p.name = platform.name + "-legacy-mmu-masters"
    p.provenance = dict(p.provenance, variant="legacy mmu-masters (hand-written)")
    used = {n.phandle for n in p.nodes if n.phandle is not None}
    next_ph = max(used, default=0) + 1
    by_path = {n.path: n for n in p.nodes}
    for smmu in p.nodes:
        if smmu.iommu_cells is None or not any(c in ARM_SMMU_OF_MATCH for c in smmu.compatible):
            continue
        # legacy masters list bare stream IDs: only 1-cell specifiers convert
        assert smmu.iommu_cells == 1, f"{smmu.path}: #iommu-cells = {smmu.iommu_cells}"
        cells: list[int] = []
        for m in p.nodes:
            refs = [r for r in m.iommus if r.iommu == smmu.path]
            if not refs:
                continue
            if m.phandle is None:
                m.phandle = next_ph
                next_ph += 1
            # one "mmu-masters" entry per master: <&master id0 id1 ...>
            cells.append(m.phandle)
            for r in refs:
                cells.extend(r.args)
            m.props["#stream-id-cells"] = [len(refs) * smmu.iommu_cells]
            m.iommus = tuple(r for r in m.iommus if r.iommu != smmu.path)
        smmu.props["mmu-masters"] = cells
        smmu.iommu_cells = None
        by_path[smmu.path] = smmu
    return p
