"""Remove what ``apply`` and ``propose`` left in a tree: their worktrees and ``probefuzz/*`` branches.

Only things probefuzz created are touched.  A branch qualifies when its name
is ``probefuzz/<...>`` *and* its tip is a commit ``apply`` made (subject
``probefuzz: apply guard variant ...``) or, on a ``probefuzz/propose/`` branch,
one ``propose`` made (its "Found with probefuzz" line): a user's commit on top of one of our
branches, or a branch the user named that way by hand, makes it theirs.  A
worktree qualifies when it is on such a branch, lives under probefuzz's
worktree directory, and has no uncommitted changes.  Everything else is
reported as refused, with the reason, and left alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import git

from mutators import gitrepo
from mutators.propose.message import MARK as PROPOSE_MARK

#: subject prefix of every commit mutators.apply makes
APPLY_SUBJECT = "probefuzz: apply guard variant "
#: what every commit ``propose`` makes says of itself (its tool line; the second
#: is how propose said it before 0.1.0's messages were rewritten), and the branch
#: namespace it uses
PROPOSE_MARKS = (PROPOSE_MARK, "Found and generated with probefuzz ")
PROPOSE_PREFIX = gitrepo.BRANCH_PREFIX + "propose/"


class CleanupError(ValueError):
    """Nothing to clean up for the request (unknown variant branch); one line."""


@dataclass
class CleanupResult:
    removed: list[str] = field(default_factory=list)  # branches (and their worktrees)
    refused: dict[str, str] = field(default_factory=dict)  # branch -> why left alone
    pruned: list[str] = field(default_factory=list)  # stale worktrees of killed applies


def _ours(repo: git.Repo, branch: str) -> str | None:
    """None if ``branch`` is probefuzz's to remove, else why not."""
    if not branch.startswith(gitrepo.BRANCH_PREFIX):
        return "not a probefuzz/ branch"
    subject = repo.git.log("-1", "--format=%s", f"refs/heads/{branch}")
    if subject.startswith(APPLY_SUBJECT):
        return None
    if branch.startswith(PROPOSE_PREFIX):
        body = " ".join(repo.git.log("-1", "--format=%B", f"refs/heads/{branch}").split())
        if any(m in body for m in PROPOSE_MARKS):
            return None
    return f"tip commit is not probefuzz's ({subject[:50]!r})"


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def cleanup(tree: str | os.PathLike[str], branches: list[str] | None = None) -> CleanupResult:
    """Remove probefuzz's worktrees and branches from the kernel tree at ``tree``.

    ``branches``: only these (``probefuzz/<id>`` names); ``None``: all of ours.
    Stale worktrees of killed applies are always pruned.
    """
    repo = gitrepo.open_tree(tree)
    res = CleanupResult(pruned=gitrepo.prune_stale(repo))
    heads = {h.name for h in repo.heads}
    if branches is None:
        wanted = sorted(h for h in heads if h.startswith(gitrepo.BRANCH_PREFIX))
    else:
        unknown = [b for b in branches if b not in heads]
        if unknown:
            raise CleanupError(f"no branch {unknown[0]} in {repo.working_tree_dir}")
        wanted = branches
    main_wt = Path(repo.working_tree_dir or ".").resolve()
    wts = {w.get("branch", "").removeprefix("refs/heads/"): Path(w["worktree"])
           for w in gitrepo.list_worktrees(repo) if "branch" in w}
    root = gitrepo.worktrees_root()
    for br in wanted:
        why = _ours(repo, br)
        wt = wts.get(br)
        if why is None and wt is not None:
            if wt.resolve() == main_wt:
                why = "checked out in the tree itself"
            elif not _under(wt, root):
                why = f"its worktree {wt} is not one probefuzz made"
            elif wt.is_dir() and git.Repo(wt).git.status("--porcelain"):
                why = f"its worktree {wt} has uncommitted changes"
        if why is not None:
            res.refused[br] = why
            continue
        if wt is not None:
            gitrepo.remove_worktree(repo, wt, br)
        else:
            repo.git.branch("-D", br)
        res.removed.append(br)
    return res
