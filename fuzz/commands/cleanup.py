"""Remove the worktrees and probefuzz/<id> branches that `probefuzz apply` and `probefuzz propose` made.

`--variant ID` removes that variant's branch and worktree, `--all` every one
probefuzz made in the tree.  Only branches whose tip is a commit probefuzz
made, in worktrees under probefuzz's worktree directory with no uncommitted
changes, are removed; anything else is reported as refused and left alone.
Worktrees of applies that were killed mid-run are always pruned.
"""

from __future__ import annotations

import argparse
import json
import sys

from fuzz.cli import UsageError
from mutators.cleanup import CleanupError, cleanup
from mutators.gitrepo import BRANCH_PREFIX, RepoError, branch_name


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tree", required=True, help="the kernel git tree")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--variant", action="append", metavar="ID",
                       help="the variant id (or probefuzz/... branch) to remove; repeatable")
    which.add_argument("--all", action="store_true", help="every probefuzz branch and worktree")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _canonical(vid: str) -> str:
    """A variant-space id in its one spelling (the first spelling is still accepted)."""
    from mutators.space import format_id, parse_id

    base, muts = parse_id(vid)
    return format_id(base, muts) if muts else vid


def run(args: argparse.Namespace) -> int:
    branches = None
    if args.variant:
        branches = [v if v.startswith(BRANCH_PREFIX) else branch_name(_canonical(v)) for v in args.variant]
    try:
        res = cleanup(args.tree, branches)
    except (RepoError, CleanupError) as e:
        raise UsageError(str(e)) from None
    if args.json:
        json.dump({"removed": res.removed, "refused": res.refused, "pruned": res.pruned},
                  sys.stdout, indent=1)
        print()
    else:
        for b in res.pruned:
            print(f"pruned   {b} (left by a killed apply)")
        for b in res.removed:
            print(f"removed  {b}")
        for b, why in res.refused.items():
            print(f"refused  {b}: {why}")
        if not (res.pruned or res.removed or res.refused):
            print("nothing to clean up")
    return 1 if res.refused else 0
