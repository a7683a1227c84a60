"""Benchmark boot-scenario executions on the hand-written example platforms.

One run per platform and variant of ``harness.scenario.run_scenario`` back to
back for about ``--seconds`` each, on ``corpus/examples/*.json`` (the x86
DMAR/IVRS/VIOT and virtio-iommu platforms: NULL-fwnode instances, the virtio
bus), printing executions per second per core, ms per run and what the boot
did.  Needs no kernel tree.

Usage::

    .venv/bin/python bench/bench_examples.py [--seconds N] [--json]

docs/benchmarks.md (section "x86 and virtio example platforms") records the
figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from harness.platform import Platform, load_platform
from harness.scenario import run_scenario
from harness.variant import NEXT, V614, Variant

EXAMPLES = Path(__file__).resolve().parents[1] / "corpus" / "examples"


def bench(p: Platform, v: Variant, seconds: float) -> dict[str, Any]:
    """Run ``v`` on ``p`` for about ``seconds`` of wall time (after one warm-up run)."""
    first = run_scenario(p, v)
    n = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        run_scenario(p, v)
        n += 1
    cpu = time.process_time() - cpu0
    return {"platform": p.name, "variant": v.name, "runs": n,
            "runs_per_s_per_core": round(n / cpu, 1) if cpu else None,
            "ms_per_run": round(1000 * cpu / n, 2) if n else None,
            "devices": first.stats["devices"], "groups": first.stats["groups"],
            "bound_drivers": first.stats["bound_drivers"], "findings": len(first.findings)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="wall time per run set (default 2)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = [bench(load_platform(f), v, args.seconds)
           for f in sorted(EXAMPLES.glob("*.json")) for v in (V614, NEXT)]
    if args.json:
        json.dump(res, sys.stdout, indent=2)
        print()
        return 0
    print(f"{'platform':<28} {'variant':<6} {'runs':>6} {'runs/s/core':>12} {'ms/run':>7}  boot")
    for r in res:
        print(f"{r['platform']:<28} {r['variant']:<6} {r['runs']:>6} {r['runs_per_s_per_core']:>12} "
              f"{r['ms_per_run']:>7}  {r['bound_drivers']}/{r['devices']} bound, {r['groups']} groups, "
              f"{r['findings']} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
