"""Time `apply` of a variant to the prepared kernel tree (worktree + spatch + commit),
and with `--build` the arm64 compile of the touched objects.

Usage: python bench/bench_apply.py [VARIANT] [--tree DIR] [--build]

With --build it applies VARIANT twice with the compile check: the first run
shows the state of the build cache (cold: clone + checkout + defconfig +
prepare, when ~/.cache/probefuzz/build-arm64 is empty), the second a warm run
after a depth-1 neighbour touched one of the files (the objects whose source
changed are recompiled, the rest are up to date).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from corpus import kernel_tree as kt
from mutators.apply import ApplyResult, apply_variant
from mutators.gitrepo import open_tree, remove_worktree
from mutators.space import resolve, space

#: a neighbour of NEXT that changes iommu.c only (to make the next NEXT build warm-but-not-idle)
NEIGHBOUR = "NEXT+iommu_init_device.dma_configure_lock=hold"


def _apply(tree: str, vid: str, build: bool) -> ApplyResult:
    m = resolve(vid)
    res = apply_variant(tree, m.variant, variant_id=f"bench-{m.variant.fingerprint()}",
                        force=True, build=build)
    remove_worktree(open_tree(tree), Path(res.worktree), res.branch)
    return res


def _line(label: str, res: ApplyResult) -> str:
    rebuilt = sum(1 for b in res.build if b["rebuilt"])
    objs = f" [{len(res.build)} objects, {rebuilt} recompiled]" if res.build else ""
    return f"{label}: " + ", ".join(f"{k} {v:.2f} s" for k, v in res.seconds.items()) + objs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variant", nargs="?", default="NEXT")
    ap.add_argument("--tree", default=None)
    ap.add_argument("--build", action="store_true", help="also measure apply --build")
    a = ap.parse_args()
    tree = a.tree or str(kt.default_tree_path())
    os.environ["PROBEFUZZ_WORKTREES"] = tempfile.mkdtemp(prefix="pf-bench-")
    print(_line(f"apply {a.variant}", _apply(tree, a.variant, False)))
    if a.build:
        first = _apply(tree, a.variant, True)
        print(_line(f"apply --build {a.variant} ({'cold' if first.seconds['build_cold'] else 'warm'})",
                    first))
        _apply(tree, NEIGHBOUR, True)
        print(_line(f"apply --build {a.variant} (warm, after {NEIGHBOUR})",
                    _apply(tree, a.variant, True)))
    print(f"space around NEXT: depth 1 = {len(space('NEXT', 1))}, "
          f"depth 2 = {len(space('NEXT', 2))} variants")


if __name__ == "__main__":
    main()
