"""Benchmark boot-scenario executions on the arm-smmu and qcom_iommu boards.

The driver-family extension of ``bench/bench_boot.py`` (same measurement,
``bench_variant``): one board per family, loaded once from the real kernel
tree, V614 and NEXT back to back.

* ``sdm845-db845c``: arm-smmu (MMU-500 + the Qualcomm implementation);
* ``apq8016-sbc``: qcom_iommu (context-bank children).

Usage::

    .venv/bin/python bench/bench_boot_arm_smmu.py [--seconds N] [--tree DIR] [--json]

Results go to stdout; docs/benchmarks.md (section "harness: arm-smmu and
qcom_iommu boards") records them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench_boot import bench_variant

from corpus import kernel_tree
from corpus.dt import load_platform_file
from harness.variant import NEXT, V614

BOARDS = {
    "arm-smmu": "arch/arm64/boot/dts/qcom/sdm845-db845c.dts",
    "qcom_iommu": "arch/arm64/boot/dts/qcom/apq8016-sbc.dts",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="wall time per variant (default 5)")
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    tree = args.tree or kernel_tree.prepare()
    res: list[dict[str, Any]] = []
    for family, board in BOARDS.items():
        p = load_platform_file(tree / board)
        for v in (V614, NEXT):
            r = bench_variant(p, v, args.seconds)
            res.append({"family": family, "board": board, "nodes": len(p.nodes), **r})
    if args.json:
        json.dump(res, sys.stdout, indent=2)
        print()
        return 0
    print(f"{'family':<11} {'board':<16} {'variant':<6} {'runs':>6} {'runs/s/core':>12} "
          f"{'ms/run':>8}  boot")
    for r in res:
        boot = (f"panics: {r['findings'][0]}" if r["panicked"]
                else f"{r['bound_drivers']}/{r['devices']} bound, {len(r['findings'])} findings")
        print(f"{r['family']:<11} {Path(r['board']).stem:<16} {r['variant']:<6} {r['runs']:>6} "
              f"{r['runs_per_s_per_core']:>12} {r['ms_per_run']:>8}  {boot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
