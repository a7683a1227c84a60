"""Apply a variant to a kernel git tree with Coccinelle, on a new branch.

Creates a new (sparse) git worktree under ~/.cache/probefuzz/worktrees on the
branch probefuzz/<id> from the tree's HEAD (or --base-ref), runs spatch for
each guard site of the variant on the files narrowed with git grep, fixes the
layout up and commits with a message saying what changes and why.  With
--build it then compiles the touched objects for arm64 (aarch64-linux-gnu-gcc,
defconfig plus the Kconfig options the files need) in a reusable build cache
under ~/.cache/probefuzz/build-arm64 and reports each object; exit 1 if one
does not compile.  The tree's
own checkout and uncommitted work are never touched; a failed apply removes
its worktree and branch, and stale ones left by a killed apply are pruned.
"""

from __future__ import annotations

import argparse
import json
import sys

from fuzz.cli import UsageError
from mutators.apply import apply_variant
from mutators.engine import SPATCH_TIMEOUT
from mutators.gitrepo import RepoError
from mutators.rules import RuleError
from mutators.space import resolve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", required=True,
                   help="variant id (V614, NEXT, NEXT+site:op..., or a variant JSON file)")
    p.add_argument("--tree", required=True, help="the kernel git tree")
    p.add_argument("--base-ref", default="HEAD", help="commit to branch from (default HEAD)")
    p.add_argument("--build", action="store_true",
                   help="compile the touched objects (arm64 cross toolchain)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing probefuzz/<id> branch and its worktree")
    p.add_argument("--timeout", type=float, default=SPATCH_TIMEOUT,
                   help=f"seconds per spatch run (default {SPATCH_TIMEOUT:g})")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    mutant = resolve(args.variant)
    try:
        res = apply_variant(args.tree, mutant.variant, base_ref=args.base_ref,
                            variant_id=mutant.id, force=args.force, timeout=args.timeout,
                            build=args.build)
    except (RepoError, RuleError) as e:
        raise UsageError(str(e)) from None
    if args.json:
        json.dump(res.as_json(), sys.stdout, indent=1)
        print()
    else:
        print(f"branch:   {res.branch}")
        print(f"worktree: {res.worktree}")
        print(f"commit:   {res.commit}")
        for s in res.sites:
            print(f"  {s['status']:8} {s['site']}" + (f" ({s['file']})" if s["file"] else ""))
        print(res.diffstat)
        for b in res.build:
            note = "" if b["rebuilt"] else " (up to date)"
            print(f"  build {b['status']:5} {b['object']}{note}")
            for ln in b["errors"]:
                print(f"        {ln}")
        print(f"({res.seconds['total']:.1f} s)")
    failed = [b for b in res.build if b.get("status") != "ok"]
    return 1 if failed else 0
