"""Time `propose` of the seed's fix variant on the prepared kernel tree, per step.

Usage: python bench/bench_propose.py [VARIANT] [--tree DIR]
Leaves nothing behind (the propose branch and worktree are removed).  The
prepared 6.12 tree lacks the series, so it is re-created for testing
(``--prerequisites-mbox``): the timing covers those commits too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from corpus import kernel_tree as kt
from corpus.bundled import load_bundled
from mutators.gitrepo import open_tree, remove_worktree
from mutators.propose.pipeline import ProposeRequest, propose, reference_for
from mutators.space import resolve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variant", nargs="?", default="NEXT+rk_iommu_probe.dma_dev:=before_register")
    ap.add_argument("--tree", default=None)
    a = ap.parse_args()
    tree = a.tree or str(kt.default_tree_path())
    tmp = Path(tempfile.mkdtemp(prefix="pf-bench-propose-"))
    os.environ["PROBEFUZZ_WORKTREES"] = str(tmp / "wt")
    m = resolve(a.variant)
    req = ProposeRequest(tree=tree, variant=m.variant, variant_id=f"bench-{m.variant.fingerprint()}",
                         reference=reference_for(m.id), signoff=True,
                         boards=[("rk3568-odroid-m1", load_bundled("rk3568-odroid-m1"))],
                         out=str(tmp / "out"), force=True,
                         prerequisites_mbox=str(tmp / "prerequisites.mbox"))
    try:
        res = propose(req)
        remove_worktree(open_tree(tree), Path(res.worktree), res.branch)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"propose {m.id}: {len(res.patches)} patches, checkpatch {res.errors} errors "
          f"{res.warnings} warnings {res.checks} checks, git am ok: {res.am_applies}")
    print("  " + ", ".join(f"{k} {v:.2f} s" for k, v in res.seconds.items()))


if __name__ == "__main__":
    main()
