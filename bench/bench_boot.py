"""Benchmark boot-scenario executions of the harness on a real board.

Loads ``rk3568-odroid-m1`` (the seed board) from the real kernel tree once,
then runs ``harness.scenario.run_scenario`` back to back for each variant and
prints executions per second per core (the process is single-threaded, so the
rate per CPU-second of this process is the rate of one core) and ms per run.

* ``NEXT``: the series as posted; the boot panics at the first rockchip
  ``of_xlate`` (the seed oops), so it is a short boot.
* ``V614``: the clean v6.14 boot (every driver binds).
* ``NEXT+rk-fix``: NEXT with ``rk_iommu_probe.dma_dev`` = ``before_register``,
  i.e. a full-length boot through the new probe path.

Usage::

    .venv/bin/python bench/bench_boot.py [--seconds N] [--tree DIR] [--json]

Results go to stdout; docs/benchmarks.md (section "harness") records them.
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

from corpus import kernel_tree
from corpus.dt import load_platform_file
from harness.scenario import run_scenario
from harness.variant import NEXT, V614, Variant

BOARD = "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts"

RK_FIX = NEXT.with_values("NEXT+rk-fix", "NEXT, rk_iommu_probe publishes dma_dev before registering",
                          **{"rk_iommu_probe.dma_dev": "before_register"})


def bench_variant(p: Any, v: Variant, seconds: float) -> dict[str, Any]:
    """Run ``v`` on ``p`` for about ``seconds`` of wall time (after one warm-up run)."""
    first = run_scenario(p, v)
    n = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while True:
        run_scenario(p, v)
        n += 1
        wall = time.perf_counter() - wall0
        if wall >= seconds:
            break
    cpu = time.process_time() - cpu0
    return {
        "variant": v.name,
        "runs": n,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "runs_per_s_per_core": round(n / cpu, 1) if cpu else None,
        "runs_per_s_wall": round(n / wall, 1),
        "ms_per_run": round(1000 * cpu / n, 2),
        "findings": [f.title for f in first.findings],
        "panicked": first.panicked,
        "bound_drivers": first.stats["bound_drivers"],
        "devices": first.stats["devices"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="wall time per variant (default 5)")
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    tree = args.tree or kernel_tree.prepare()
    t = time.perf_counter()
    p = load_platform_file(tree / BOARD)
    load_s = time.perf_counter() - t
    res: dict[str, Any] = {
        "board": BOARD, "nodes": len(p.nodes), "load_s": round(load_s, 3),
        "python": pyplatform.python_version(), "cores": os.cpu_count(),
        "results": [bench_variant(p, v, args.seconds) for v in (NEXT, V614, RK_FIX)],
    }
    if args.json:
        json.dump(res, sys.stdout, indent=2)
        print()
        return 0
    print(f"board {BOARD} ({res['nodes']} nodes, loaded once in {load_s * 1000:.0f} ms), "
          f"Python {res['python']}, {args.seconds:g} s per variant")
    print(f"{'variant':<13} {'runs':>6} {'runs/s/core':>12} {'ms/run':>8}  boot")
    for r in res["results"]:
        boot = (f"panics: {r['findings'][0]}" if r["panicked"]
                else f"{r['bound_drivers']}/{r['devices']} bound, {len(r['findings'])} findings")
        print(f"{r['variant']:<13} {r['runs']:>6} {r['runs_per_s_per_core']:>12} "
              f"{r['ms_per_run']:>8}  {boot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
