"""Explore fix candidates: fuzz every variant of the space around a base on a
corpus (default: depth 1 around NEXT on the bundled boards, about 20-35 s on
2 cores), then rank them by their difference from the base on the same
scenarios (:mod:`fuzz.ranking`: the series' goal as a constraint, then
severity, breadth, change size; top 3 from different fix families).  Writes
OUT/ranking.json, OUT/report.md, OUT/report.html and reproducers under
OUT/crashes/.  A killed run restarted with the same --out resumes.
Exit 0 when the best variant has no finding, 1 otherwise, 2 on bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from corpus.kernel_tree import default_tree_path
from fuzz.campaign import (
    DEFAULT_RUNS_PER_BOARD,
    PART_RUNS,
    CampaignError,
    ExploreRequest,
    run_campaign,
    units_for,
)
from fuzz.cli import UsageError
from fuzz.cluster import ClusterError, add_cluster_arguments, check_cluster_arguments
from fuzz.corpus_arg import load_boards
from fuzz.options import SECONDS, SEED, check_out_dir, int_in
from fuzz.ranking import rank, ranking_json
from fuzz.report import TERMINAL_WIDTH, html_report, markdown, table, write_top
from fuzz.variant_arg import tree_profile
from harness.variant import variant_from_json
from mutators.facts import TreeProfile, tree_presets
from mutators.space import parse_id, resolve

DEFAULT_OUT = "probefuzz-out"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default="NEXT", help="the variant the space is built around (default: NEXT)")
    p.add_argument("--tree", type=Path, default=None, metavar="DIR",
                   help="kernel tree whose guard sites, driver facts and registration levels the "
                   "space is built on (`probefuzz facts`): NEXT/V614 overlay the series' core "
                   "sites on its drivers, TREE is the tree as it is; ids stay NEXT+site<op> "
                   "(pass the same --tree to repro/propose) (default: the presets)")
    p.add_argument("--depth", type=int_in(0, 2), default=1, help="mutations from the base (default: 1)")
    p.add_argument("--corpus", default=None, metavar="DIR",
                   help="platform .json/.dtb files to fuzz on (default: the bundled boards)")
    p.add_argument("--runs-per-board", type=int_in(1, 10**7), default=DEFAULT_RUNS_PER_BOARD, metavar="N",
                   help=f"scenarios per variant and board, the plain boot included (default: "
                   f"{DEFAULT_RUNS_PER_BOARD}); reproducible")
    p.add_argument("--time-per-variant", type=SECONDS, default=None, metavar="S",
                   help="fuzz each variant for S seconds instead (not reproducible)")
    p.add_argument("--engine", choices=("native", "hypothesis"), default="native",
                   help="in-process engine the workers run (default: native)")
    p.add_argument("--seed", type=SEED, default=0, help="campaign seed (default: 0)")
    p.add_argument("--jobs", type=int_in(1, 1024), default=len(os.sched_getaffinity(0)) or 1,
                   help="worker processes of the local Dask cluster (default: all cores)")
    add_cluster_arguments(p)
    p.add_argument("--unit-runs", type=int_in(1, 10**9), default=PART_RUNS, metavar="N",
                   help=f"about N scenarios per work unit (default: {PART_RUNS}); the findings do "
                   "not depend on it")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    p.add_argument("--top", type=int_in(1, 10**6), default=15,
                   help="rows of the terminal table (default: 15)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print ranking.json instead of the table")


def run(args: argparse.Namespace) -> int:
    if args.depth < 0 or args.depth > 2:
        raise UsageError("--depth must be 0, 1 or 2")
    if args.runs_per_board < 1:
        raise UsageError("--runs-per-board must be at least 1")
    if args.time_per_variant is not None and args.time_per_variant <= 0:
        raise UsageError("--time-per-variant must be positive")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.unit_runs < 1:
        raise UsageError("--unit-runs must be at least 1")
    check_cluster_arguments(args)

    # bad base or tree: one-line VariantError before any work
    tree = _tree(args.tree, args.base)
    args.base = resolve(args.base, tree_presets(tree) if tree is not None else None).id
    try:
        out = check_out_dir(args.out, "--out")
    except ValueError as e:
        raise UsageError(str(e)) from None
    boards = load_boards([], args.corpus)
    req = ExploreRequest(base=args.base, depth=args.depth, boards=boards, out=out,
                         runs_per_board=args.runs_per_board, time_per_variant=args.time_per_variant,
                         jobs=args.jobs, seed=args.seed, engine=args.engine,
                         scheduler=args.scheduler, executor=args.executor, part_runs=args.unit_runs,
                         tree=tree)
    try:
        c = run_campaign(req, progress=not args.no_progress and not args.json)
    except (CampaignError, ClusterError) as e:
        raise UsageError(str(e)) from None
    rows = rank(c.results, variant_sites(args.base, args.depth, tree))
    data = ranking_json(c, rows)
    _write(out / "ranking.json", json.dumps(data, indent=1) + "\n")
    _write(out / "report.md", markdown(c, rows) + ("\n## Run\n\n" + c.run.markdown() if c.run else ""))
    _write(out / "report.html", html_report(c, rows))
    if c.run is not None:
        _write(out / "run.json", json.dumps(c.run.to_json(), indent=1) + "\n")
    if args.json:
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(table(rows, args.top))
        base_row = next((r for r in rows if r.is_base), None)
        if base_row is not None:
            print("\n" + textwrap.fill(f"{base_row.id} (the base) ranks {base_row.rank}/{len(rows)}: "
                                      f"{base_row.reason}", TERMINAL_WIDTH, subsequent_indent="  "))
        words = write_top(rows, args.base, len(boards))
        if words:
            print("\nTop 3, from different fix families:\n" + words, end="")
        print(f"{sum(r.executions for r in rows)} executions in {c.elapsed:.1f} s"
              + (f" (resumed: {c.resumed} units were already done)" if c.resumed else "")
              + (f"; {c.run.units} units ({c.minimisations} of them minimisations) on {c.run.workers} "
                 f"{c.run.executor} worker(s), {c.run.units_per_s:.2f} units/s"
                 if c.run and c.run.units else "")
              + f";\nreports in {out}: report.md, report.html, ranking.json, run.json")
    return 0 if rows and not rows[0].titles else 1


def _tree(tree: Path | None, base: str) -> TreeProfile | None:
    """The profile the space is built on: ``--tree``, the reference tree for a
    ``TREE`` base without it, else None (the presets)."""
    if tree is None and parse_id(base)[0] != "TREE":
        return None
    return tree_profile(tree if tree is not None else default_tree_path())


def variant_sites(base: str, depth: int, tree: TreeProfile | None = None) -> dict[int, dict[str, Any]]:
    """Each unit's variant JSON (with its fingerprint), by unit index: the ranking
    groups variants into fix families from the sites' values, not from ids."""
    out = {}
    for u in units_for(base, depth, tree=tree):
        out[u.index] = dict(u.variant, fingerprint=variant_from_json(u.variant, u.id).fingerprint())
    return out


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
