"""``Fixes:`` tags: from ``--fixes REV``, or the culprit found in the tree's history.

The culprit of a fix patch is looked for with ``git log -S`` on the lines the
patch removes: the most recent commit (before the base) that added them.
A root commit is never a culprit -- in a tree imported from a tarball it is
the import, not a change anybody made -- and neither is a commit outside the
base's history.
"""

from __future__ import annotations

from dataclasses import dataclass

import git

#: removed lines shorter than this are too generic to search for
MIN_NEEDLE = 12


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


def removed_lines(diff: str) -> list[str]:
    """The code lines a diff removes (stripped), long enough to be specific."""
    out = []
    for ln in diff.splitlines():
        if ln.startswith("-") and not ln.startswith("---"):
            text = ln[1:].strip()
            if len(text) >= MIN_NEEDLE and not text.startswith(("/*", "*", "//")):
                out.append(text)
    return out


def find_culprit(repo: git.Repo, base: str, path: str, needles: list[str]) -> FixesTag | None:
    """The most recent non-root commit up to ``base`` that added one of ``needles``."""
    best: tuple[int, str, str] | None = None
    for needle in needles:
        try:
            out = repo.git.log("--format=%H %ct %P", "-S", needle, base, "--", path)
        except git.GitCommandError:
            continue
        for ln in out.splitlines():
            parts = ln.split()
            if len(parts) < 3:
                continue  # a root commit: no parents
            sha, ct = parts[0], int(parts[1])
            if best is None or ct > best[0]:
                best = (ct, sha, needle)
            break  # newest for this needle
    if best is None:
        return None
    _, sha, needle = best
    return FixesTag(sha, repo.git.log("-1", "--format=%s", sha),
                    f"history: git log -S '{needle}' -- {path}")
