"""``Fixes:`` tags: from ``--fixes REV``, or the culprit found in the tree's history.

The culprit of a fix patch is looked for with ``git blame`` at the base over
the lines each hunk of the patch covers (removed and context lines: a move
shows up on either side, whichever the diff algorithm picks): the most recent
commit that wrote one of them.  A root commit is never a culprit -- in a tree
imported from a tarball it is the import, not a change anybody made.  This is
a heuristic; ``--fixes`` overrides it, and the report says where a tag came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import git


class FixesError(Exception):
    """``--fixes`` names no commit of the tree; one line."""


@dataclass(frozen=True)
class FixesTag:
    sha: str
    subject: str
    source: str  # "--fixes" or "history: git log -S ..."

    def line(self) -> str:
        """``Fixes: <12 hex> ("subject")`` as submitting-patches.rst spells it."""
        return f'Fixes: {self.sha[:12]} ("{self.subject}")'


def resolve(repo: git.Repo, rev: str, base: str) -> FixesTag:
    """The commit ``rev`` names; it must be an ancestor of (or be) ``base``."""
    try:
        sha = repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}")
    except git.GitCommandError:
        raise FixesError(f"--fixes {rev}: no such commit in {repo.working_tree_dir}") from None
    try:
        repo.git.merge_base("--is-ancestor", sha, base)
    except git.GitCommandError:
        raise FixesError(f"--fixes {rev}: {sha[:12]} is not in the history of the base "
                         f"{base[:12]}") from None
    return FixesTag(sha, repo.git.log("-1", "--format=%s", sha), "--fixes")


def hunk_ranges(diff: str) -> list[tuple[int, int]]:
    """``(start, count)`` of each hunk on the old side of a unified diff."""
    out = []
    for m in re.finditer(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", diff, flags=re.M):
        start, count = int(m.group(1)), int(m.group(2) or "1")
        if count:
            out.append((start, count))
    return out


def find_culprit(repo: git.Repo, base: str, path: str, diff: str) -> FixesTag | None:
    """The most recent non-root commit up to ``base`` that wrote the lines ``diff`` covers."""
    shas: set[str] = set()
    for start, count in hunk_ranges(diff):
        try:
            out = repo.git.blame("--porcelain", "-L", f"{start},+{count}", base, "--", path)
        except git.GitCommandError:
            continue
        shas.update(m.group(1) for m in re.finditer(r"^([0-9a-f]{40}) \d+ \d+", out, flags=re.M))
    best: tuple[int, str] | None = None
    for sha in shas:
        ct, _, parents = repo.git.log("-1", "--format=%ct %P", sha).partition(" ")
        if not parents.strip():
            continue  # a root commit
        if best is None or int(ct) > best[0]:
            best = (int(ct), sha)
    if best is None:
        return None
    sha = best[1]
    return FixesTag(sha, repo.git.log("-1", "--format=%s", sha),
                    f"history: git blame {base[:12]} -- {path}")
