"""What minimising costs and what it yields, against a git revision.

For each seed, ``--runs`` value and board, ``probefuzz fuzz --variant V
--engine native --runs N --seed S --json BOARD`` runs in this checkout and
in REV (checked out in a temporary ``git worktree``, removed afterwards),
alternately, each in a fresh process with its own crash store.  Per run it
prints the engine's figures (``executions_per_second``, ``minimise_runs``
-- every candidate the minimiser tried, a cache answer included --,
``minimise_boots``, ``minimise_seconds``) and the reproducers' sizes
summed over the titles (devices, schedule entries, window preemptions),
whether both found the same titles, and how many titles got a smaller or a
larger reproducer.  Run counts are noise-free; seconds are not (compare
within one line: both sides ran back to back).

Usage::

    nice -n 10 .venv/bin/python bench/bench_minimise.py --against 667cd26 \\
        [--seeds 1,2,3] [--runs 300,1000] [--boards rk3568-odroid-m1,sdm845-db845c] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._revision import revision_worktree  # noqa: E402

VARIANT = "NEXT+rk_iommu_probe.dma_dev:=before_register"
FIGURES = ("executions_per_second", "elapsed_seconds", "minimise_runs", "minimise_boots",
           "minimise_seconds")
Sizes = tuple[int, int, int]  # devices, schedule entries, preemptions


def fuzz_run(tree: Path, variant: str, seed: int, runs: int, board: str,
             crashes: Path) -> tuple[dict[str, float], dict[str, Sizes]]:
    """The engine figures of one ``probefuzz fuzz`` run and each title's reproducer size."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    r = subprocess.run([sys.executable, "-m", "fuzz.cli", "fuzz", "--variant", variant,
                        "--engine", "native", "--runs", str(runs), "--seed", str(seed), "--json",
                        "--crashes", str(crashes), board],
                       cwd=tree, env=env, capture_output=True, text=True, timeout=3600)
    if r.returncode not in (0, 1):
        raise SystemExit(f"bench_minimise: fuzz failed in {tree}: "
                         f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
    d = json.loads(r.stdout)
    engine = d["engine"]
    figures = {k: float(engine.get(k, 0.0)) for k in FIGURES}
    sizes: dict[str, Sizes] = {}
    for f in d["found"]:
        rep = json.loads(Path(f["reproducer"]).read_text()) if f.get("reproducer") else {}
        cfg = rep.get("config", {})
        sizes[f["title"]] = (int(f["devices"]), len(rep.get("schedule", [])),
                             len(cfg.get("preempt", [])) + len(cfg.get("preempt_dev", [])))
    return figures, sizes


def compare(old: dict[str, Sizes], new: dict[str, Sizes]) -> dict[str, Any]:
    """Titles whose reproducer is smaller (no size larger, one smaller), the
    same, or larger in some size (those listed with both sizes)."""
    out: dict[str, Any] = {"smaller": 0, "same": 0, "larger": 0, "larger_titles": []}
    for t, o in old.items():
        n = new.get(t)
        if n is None:
            continue
        if n == o:
            out["same"] += 1
        elif all(a <= b for a, b in zip(n, o, strict=True)):
            out["smaller"] += 1
        else:
            out["larger"] += 1
            out["larger_titles"].append([t, o, n])
    return out


def totals(sizes: dict[str, Sizes]) -> Sizes:
    return (sum(s[0] for s in sizes.values()), sum(s[1] for s in sizes.values()),
            sum(s[2] for s in sizes.values()))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--against", required=True, metavar="REV", help="git revision to compare with")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--runs", default="300,1000")
    ap.add_argument("--boards", default="rk3568-odroid-m1,sdm845-db845c")
    ap.add_argument("--variant", default=VARIANT)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    try:
        seeds = [int(x) for x in a.seeds.split(",")]
        runs = [int(x) for x in a.runs.split(",")]
    except ValueError:
        print("bench_minimise: --seeds and --runs take comma-separated integers", file=sys.stderr)
        return 2
    boards = [b for b in a.boards.split(",") if b]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="probefuzz-bench-min-") as tmp, \
            revision_worktree(a.against, "bench_minimise") as wt:
        for seed in seeds:
            for n in runs:
                for board in boards:
                    res = {}
                    for side, tree in (("old", wt), ("new", ROOT)):
                        crashes = Path(tmp) / f"crashes-{side}-{seed}-{n}-{board}"
                        res[side] = fuzz_run(tree, a.variant, seed, n, board, crashes)
                    (fo, so), (fn, sn) = res["old"], res["new"]
                    row = {"board": board, "seed": seed, "runs": n, "old": fo, "new": fn,
                           "same_titles": sorted(so) == sorted(sn), "titles": len(sn),
                           "sizes_old": totals(so), "sizes_new": totals(sn), **compare(so, sn)}
                    rows.append(row)
                    if not a.json:
                        print_row(row, a.against)
    if a.json:
        print(json.dumps(rows, indent=1))
    return 0 if all(r["same_titles"] for r in rows) else 1


def print_row(row: dict[str, Any], rev: str) -> None:
    print(f"{row['board']} seed {row['seed']} --runs {row['runs']}: {row['titles']} titles, "
          f"same titles: {row['same_titles']}; reproducers smaller {row['smaller']}, "
          f"same {row['same']}, larger {row['larger']}")
    for side, label in (("old", rev), ("new", "this tree")):
        f = row[side]
        d, s, p = row[f"sizes_{side}"]
        print(f"  {label:>10}: exec/s {f['executions_per_second']:7.1f}  min runs {f['minimise_runs']:6.0f}"
              f"  boots {f['minimise_boots']:6.0f}  min s {f['minimise_seconds']:6.1f}"
              f"  elapsed {f['elapsed_seconds']:6.1f}  devices {d:4d} schedule {s:5d} preemptions {p:3d}")
    for title, o, n in row["larger_titles"]:
        print(f"  larger: {title}: (devices, schedule, preemptions) {tuple(o)} -> {tuple(n)}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
