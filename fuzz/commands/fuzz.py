"""Fuzz one variant: generated scenarios (board, DT mutation, drivers, faults,
events, thread schedule) on the given platforms (default: the bundled corpus).
Findings are printed as they are found, deduplicated by title, minimised and
saved as reproducers (``probefuzz repro FILE`` replays them).  With ``--runs``
and ``--seed`` a run is reproducible.  Exit 0: no finding; 1: findings; 2: bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from fuzz.campaign import variant_dirname
from fuzz.cli import UsageError
from fuzz.cluster import ClusterError, add_cluster_arguments, check_cluster_arguments
from fuzz.corpus_arg import load_boards
from fuzz.engines import ENGINES, hypothesis_engine, native
from fuzz.engines.atheris_engine import AtherisJob
from fuzz.engines.atheris_engine import run as run_atheris
from fuzz.engines.session import Session
from fuzz.fuzz_units import fuzz_parallel
from fuzz.gen import GenContext
from fuzz.options import SECONDS, SEED, check_out_dir, int_in
from fuzz.variant_arg import resolve_variant_on, uses_tree
from mutators.space import resolve

DEFAULT_CRASHES = "probefuzz-out/crashes"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="NEXT",
                   help="V614, NEXT, PRESET+site<op>..., or a variant JSON file (default: NEXT)")
    p.add_argument("--tree", type=Path, default=None, metavar="DIR",
                   help="kernel tree whose guard sites and driver facts drive the model "
                   "(`probefuzz facts`): NEXT/V614 overlay the series' core sites on its "
                   "drivers, TREE runs it as it is")
    p.add_argument("--engine", choices=ENGINES, default="atheris",
                   help="atheris (libFuzzer over the model's behaviour, own process), hypothesis, or "
                   "native (in-process, seeded) (default: atheris)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--time", type=SECONDS, metavar="S", help="fuzz for S seconds")
    budget.add_argument("--runs", type=int_in(1, 10**9), metavar="N",
                        help="fuzz N executions (default: 2000)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed (default: 0)")
    p.add_argument("--jobs", type=int_in(1, 1024), default=1,
                   help="processes, seeds S, S+1, ... (atheris: its own; native/hypothesis: a local "
                   "Dask cluster)")
    add_cluster_arguments(p, executor=False)
    p.add_argument("--crashes", default=DEFAULT_CRASHES,
                   help=f"crash store; reproducers go to CRASHES/<variant>/ (default: {DEFAULT_CRASHES})")
    p.add_argument("--corpus", default=None, metavar="DIR",
                   help="also fuzz every platform .json/.dtb in DIR")
    p.add_argument("--corpus-dir", default=None, metavar="DIR",
                   help="atheris: keep libFuzzer's input corpus in DIR/<variant>/ (runs are then "
                   "no longer reproducible)")
    p.add_argument("--no-mutate", action="store_true", help="no device-tree mutations")
    p.add_argument("--no-minimise", action="store_true", help="store findings unminimised")
    p.add_argument("--libfuzzer", action="append", default=[], metavar="FLAG",
                   help="pass a flag to libFuzzer (atheris), e.g. --libfuzzer=-max_len=128")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: repro --json's shape plus an 'engine' object")
    p.add_argument("--quiet", action="store_true",
                   help="no progress on stderr (libFuzzer's status lines included)")
    p.add_argument("platforms", nargs="*", metavar="PLATFORM",
                   help=".dts in a kernel tree, .dtb, platform .json, or a bundled board name")


def run(args: argparse.Namespace) -> int:
    if args.runs is not None and args.runs < 1:
        raise UsageError("--runs must be at least 1")
    if args.time is not None and args.time <= 0:
        raise UsageError("--time must be positive")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    check_cluster_arguments(args)
    if args.scheduler and args.engine == "atheris":
        raise UsageError("--scheduler needs --engine native or hypothesis (atheris runs its own processes)")
    runs = args.runs if args.runs is not None or args.time is not None else 2000
    variant = (resolve_variant_on(args.variant, args.tree) if uses_tree(args.variant, args.tree)
               else resolve(args.variant).variant)
    boards = load_boards(args.platforms, args.corpus)
    try:
        check_out_dir(args.crashes, "--crashes")
        if args.corpus_dir:
            check_out_dir(args.corpus_dir, "--corpus-dir")
    except ValueError as e:
        raise UsageError(str(e)) from None
    store = Path(args.crashes) / variant_dirname(variant.name, variant.fingerprint())
    printed: set[str] = set()
    if not args.json:  # a long default run must not look like a hang
        budget = f"{args.time:g} s" if args.time is not None else f"{runs} runs"
        print(f"fuzzing {variant.name} on {len(boards)} board(s) with {args.engine} for {budget}; "
              "findings are printed as they are found (Ctrl-C stops)", file=sys.stderr, flush=True)

    def show(title: str, kind: str, board: str, at: float, rep: str | None) -> None:
        if args.json or title in printed:
            return
        printed.add(title)
        print(f"[{at:8.3f}s] {kind}: {title} ({board})" + (f"\n            reproducer: {rep}" if rep else ""),
              flush=True)

    quiet = getattr(args, "quiet", False)
    progress = None if quiet or not sys.stderr.isatty() else _progress

    if args.engine == "atheris":
        vdir = variant_dirname(variant.name, variant.fingerprint())
        job = AtherisJob(variant, boards, store, runs=runs, seconds=args.time, seed=args.seed,
                         corpus_dir=Path(args.corpus_dir) / vdir if args.corpus_dir else None,
                         libfuzzer_args=list(args.libfuzzer), mutate=not args.no_mutate,
                         minimise=not args.no_minimise, quiet=quiet)
        try:
            found, stats = run_atheris(job, args.jobs, on_found=lambda f: show(
                f["title"], f["kind"], f["board"], f["first_seconds"], f.get("reproducer")),
                progress=progress)
        except RuntimeError as e:
            raise UsageError(str(e)) from None
    elif args.jobs > 1 or args.scheduler:
        try:
            found, stats, _run = fuzz_parallel(
                variant, boards, engine=args.engine, runs=None if args.time else runs, seconds=args.time,
                seed=args.seed, jobs=args.jobs, scheduler=args.scheduler, store=store,
                mutate=not args.no_mutate, minimise=not args.no_minimise,
                on_found=lambda f: show(f["title"], f["kind"], f["board"], f["first_seconds"],
                                        f.get("reproducer")))
        except ClusterError as e:
            raise UsageError(str(e)) from None
    else:
        ctx = GenContext(boards, mutate=not args.no_mutate)
        shrinker = None
        if args.engine == "hypothesis" and not args.no_minimise:
            def shrinker(title: str) -> Any:
                return hypothesis_engine.shrink(ctx, variant, title)

        session = Session(variant, args.engine, store, minimise_findings=not args.no_minimise,
                          on_found=lambda f: show(f.title, f.kind, f.board, f.at, f.reproducer),
                          shrinker=shrinker)
        session.progress = progress
        if args.engine == "hypothesis":
            stats = hypothesis_engine.fuzz_loop(session, ctx, runs=runs, seconds=args.time, seed=args.seed)
        else:
            stats = native.fuzz_loop(session, ctx, runs=runs, seconds=args.time, seed=args.seed)
        found = [f.to_json() for f in sorted(session.found.values(), key=lambda f: f.at)]
    if args.json:
        json.dump(_json(variant.name, boards, found, stats.to_json()), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        tfirst = stats.time_to_first_finding
        print(f"{variant.name}: {len(found)} distinct finding(s) in {stats.executions} executions "
              f"({stats.exec_per_s:.0f}/s, {stats.elapsed:.1f} s)"
              + (f"; first after {tfirst:.3f} s" if tfirst is not None else "")
              + f"; reproducers in {os.path.relpath(store)}")
    return 1 if found else 0


def _progress(st: Any, findings: int) -> None:
    """libFuzzer's status line shape, for every engine (stderr, on a terminal)."""
    print(f"#{st.executions}\tpulse  cov: {st.coverage} findings: {findings} "
          f"exec/s: {st.exec_per_s:.0f} ({st.elapsed:.0f} s)", file=sys.stderr, flush=True)


def _json(variant: str, boards: list[Any], found: list[dict[str, Any]],
          engine: dict[str, Any]) -> dict[str, Any]:
    """``repro --json``'s shape (variant, platform, findings, stats) plus the engine."""
    return {"variant": variant,
            "platform": boards[0].name if len(boards) == 1 else [b.name for b in boards],
            "findings": [dict(f["finding"], board=f["board"], reproducer=f.get("reproducer"))
                         for f in found],
            "stats": {"distinct_findings": len(found), "boards": len(boards)},
            "engine": engine,
            "found": found}
