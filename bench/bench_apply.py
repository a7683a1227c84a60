"""Time `apply` of a variant to the prepared kernel tree (worktree + spatch + commit).

Usage: python bench/bench_apply.py [VARIANT] [--tree DIR]
"""

from __future__ import annotations

import argparse
import tempfile

from corpus import kernel_tree as kt
from mutators.apply import apply_variant
from mutators.gitrepo import open_tree, remove_worktree
from mutators.space import resolve, space


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variant", nargs="?", default="NEXT")
    ap.add_argument("--tree", default=None)
    a = ap.parse_args()
    tree = a.tree or str(kt.default_tree_path())
    import os

    os.environ["PROBEFUZZ_WORKTREES"] = tempfile.mkdtemp(prefix="pf-bench-")
    m = resolve(a.variant)
    res = apply_variant(tree, m.variant, variant_id=f"bench-{m.variant.fingerprint()}",
                        force=True)
    remove_worktree(open_tree(tree), __import__("pathlib").Path(res.worktree), res.branch)
    print(f"apply {m.id}: " + ", ".join(f"{k} {v:.2f} s" for k, v in res.seconds.items()))
    print(f"space around NEXT: depth 1 = {len(space('NEXT', 1))}, "
          f"depth 2 = {len(space('NEXT', 2))} variants")


if __name__ == "__main__":
    main()
