"""Benchmark boot-scenario executions on one real board per IOMMU driver family.

Companion of ``bench/bench_boot.py`` (which times the seed board): for each
family in ``BOARDS`` the board is loaded from the real kernel tree once, then
``harness.scenario.run_scenario`` runs back to back under V614 and NEXT; the
rate per CPU-second of this single-threaded process is the rate of one core.

Usage::

    .venv/bin/python bench/bench_family_boards.py [--seconds N] [--tree DIR] [--json] [FAMILY ...]

Results go to stdout; docs/benchmarks.md (section "harness, one board per
driver family") records them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from corpus import kernel_tree
from corpus.dt import load_platform_file
from harness.scenario import run_scenario
from harness.variant import NEXT, V614, Variant

#: driver family (corpus/families.py) -> a real board of the 6.12 tree
BOARDS = {
    "mtk_iommu": "arch/arm64/boot/dts/mediatek/mt8183-evb.dts",
    "mtk_iommu_v1": "arch/arm/boot/dts/mediatek/mt2701-evb.dts",
    "exynos": "arch/arm64/boot/dts/exynos/exynos5433-tm2e.dts",
    "ipmmu-vmsa": "arch/arm64/boot/dts/renesas/r8a77951-salvator-xs.dts",
    "tegra-smmu": "arch/arm64/boot/dts/nvidia/tegra210-p3450-0000.dts",
}


def bench(p: Any, v: Variant, seconds: float) -> dict[str, Any]:
    """Run ``v`` on ``p`` for about ``seconds`` of wall time (after one warm-up run)."""
    first = run_scenario(p, v)
    n = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        run_scenario(p, v)
        n += 1
    cpu = time.process_time() - cpu0
    return {"variant": v.name, "runs": n, "runs_per_s_per_core": round(n / cpu, 1) if cpu else None,
            "ms_per_run": round(1000 * cpu / n, 2) if n else None,
            "devices": first.stats["devices"], "bound_drivers": first.stats["bound_drivers"],
            "findings": len(first.findings)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("families", nargs="*", help=f"default: all of {', '.join(BOARDS)}")
    ap.add_argument("--seconds", type=float, default=3.0, help="wall time per variant (default 3)")
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    unknown = [f for f in args.families if f not in BOARDS]
    if unknown:
        print(f"bench_family_boards: unknown family {unknown[0]!r} (one of {', '.join(BOARDS)})",
              file=sys.stderr)
        return 2
    tree = args.tree or kernel_tree.prepare()
    rows = []
    for fam in args.families or list(BOARDS):
        p = load_platform_file(tree / BOARDS[fam])
        for v in (V614, NEXT):
            rows.append({"family": fam, "board": Path(BOARDS[fam]).stem, **bench(p, v, args.seconds)})
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print("| family | board | variant | runs/s per core | ms per run | devices | findings |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['family']} | {r['board']} | {r['variant']} | {r['runs_per_s_per_core']} | "
                  f"{r['ms_per_run']} | {r['devices']} | {r['findings']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
