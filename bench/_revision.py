"""A git revision of this checkout, checked out for a benchmark to compare against.

(The leading underscore keeps ``make bench``, which runs every ``bench/*.py``,
from running it: it is a helper of the benchmarks, not one.)"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def revision_worktree(rev: str, who: str) -> Iterator[Path]:
    """``rev`` in a temporary detached ``git worktree`` of this checkout, removed
    afterwards; exits 2 with one line naming ``who`` when ``rev`` cannot be
    checked out."""
    with tempfile.TemporaryDirectory(prefix="probefuzz-bench-rev-") as tmp:
        wt = Path(tmp) / "old"
        r = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), rev],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            print(f"{who}: cannot check out {rev}: {r.stderr.strip()}", file=sys.stderr)
            raise SystemExit(2)
        try:
            yield wt
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)],
                           capture_output=True, timeout=120)
