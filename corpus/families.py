"""IOMMU families: which driver binds an IOMMU node, by ``compatible``.

Extracted from the ``of_match_table`` of every DT IOMMU driver under
``drivers/iommu`` in Linux 6.12 (Debian linux-source-6.12); each entry keeps
the ``file:line`` of its ``.compatible`` so a test can check the table
against a tree (:func:`check_against_tree`).  Family names are the ones the
harness's driver models use (``harness.iommu.drivers``).

Not here: IOMMUs without DT instances (Intel, AMD, s390, Hyper-V, PAMU on
PowerPC: ``fsl_pamu.c`` matches config/cache nodes, not ``#iommu-cells``
providers) and qcom_iommu's context-bank children
(``qcom,msm-iommu-v*-ns/-sec``, ``qcom_iommu.c:751``), which are not
providers themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Family:
    """One IOMMU driver and the compatibles of its ``of_match_table``."""

    name: str
    source: str  # file under the kernel tree holding the table
    table: str  # the of_device_id array
    compatibles: tuple[tuple[str, int], ...]  # (compatible, line in source)
    note: str = ""


FAMILIES: tuple[Family, ...] = (
    Family("rockchip", "drivers/iommu/rockchip-iommu.c", "rk_iommu_dt_ids", (
        ("rockchip,iommu", 1382),
        ("rockchip,rk3568-iommu", 1385),
    )),
    Family("arm-smmu", "drivers/iommu/arm/arm-smmu/arm-smmu.c", "arm_smmu_of_match", (
        ("arm,smmu-v1", 1977),
        ("arm,smmu-v2", 1978),
        ("arm,mmu-400", 1979),
        ("arm,mmu-401", 1980),
        ("arm,mmu-500", 1981),
        ("cavium,smmu-v2", 1982),
        ("nvidia,smmu-500", 1983),
        ("qcom,smmu-v2", 1984),
    ), note="SoC-specific compatibles (qcom,sdm845-smmu-500, nvidia,tegra194-smmu, "
             "marvell,ap806-smmu-500) only pick an implementation in arm-smmu-impl.c; "
             "boards list one of these generic ones after them"),
    Family("arm-smmu-v3", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c", "arm_smmu_of_match", (
        ("arm,smmu-v3", 4729),
    )),
    Family("qcom_iommu", "drivers/iommu/arm/arm-smmu/qcom_iommu.c", "qcom_iommu_of_match", (
        ("qcom,msm-iommu-v1", 930),
        ("qcom,msm-iommu-v2", 931),
    )),
    Family("mtk_iommu", "drivers/iommu/mtk_iommu.c", "mtk_iommu_of_ids", (
        ("mediatek,mt2712-m4u", 1789),
        ("mediatek,mt6779-m4u", 1790),
        ("mediatek,mt6795-m4u", 1791),
        ("mediatek,mt8167-m4u", 1792),
        ("mediatek,mt8173-m4u", 1793),
        ("mediatek,mt8183-m4u", 1794),
        ("mediatek,mt8186-iommu-mm", 1795),
        ("mediatek,mt8188-iommu-infra", 1796),
        ("mediatek,mt8188-iommu-vdo", 1797),
        ("mediatek,mt8188-iommu-vpp", 1798),
        ("mediatek,mt8192-m4u", 1799),
        ("mediatek,mt8195-iommu-infra", 1800),
        ("mediatek,mt8195-iommu-vdo", 1801),
        ("mediatek,mt8195-iommu-vpp", 1802),
        ("mediatek,mt8365-m4u", 1803),
    )),
    Family("mtk_iommu_v1", "drivers/iommu/mtk_iommu_v1.c", "mtk_iommu_v1_of_ids", (
        ("mediatek,mt2701-m4u", 595),
    )),
    Family("exynos", "drivers/iommu/exynos-iommu.c", "sysmmu_of_match", (
        ("samsung,exynos-sysmmu", 869),
    )),
    Family("ipmmu-vmsa", "drivers/iommu/ipmmu-vmsa.c", "ipmmu_of_ids", (
        ("renesas,ipmmu-vmsa", 957),
        ("renesas,ipmmu-r8a774a1", 960),
        ("renesas,ipmmu-r8a774b1", 963),
        ("renesas,ipmmu-r8a774c0", 966),
        ("renesas,ipmmu-r8a774e1", 969),
        ("renesas,ipmmu-r8a7795", 972),
        ("renesas,ipmmu-r8a7796", 975),
        ("renesas,ipmmu-r8a77961", 978),
        ("renesas,ipmmu-r8a77965", 981),
        ("renesas,ipmmu-r8a77970", 984),
        ("renesas,ipmmu-r8a77980", 987),
        ("renesas,ipmmu-r8a77990", 990),
        ("renesas,ipmmu-r8a77995", 993),
        ("renesas,ipmmu-r8a779a0", 996),
        ("renesas,rcar-gen4-ipmmu-vmsa", 999),
    )),
    # tegra-smmu is not a platform driver: the memory controller probes it
    # (mc.c tegra_mc_probe -> tegra_smmu_probe) for the SoCs whose
    # tegra_mc_soc has .smmu (tegra30/114/124/132/210); the MC node is the
    # #iommu-cells provider.
    Family("tegra-smmu", "drivers/memory/tegra/mc.c", "tegra_mc_of_match", (
        ("nvidia,tegra30-mc", 30),
        ("nvidia,tegra114-mc", 33),
        ("nvidia,tegra124-mc", 36),
        ("nvidia,tegra132-mc", 39),
        ("nvidia,tegra210-mc", 42),
    ), note="only MCs with an SMMU; tegra186+ MCs front arm-smmu (nvidia,smmu-500)"),
    Family("sun50i", "drivers/iommu/sun50i-iommu.c", "sun50i_iommu_dt", (
        ("allwinner,sun50i-h6-iommu", 1071),
        ("allwinner,sun50i-h616-iommu", 1072),
    )),
    Family("apple-dart", "drivers/iommu/apple-dart.c", "apple_dart_of_match", (
        ("apple,t8103-dart", 1346),
        ("apple,t8103-usb4-dart", 1347),
        ("apple,t8110-dart", 1348),
        ("apple,t6000-dart", 1349),
    )),
    Family("omap", "drivers/iommu/omap-iommu.c", "omap_iommu_of_match", (
        ("ti,omap2-iommu", 1280),
        ("ti,omap4-iommu", 1281),
        ("ti,dra7-iommu", 1282),
        ("ti,dra7-dsp-iommu", 1283),
    )),
    Family("msm", "drivers/iommu/msm_iommu.c", "msm_iommu_dt_match", (
        ("qcom,apq8064-iommu", 809),
    )),
    Family("sprd", "drivers/iommu/sprd-iommu.c", "sprd_iommu_of_match", (
        ("sprd,iommu-v1", 427),
    )),
    # virtio-iommu binds by virtio device ID, not by DT; the DT node (a PCI
    # device under a host bridge) only makes it a phandle target.  The lines
    # are the binding's compatible values.
    Family("virtio", "Documentation/devicetree/bindings/virtio/pci-iommu.yaml", "compatible", (
        ("virtio,pci-iommu", 30),
        ("pci1af4,1057", 31),
    ), note="matched through the binding; the driver (virtio-iommu.c) has no of_match_table"),
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}
COMPATIBLES: dict[str, str] = {c: f.name for f in FAMILIES for c, _ in f.compatibles}


def family_of(compatible: Sequence[str]) -> str | None:
    """The family of a node with this ``compatible`` list, or None.

    Like ``of_match_node()``, the node's earlier (more specific) strings win.
    """
    for c in compatible:
        fam = COMPATIBLES.get(c)
        if fam is not None:
            return fam
    return None


def check_against_tree(tree: Path, families: Iterable[Family] = FAMILIES) -> list[str]:
    """Problems with the table versus a kernel tree (empty list: all entries hold).

    Every ``compatible`` must be on its recorded line of its source file.
    """
    problems = []
    for fam in families:
        try:
            lines = (tree / fam.source).read_text(errors="replace").splitlines()
        except OSError as e:
            problems.append(f"{fam.name}: {fam.source}: {e.strerror}")
            continue
        if not any(re.search(rf"\b{re.escape(fam.table)}\b", ln) for ln in lines):
            problems.append(f"{fam.name}: {fam.source}: no {fam.table}")
        for compat, line in fam.compatibles:
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            if f'"{compat}"' not in text and f"const: {compat}" not in text:
                problems.append(f"{fam.name}: {compat!r} not at {fam.source}:{line}")
    return problems
