"""Benchmark boot-scenario executions on one board per driver family of the
sun50i / apple-dart / omap / msm / sprd models.

Boards come from the real kernel tree (compiled once through the corpus path):

* sun50i: ``allwinner/sun50i-h6-orangepi-3``;
* apple-dart: ``apple/t8103-j274`` with the PCI functions its DT describes
  (``corpus.pci_dt``);
* omap: ``ti/omap/omap4-panda-es`` (arm);
* msm: ``qcom/qcom-apq8064-ifc6410`` (arm);
* sprd: no 6.12 board, the hand-written platform of the sprd tests.

Each board runs V614 and NEXT back to back (``bench_boot.bench_variant``:
one warm-up, then about ``--seconds`` of runs) and prints runs per second per
core and ms per run.

Usage::

    .venv/bin/python bench/bench_boot_misc_families.py [--seconds N] [--tree DIR] [--json]

docs/benchmarks.md (section "harness: sun50i, apple-dart, omap, msm, sprd
boards") records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_boot import bench_variant  # noqa: E402
from corpus import kernel_tree  # noqa: E402
from corpus.dt import load_platform_file  # noqa: E402
from corpus.pci_dt import with_dt_pci_functions  # noqa: E402
from harness.platform import IommuRef, Node, Platform  # noqa: E402
from harness.variant import NEXT, V614  # noqa: E402

BOARDS = (
    ("sun50i", "arch/arm64/boot/dts/allwinner/sun50i-h6-orangepi-3.dts", False),
    ("apple-dart", "arch/arm64/boot/dts/apple/t8103-j274.dts", True),
    ("omap", "arch/arm/boot/dts/ti/omap/omap4-panda-es.dts", False),
    ("msm", "arch/arm/boot/dts/qcom/qcom-apq8064-ifc6410.dts", False),
)


def sprd_example() -> Platform:
    """The hand-written sprd platform (as in tests/harness/drivers/test_sprd_iommu.py)."""
    ref = (IommuRef("/soc/iommu@63000800", ()),)
    return Platform("sprd-example", nodes=[
        Node("/", compatible=("sprd,ums512",)),
        Node("/soc", compatible=("simple-bus",)),
        Node("/soc/iommu@63000800", compatible=("sprd,iommu-v1",), phandle=1, iommu_cells=0),
        Node("/soc/dpu@63000000", compatible=("sprd,sharkl3-dpu",), iommus=ref),
        Node("/soc/gsp@63100000", compatible=("sprd,gsp-core",), iommus=ref),
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="wall time per variant (default 3)")
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    tree = args.tree or kernel_tree.prepare()
    out: list[dict[str, Any]] = []
    plats: list[tuple[str, str, Platform, float]] = []
    for family, rel, pci in BOARDS:
        t = time.perf_counter()
        p = load_platform_file(tree / rel)
        if pci:
            p = with_dt_pci_functions(p)
        plats.append((family, rel, p, time.perf_counter() - t))
    plats.append(("sprd", "(hand-written sprd-example)", sprd_example(), 0.0))
    for family, rel, p, load_s in plats:
        out.append({"family": family, "board": rel, "nodes": len(p.nodes),
                    "load_s": round(load_s, 3),
                    "results": [bench_variant(p, v, args.seconds) for v in (V614, NEXT)]})
    res = {"python": pyplatform.python_version(), "cores": os.cpu_count(), "boards": out}
    if args.json:
        json.dump(res, sys.stdout, indent=2)
        print()
        return 0
    print(f"Python {res['python']}, {args.seconds:g} s per variant")
    print(f"{'family':<11} {'board':<24} {'variant':<6} {'runs/s/core':>12} {'ms/run':>8}  boot")
    for b in out:
        name = Path(b["board"]).stem if b["board"].endswith(".dts") else "sprd-example"
        for r in b["results"]:
            boot = (f"panics: {r['findings'][0]}" if r["panicked"]
                    else f"{r['bound_drivers']}/{r['devices']} bound, {len(r['findings'])} findings")
            print(f"{b['family']:<11} {name:<24} {r['variant']:<6} {r['runs_per_s_per_core']:>12} "
                  f"{r['ms_per_run']:>8}  {boot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
