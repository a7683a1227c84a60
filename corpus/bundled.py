"""The bundled corpus: real boards' platforms shipped in ``corpus/boards/``.

Used when no kernel tree is around (``make demo``, tests, first runs).  One
board per IOMMU family that has boards in Linux 6.12 (``virtio`` and
``sprd`` have none), each chosen with its IOMMU enabled and clients behind
it; rk3568-odroid-m1 is the board of the reported regression.  Every file
carries its provenance (tree version, source path, DTB hash).

Regenerate with ``probefuzz corpus bundle --tree DIR``.  One board does not
come from the tree: QEMU's ``virt`` machine with an SMMUv3 and PCI functions
(:mod:`corpus.qemu_virt`, regenerated with ``python -m corpus.qemu_virt``).
"""

from __future__ import annotations

from pathlib import Path

from corpus.build import board_summary
from corpus.dt import load_platform_file
from corpus.errors import DtError
from harness.board import Board, load_board

BOARDS_DIR = Path(__file__).parent / "boards"

# (family it stands for, arch, path below arch/<arch>/boot/dts)
BUNDLED: tuple[tuple[str, str, str], ...] = (
    ("rockchip", "arm64", "rockchip/rk3568-odroid-m1.dts"),  # the RK3568 oops report
    ("arm-smmu", "arm64", "qcom/sdm845-db845c.dts"),  # SMMU-500, 31 live clients
    ("arm-smmu-v3", "arm64", "arm/fvp-base-revc.dts"),  # PCI iommu-map
    ("qcom_iommu", "arm64", "qcom/apq8016-sbc.dts"),
    ("mtk_iommu", "arm64", "mediatek/mt8183-evb.dts"),  # larbs
    ("exynos", "arm64", "exynos/exynos5433-tm2e.dts"),
    ("ipmmu-vmsa", "arm64", "renesas/r8a77951-salvator-xs.dts"),
    ("tegra-smmu", "arm64", "nvidia/tegra210-p3450-0000.dts"),  # Jetson Nano
    ("sun50i", "arm64", "allwinner/sun50i-h6-orangepi-3.dts"),
    ("apple-dart", "arm64", "apple/t8103-j274.dts"),  # Mac mini M1
    ("omap", "arm", "ti/omap/omap4-panda-es.dts"),
    ("msm", "arm", "qcom/qcom-apq8064-ifc6410.dts"),
    ("mtk_iommu_v1", "arm", "mediatek/mt2701-evb.dts"),
)


# boards built by other means than the tree (their provenance says how)
BUNDLED_OTHER: tuple[str, ...] = ("qemu-virt-smmuv3",)  # corpus/qemu_virt.py


def bundled_names() -> list[str]:
    """Names of the bundled boards (file stems), in :data:`BUNDLED` order,
    then :data:`BUNDLED_OTHER`."""
    return [Path(rel).stem for _, _, rel in BUNDLED] + list(BUNDLED_OTHER)


def bundled_path(name: str) -> Path:
    """The JSON file of a bundled board."""
    return BOARDS_DIR / f"{name}.json"


def load_bundled(name: str) -> Board:
    """Load one bundled board by name (``rk3568-odroid-m1``)."""
    return load_board(bundled_path(name))


def regenerate(tree: Path, out: Path = BOARDS_DIR) -> list[tuple[str, list[str]]]:
    """Rebuild every bundled board from ``tree`` into ``out``.

    Returns ``(name, families)`` per board.  Raises :class:`DtError` if a
    board no longer has a live instance of the family it stands for.
    """
    written = []
    for family, arch, rel in BUNDLED:
        src = Path(tree) / "arch" / arch / "boot" / "dts" / rel
        plat = load_platform_file(src, tree=Path(tree))
        fams = board_summary(plat)["families"]
        live = fams.get(family, {})
        if not (live.get("enabled_instances") and live.get("enabled_clients")):
            raise DtError(f"{src}: no enabled {family} IOMMU with clients; pick another board")
        plat.save(Path(out) / f"{plat.name}.json")
        written.append((plat.name, sorted(fams)))
    return written
