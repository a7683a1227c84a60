"""Benchmark boot-scenario executions on one board per IOMMU driver family.

Companion of ``bench/bench_boot.py`` (which times the seed board): every
family in ``BOARDS`` has one platform -- a real board compiled once from the
kernel tree through the corpus path, or, where no 6.12 device tree exists, a
hand-written platform of ``corpus/examples/`` -- and runs V614 and NEXT back
to back (``bench_boot.bench_variant``: one warm-up run, then about
``--seconds`` of runs).  The rate per CPU-second of this single-threaded
process is the rate of one core.

Usage::

    .venv/bin/python bench/bench_families.py [--seconds N] [--tree DIR] [--json] [FAMILY ...]

docs/benchmarks.md (section "harness: one board per driver family") records
the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_boot import bench_variant  # noqa: E402
from corpus import kernel_tree  # noqa: E402
from corpus.dt import load_platform_file  # noqa: E402
from corpus.pci_dt import with_dt_pci_functions  # noqa: E402
from harness.board import Board, load_board  # noqa: E402
from harness.variant import NEXT, V614  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "corpus" / "examples"

#: family -> (source, with the PCI functions the DT describes); a source is a
#: .dts path in the kernel tree or a corpus/examples/*.json file name
BOARDS: dict[str, tuple[str, bool]] = {
    "rockchip": ("arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts", False),
    "arm-smmu": ("arch/arm64/boot/dts/qcom/sdm845-db845c.dts", False),
    "qcom_iommu": ("arch/arm64/boot/dts/qcom/apq8016-sbc.dts", False),
    "arm-smmu-v3": ("arch/arm64/boot/dts/arm/fvp-base-revc.dts", False),
    "mtk_iommu": ("arch/arm64/boot/dts/mediatek/mt8183-evb.dts", False),
    "mtk_iommu_v1": ("arch/arm/boot/dts/mediatek/mt2701-evb.dts", False),
    "exynos": ("arch/arm64/boot/dts/exynos/exynos5433-tm2e.dts", False),
    "ipmmu-vmsa": ("arch/arm64/boot/dts/renesas/r8a77951-salvator-xs.dts", False),
    "tegra-smmu": ("arch/arm64/boot/dts/nvidia/tegra210-p3450-0000.dts", False),
    "sun50i": ("arch/arm64/boot/dts/allwinner/sun50i-h6-orangepi-3.dts", False),
    "apple-dart": ("arch/arm64/boot/dts/apple/t8103-j274.dts", True),
    "omap": ("arch/arm/boot/dts/ti/omap/omap4-panda-es.dts", False),
    "msm": ("arch/arm/boot/dts/qcom/qcom-apq8064-ifc6410.dts", False),
    "sprd": ("sprd-example.json", False),
    "intel-vt-d": ("x86-vtd-example.json", False),
    "amd-vi": ("x86-amdvi-example.json", False),
    "virtio-iommu (ACPI VIOT)": ("x86-viot-example.json", False),
    "virtio-iommu (DT, PCI)": ("virtio-iommu-pci-example.json", False),
    "virtio-iommu (DT, MMIO)": ("virtio-iommu-mmio-example.json", False),
}


def load(tree: Path, source: str, pci: bool) -> Board:
    """The family's platform: compiled from the tree or read from corpus/examples."""
    p = load_board(EXAMPLES / source) if source.endswith(".json") else load_platform_file(tree / source)
    return with_dt_pci_functions(p) if pci else p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("families", nargs="*", help="default: every family (see BOARDS)")
    ap.add_argument("--seconds", type=float, default=3.0, help="wall time per variant (default 3)")
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: the prepared one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    unknown = [f for f in args.families if f not in BOARDS]
    if unknown:
        print(f"bench_families: unknown family {unknown[0]!r} (one of {', '.join(BOARDS)})",
              file=sys.stderr)
        return 2
    tree = args.tree or kernel_tree.prepare()
    rows: list[dict[str, Any]] = []
    for fam in args.families or list(BOARDS):
        source, pci = BOARDS[fam]
        p = load(tree, source, pci)
        for v in (V614, NEXT):
            rows.append({"family": fam, "board": p.name, **bench_variant(p, v, args.seconds)})
    if args.json:
        json.dump({"python": pyplatform.python_version(), "cores": os.cpu_count(), "rows": rows},
                  sys.stdout, indent=1)
        print()
        return 0
    print(f"Python {pyplatform.python_version()}, {args.seconds:g} s per variant\n")
    print("| family | board | devices | variant | runs/s per core | ms per run | boot |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        boot = ("panics: " if r["panicked"] else "") + (
            f"{len(r['findings'])} findings" if r["findings"] else "no findings")
        print(f"| {r['family']} | {r['board']} | {r['devices']} | {r['variant']} | "
              f"{r['runs_per_s_per_core']} | {r['ms_per_run']} | {boot} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
