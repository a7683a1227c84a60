"""The bounded systematic search with and without partial-order reduction.

For each scenario: ``preemption_bounded`` plain, then with ``reduce=True``
(harness/footprint/, harness/schedules.py): runs, schedules skipped
(pruned by a sleeping thread / one-deviation leaves equal to a run), CPU
seconds, and for every finding title the run that first showed it.

Scenarios (``--scenario``, default all):

* ``rk1``: rk3568-odroid-m1, NEXT+rk-fix without 1/4,
  ``driver_async_probe=rk_iommu``, bound 1 at the window points but the lock
  ones;
* ``sd1``: sdm845-db845c, NEXT, ``driver_async_probe=arm-smmu``, bound 1 at
  every window point;
* ``rk2``: as ``rk1``, bound 2 at the W1/W2 registration points.

Usage::

    .venv/bin/python bench/bench_por.py [--scenario rk1,sd1,rk2] [--json]

docs/benchmarks.md (section "harness: partial-order reduction") records them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.board import load_board  # noqa: E402
from harness.boot import BootConfig  # noqa: E402
from harness.schedules import SearchStats, is_window, preemption_bounded  # noqa: E402
from harness.variant import NEXT  # noqa: E402

BOARDS = ROOT / "corpus" / "boards"
NEXT_RK_NO_1_4 = NEXT.with_values("NEXT+rk-fix-1/4", "NEXT, dma_dev published first, without 1/4",
                                  **{"rk_iommu_probe.dma_dev": "before_register",
                                     "iommu_device_use_default_domain.defer": None})
W12 = ("iommu_device_register:listed", "bus_iommu_probe:groups_queued")


def _not_mutex_window(where: str) -> bool:
    return is_window(where) and not where.startswith("mutex")


def _w12(where: str) -> bool:
    return where in W12


SCENARIOS: dict[str, tuple[str, Any, BootConfig, int, Callable[[str], bool]]] = {
    "rk1": ("rk3568-odroid-m1", NEXT_RK_NO_1_4, BootConfig(driver_async_probe=("rk_iommu",)), 1,
            _not_mutex_window),
    "sd1": ("sdm845-db845c", NEXT, BootConfig(driver_async_probe=("arm-smmu",)), 1, is_window),
    "rk2": ("rk3568-odroid-m1", NEXT_RK_NO_1_4, BootConfig(driver_async_probe=("rk_iommu",)), 2, _w12),
}


def measure(name: str) -> list[dict[str, Any]]:
    board_name, v, cfg, bound, at = SCENARIOS[name]
    board = load_board(BOARDS / f"{board_name}.json")
    out = []
    for reduce in (False, True):
        st = SearchStats()
        first: dict[str, int] = {}
        t0 = time.process_time()
        for n, r in enumerate(preemption_bounded(board, v, cfg, bound, at, reduce=reduce, stats=st)):
            for f in r.findings:
                first.setdefault(f.title, n + 1)
        out.append({"scenario": name, "board": board_name, "variant": v.name, "bound": bound,
                    "reduce": reduce, "runs": st.runs, "pruned": st.pruned, "equivalent": st.equivalent,
                    "cut": st.cut, "cpu_seconds": round(time.process_time() - t0, 1), "first": first})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = [s for s in args.scenario.split(",") if s]
    bad = [s for s in names if s not in SCENARIOS]
    if bad:
        print(f"bench_por: unknown scenario {bad[0]!r} (known: {', '.join(SCENARIOS)})", file=sys.stderr)
        return 2
    rows = [row for name in names for row in measure(name)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(f"{row['scenario']:4} bound {row['bound']} {'reduced' if row['reduce'] else 'plain  '} "
              f"runs {row['runs']:5} (pruned {row['pruned']}, equal leaves {row['equivalent']}, "
              f"cut {row['cut']}) {row['cpu_seconds']:7.1f} CPU-s, {len(row['first'])} titles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
