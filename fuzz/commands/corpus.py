"""Build platform corpora from a kernel tree.

`probefuzz corpus build` compiles every board .dts of the chosen
architectures (cpp + dtc, as Kbuild does), converts each DTB into a platform
JSON under --out, and prints per-family IOMMU counts.  Reruns only rebuild
boards whose sources changed.  Boards that fail are listed with their error
and skipped.  `probefuzz corpus bundle` regenerates the small corpus shipped
in corpus/boards/.  Exit 0: built; 1: no board could be built; 2: bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from corpus import bundled, kernel_tree
from corpus.build import build, default_out
from fuzz.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``build`` and ``bundle``."""
    sub = parser.add_subparsers(dest="corpus_cmd", metavar="COMMAND")
    b = sub.add_parser("build", help="build the corpus of every board of a tree",
                       description="Compile every board of a kernel tree into platform JSON.")
    _tree_arg(b)
    b.add_argument("--arch", default="arm64",
                   help="comma-separated architectures (default: arm64), e.g. arm64,arm")
    b.add_argument("--jobs", "-j", type=int, default=None,
                   help="worker processes (default: all cores)")
    b.add_argument("--out", type=Path, metavar="DIR",
                   help="output directory (default: ~/.cache/probefuzz/corpus/<tree>)")
    b.add_argument("--match", action="append", default=[], metavar="GLOB",
                   help="only boards whose path below arch/<arch>/boot/dts matches "
                        "(e.g. 'rockchip/rk35*'); repeatable")
    b.add_argument("--force", action="store_true", help="ignore the cache, rebuild every board")
    b.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    bb = sub.add_parser("bundle", help="regenerate the bundled boards in corpus/boards/",
                        description="Rebuild corpus/boards/*.json from a kernel tree.")
    _tree_arg(bb)
    bb.add_argument("--out", type=Path, metavar="DIR",
                    help="where to write (default: the corpus/boards package directory)")


def _tree_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tree", type=Path, metavar="DIR",
                   help="kernel tree (default: the prepared tree of `probefuzz kernel-tree`)")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the subcommand."""
    if args.corpus_cmd == "build":
        return _build(args)
    if args.corpus_cmd == "bundle":
        return _bundle(args)
    raise UsageError("missing command: build or bundle (see probefuzz corpus --help)")


def _tree(args: argparse.Namespace) -> Path:
    tree = args.tree if args.tree is not None else kernel_tree.default_tree_path()
    if not tree.exists():
        hint = "" if args.tree is not None else " (run `probefuzz kernel-tree` or pass --tree)"
        raise UsageError(f"--tree {tree}: no such directory{hint}")
    if not kernel_tree.is_kernel_tree(tree):
        raise UsageError(f"--tree {tree}: not a kernel tree")
    return tree


def _build(args: argparse.Namespace) -> int:
    tree = _tree(args)
    archs = tuple(a.strip() for a in args.arch.split(",") if a.strip())
    if not archs:
        raise UsageError("--arch: no architecture given")
    for a in archs:
        if not (tree / "arch" / a / "boot" / "dts").is_dir():
            raise UsageError(f"--arch {a}: {tree}/arch/{a}/boot/dts does not exist")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    out = args.out if args.out is not None else default_out(tree)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")


    bar: Any = None

    def on_total(n: int) -> None:
        nonlocal bar
        # tqdm writes to stderr and turns itself off when stderr is not a terminal.
        bar = tqdm(total=n, unit="board", desc="corpus", disable=None, leave=False)

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n)

    try:
        report = build(tree, out, archs, jobs=args.jobs, match=args.match, force=args.force,
                       progress=progress, on_total=on_total)
    finally:
        if bar is not None:
            bar.close()
    s = report.summary()
    if args.json:
        json.dump(s, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_summary(s))
    if not report.boards:
        raise UsageError(f"no boards match {' '.join(args.match) or '*'} under {', '.join(archs)}")
    return 0 if s["built"] else 1


def format_summary(s: dict[str, Any]) -> str:
    """The terminal table of a build summary."""
    lines = [
        f"corpus: {s['boards']} {','.join(s['archs'])} boards from {s['tree']} "
        f"in {s['elapsed_s']:.1f} s ({s['jobs']} jobs, {s['cached']} cached)",
        f"  written to {s['out']}",
        f"  built {s['built']}, with IOMMUs {s['with_iommus']}, skipped {s['skipped']}",
        "",
    ]
    fams = s["families"]
    if fams:
        w = max(12, *(len(f) for f in fams))
        lines.append(f"  {'family':<{w}} {'boards':>7} {'instances':>10} {'enabled':>8} "
                     f"{'clients':>8} {'enabled':>8}")
        for f, c in fams.items():
            lines.append(f"  {f:<{w}} {c.get('boards', 0):>7} {c.get('instances', 0):>10} "
                         f"{c.get('enabled_instances', 0):>8} {c.get('clients', 0):>8} "
                         f"{c.get('enabled_clients', 0):>8}")
        lines.append("")
    if s["skipped"]:
        lines.append("  skipped:")
        for reason, n in s["skipped_reasons"].items():
            lines.append(f"    {n:>4}  {reason}")
        for b in s["skipped_boards"][:20]:
            lines.append(f"    {b['error']}")
        if len(s["skipped_boards"]) > 20:
            lines.append(f"    ... {len(s['skipped_boards']) - 20} more (see --json)")
        lines.append("")
    return "\n".join(lines)


def _bundle(args: argparse.Namespace) -> int:
    tree = _tree(args)
    out = args.out if args.out is not None else bundled.BOARDS_DIR
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    written = bundled.regenerate(tree, out)
    for name, fams in written:
        print(f"{name}: {', '.join(fams) or 'no IOMMU'}")
    print(f"{len(written)} boards written to {out}", file=sys.stderr)
    return 0
