"""Benchmark boot-scenario executions of the harness on a real board.

Loads ``rk3568-odroid-m1`` (the seed board) from the real kernel tree once,
then runs ``harness.run.run_scenario`` back to back for each variant and
prints executions per second per core (the process is single-threaded, so the
rate per CPU-second of this process is the rate of one core) and ms per run.

* ``NEXT``: the series as posted; the boot panics at the first rockchip
  ``of_xlate`` (the seed oops), so it is a short boot.
* ``V614``: the clean v6.14 boot (every driver binds).
* ``NEXT+rk-fix``: NEXT with ``rk_iommu_probe.dma_dev`` = ``before_register``,
  i.e. a full-length boot through the new probe path.

With ``--concurrency`` it also measures what the concurrency support costs the
synchronous boot: each variant is run (interleaved, to share the machine's
noise) as it is, with ``Kernel.sched_point`` a no-op, and "bare" -- no
scheduling points and mutexes reduced to an owner store (no wait-for or
lockdep checks).  The synchronous boot gives the same result in all three
(the default schedule never preempts; tests/harness/test_concurrency.py), so
the difference is pure overhead.  It also times explored concurrent boots
(``driver_async_probe=rk_iommu`` with a PCT chooser).

Usage::

    .venv/bin/python bench/bench_boot.py [--seconds N] [--tree DIR] [--json] [--concurrency]

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
from harness import kernel as hk
from harness.board import Board
from harness.boot import BootConfig
from harness.kernel import Mutex, kernel
from harness.run import run_scenario
from harness.schedules import PctChooser
from harness.variant import NEXT, V614, Variant

BOARD = "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts"

RK_FIX = NEXT.with_values("NEXT+rk-fix", "NEXT, rk_iommu_probe publishes dma_dev before registering",
                          **{"rk_iommu_probe.dma_dev": "before_register"})


def bench_variant(p: Board, v: Variant, seconds: float) -> dict[str, Any]:
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


# Run with harness.kernel's globals (their code replaces mutex_lock's): only
# names defined there too may appear.
def _bare_mutex_lock(lock: Mutex) -> None:
    lock.owner = kernel().current


def _bare_mutex_unlock(lock: Mutex) -> None:
    lock.owner = None


class _Mode:
    """Patch the runtime for one measurement mode; undo on exit."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.saved = (hk.Kernel.sched_point, hk.mutex_lock.__code__, hk.mutex_unlock.__code__)

    def __enter__(self) -> None:
        if self.mode in ("no-sched-points", "bare"):
            hk.Kernel.sched_point = lambda self, where: None  # type: ignore[method-assign]
        if self.mode == "bare":
            # callers imported the functions by name: swap the code, not the binding
            hk.mutex_lock.__code__ = _bare_mutex_lock.__code__
            hk.mutex_unlock.__code__ = _bare_mutex_unlock.__code__

    def __exit__(self, *exc: object) -> None:
        hk.Kernel.sched_point = self.saved[0]  # type: ignore[method-assign]
        hk.mutex_lock.__code__ = self.saved[1]
        hk.mutex_unlock.__code__ = self.saved[2]


MODES = ("full", "no-sched-points", "bare")


def bench_concurrency(p: Board, seconds: float) -> list[dict[str, Any]]:
    """Per variant: CPU ms per synchronous boot in each mode, rounds interleaved."""
    out = []
    for v in (NEXT, V614, RK_FIX):
        cpu = dict.fromkeys(MODES, 0.0)
        runs = dict.fromkeys(MODES, 0)
        first: dict[str, Any] = {}
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for mode in MODES:
                with _Mode(mode):
                    t = time.process_time()
                    for _ in range(5):
                        r = run_scenario(p, v)
                    cpu[mode] += time.process_time() - t
                    runs[mode] += 5
                    first.setdefault(mode, [f.title for f in r.findings])
        assert first["full"] == first["no-sched-points"] == first["bare"], first
        ms = {m: 1000 * cpu[m] / runs[m] for m in MODES}
        out.append({"variant": v.name, "runs_per_mode": runs["full"],
                    **{f"ms_{m}": round(ms[m], 2) for m in MODES},
                    "overhead_vs_no_sched_points_pct":
                        round(100 * (ms["full"] / ms["no-sched-points"] - 1), 1),
                    "overhead_vs_bare_pct": round(100 * (ms["full"] / ms["bare"] - 1), 1)})
    return out


def bench_explore(p: Board, seconds: float) -> dict[str, Any]:
    """Explored concurrent boots: NEXT+rk-fix, IOMMUs async, PCT chooser, recorded."""
    cfg = BootConfig(driver_async_probe=("rk_iommu",))
    n = 0
    decisions = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        r = run_scenario(p, RK_FIX, cfg, chooser=PctChooser(n, 0.02, 0.3), record=True)
        decisions += r.decisions
        n += 1
    cpu = time.process_time() - c0
    return {"runs": n, "runs_per_s_per_core": round(n / cpu, 1), "ms_per_run": round(1000 * cpu / n, 2),
            "decisions_per_run": decisions // n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="wall time per variant (default 5)")
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--concurrency", action="store_true",
                    help="also measure the cost of the concurrency support and explored boots")
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
    if args.concurrency:
        res["concurrency"] = bench_concurrency(p, 2 * args.seconds)
        res["explore"] = bench_explore(p, args.seconds)
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
    if args.concurrency:
        print("cost of the concurrency support (CPU ms per synchronous boot, modes interleaved):")
        print(f"{'variant':<13} {'runs':>6} {'full':>7} {'no-sched':>9} {'bare':>7} "
              f"{'vs no-sched':>12} {'vs bare':>8}")
        for c in res["concurrency"]:
            print(f"{c['variant']:<13} {c['runs_per_mode']:>6} {c['ms_full']:>7} "
                  f"{c['ms_no-sched-points']:>9} {c['ms_bare']:>7} "
                  f"{c['overhead_vs_no_sched_points_pct']:>11}% {c['overhead_vs_bare_pct']:>7}%")
        e = res["explore"]
        print(f"explored concurrent boots (NEXT+rk-fix, driver_async_probe=rk_iommu, PCT): "
              f"{e['runs_per_s_per_core']} runs/s/core, {e['ms_per_run']} ms/run, "
              f"{e['decisions_per_run']} scheduling decisions/run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
