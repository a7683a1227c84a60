"""Git plumbing for ``apply``: worktrees of ours, their branches, stale leftovers.

The user's checkout is never written: everything happens in a *new* worktree
(under ``~/.cache/probefuzz/worktrees/``) on a new branch ``probefuzz/<id>``.
The worktree is sparse -- only the files the rules touch are checked out --
which takes well under a second on a kernel-sized repo instead of ~20 s, and
it does not touch the repository's config (no ``git sparse-checkout``, which
would turn on ``extensions.worktreeConfig``): the sparse pattern is written
into the worktree's own git dir and ``core.sparseCheckout`` is passed per
command.  Skip-worktree bits keep ``git status`` in the worktree clean.

While an apply runs, the worktree's git dir holds ``probefuzz-pid``; a later
apply (or ``cleanup``) removes worktrees whose owner process is gone (killed
mid-run) together with their branch.  That file can only be written once
``git worktree add`` has made the worktree (and its branch), so an *intent*
is recorded first, in ``<git common dir>/probefuzz-intents/``: the branch,
the worktree path, the base and the owner.  An intent whose owner is gone
means the apply died while making the worktree; its branch (still at the base)
and whatever part of the worktree git had made are removed with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import git

from corpus.kernel_tree import is_kernel_tree
from corpus.reaper import die_with_parent
from mutators.ids import id_slug

BRANCH_PREFIX = "probefuzz/"
PID_FILE = "probefuzz-pid"
OWNER_FILE = "probefuzz-owner"
INTENT_DIR = "probefuzz-intents"
GIT_TIMEOUT = 120.0


class RepoError(Exception):
    """Not a usable git kernel tree, or a branch/worktree conflict; one line."""


class GitTimeout(RepoError):
    """A git command ran past :data:`GIT_TIMEOUT` and was killed.  Not a
    ``git.GitCommandError``, so no caller mistakes it for "no such ref"."""


class TimedGit(git.Git):
    """GitPython's command runner, bounded like every other external call:
    each git command is killed after :data:`GIT_TIMEOUT` seconds (GitPython's
    ``kill_after_timeout``) and dies with us (``PDEATHSIG``)."""

    def execute(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("as_process") and kwargs.get("output_stream") is None:
            kwargs.setdefault("kill_after_timeout", GIT_TIMEOUT)
        kwargs.setdefault("preexec_fn", die_with_parent)
        try:
            return super().execute(command, *args, **kwargs)
        except git.GitCommandError as e:
            if "did not complete in" in str(e.stderr):
                argv = command if isinstance(command, str) else " ".join(str(c) for c in command[:3])
                raise GitTimeout(f"{argv} timed out after {kwargs['kill_after_timeout']:g} s "
                                 f"in {self._working_dir}") from None
            raise


class Repo(git.Repo):
    """``git.Repo`` whose commands go through :class:`TimedGit`."""

    GitCommandWrapperType = TimedGit


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "probefuzz"


def open_tree(path: str | os.PathLike[str]) -> git.Repo:
    """The git repository whose work tree is the kernel tree at ``path``."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise RepoError(f"{p}: no such directory")
    try:
        repo = Repo(p, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RepoError(f"{p}: not a git repository (run `probefuzz kernel-tree` "
                        "for a prepared tree)") from None
    if repo.bare or repo.working_tree_dir is None:
        raise RepoError(f"{p}: bare repository, need a work tree")
    if not is_kernel_tree(repo.working_tree_dir):
        raise RepoError(f"{repo.working_tree_dir}: not a Linux kernel tree")
    return repo


def branch_name(variant_id: str) -> str:
    """The branch of a variant: ``probefuzz/<id>``, the id spelled as everywhere
    else (:func:`mutators.ids.id_slug`; free-text names of variant JSON files
    are sanitised and hashed)."""
    return BRANCH_PREFIX + id_slug(variant_id)


def worktrees_root() -> Path:
    """Where worktrees go: ``$PROBEFUZZ_WORKTREES`` or ``~/.cache/probefuzz/worktrees``."""
    env = os.environ.get("PROBEFUZZ_WORKTREES")
    return Path(env) if env else cache_root() / "worktrees"


def worktree_dir(repo: git.Repo, branch: str) -> Path:
    key = hashlib.sha256(str(Path(repo.git_dir).resolve()).encode()).hexdigest()[:10]
    return worktrees_root() / key / branch[len(BRANCH_PREFIX):].replace("/", "_")


def list_worktrees(repo: git.Repo) -> list[dict[str, str]]:
    """``git worktree list --porcelain`` as dicts (``worktree``, ``branch``, ...)."""
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for ln in repo.git.worktree("list", "--porcelain").splitlines():
        if not ln.strip():
            if cur:
                out.append(cur)
            cur = {}
            continue
        k, _, v = ln.partition(" ")
        cur[k] = v
    if cur:
        out.append(cur)
    return out


def _wt_gitdir(repo: git.Repo, wt: Path) -> Path | None:
    dotgit = wt / ".git"
    if dotgit.is_file():
        m = re.match(r"gitdir: (.*)", dotgit.read_text().strip())
        if m:
            return Path(m.group(1))
    for d in (Path(repo.common_dir) / "worktrees").glob("*"):
        gd = d / "gitdir"
        if gd.is_file() and Path(gd.read_text().strip()).parent == wt:
            return d
    return None


#: an owner in another PID namespace cannot be checked; its worktree counts as
#: stale only after this many seconds without the apply finishing
FOREIGN_STALE_SECONDS = 6 * 3600


def _self_ns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot (tells a reused pid apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def write_owner(gd: Path) -> None:
    """Record the running apply in a worktree's git dir: ``probefuzz-pid`` (the
    pid) and ``probefuzz-owner`` (its PID namespace and start time)."""
    pid = os.getpid()
    (gd / OWNER_FILE).write_text(f"{_self_ns()} {_start_time(pid)}\n")
    (gd / PID_FILE).write_text(str(pid))


def _owner_alive(pidf: Path) -> bool:
    """Whether the apply that wrote ``pidf`` may still be running.

    Several processes (other users of a shared tree, containers) may run
    applies on one repository; a pid from another PID namespace means nothing
    here, so such a worktree is only stale once it is old; a pid that was
    reused by another process (other start time) is dead.
    """
    try:
        pid = int(pidf.read_text().strip() or "0")
    except ValueError:
        return False
    ownf = pidf.with_name(OWNER_FILE)
    extra = ownf.read_text().split() if ownf.is_file() else []
    ns = extra[0] if extra else None
    start = extra[1] if len(extra) > 1 else None
    return _alive(pid, ns, start, pidf.stat().st_mtime)


def _alive(pid: int, ns: str | None, start: str | None, since: float) -> bool:
    """Whether process ``pid`` of PID namespace ``ns`` started at ``start``
    (``None``: not recorded) may still be the one that wrote a record at
    ``since`` (epoch seconds)."""
    if ns is not None and ns != _self_ns():
        return time.time() - since < FOREIGN_STALE_SECONDS
    if pid == os.getpid() or not pid or not _pid_alive(pid):
        return False
    return start is None or _start_time(pid) == start


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_worktree(repo: git.Repo, wt: Path, branch: str | None) -> None:
    """Remove one of our worktrees and its branch; never fails halfway silently."""
    try:
        repo.git.worktree("remove", "--force", "--force", str(wt))
    except git.GitCommandError:
        shutil.rmtree(wt, ignore_errors=True)
        repo.git.worktree("prune")
    if branch and branch.startswith(BRANCH_PREFIX):
        try:
            repo.git.branch("-D", branch)
        except git.GitCommandError:
            pass


def drop_branch(repo: git.Repo, branch: str) -> None:
    """Remove an existing ``probefuzz/*`` branch and the worktree that has it
    checked out, if any (``--force`` replacing an earlier apply or propose)."""
    wt = next((Path(w["worktree"]) for w in list_worktrees(repo)
               if w.get("branch") == f"refs/heads/{branch}"), None)
    if wt is not None:
        remove_worktree(repo, wt, branch)
    else:
        repo.git.branch("-D", branch)


def prune_stale(repo: git.Repo) -> list[str]:
    """Remove ``probefuzz/*`` worktrees left by an apply that died; return their branches."""
    removed = _prune_intents(repo)
    repo.git.worktree("prune")
    for wt in list_worktrees(repo):
        branch = wt.get("branch", "").removeprefix("refs/heads/")
        if not branch.startswith(BRANCH_PREFIX):
            continue
        path = Path(wt["worktree"])
        gd = _wt_gitdir(repo, path)
        pidf = gd / PID_FILE if gd is not None else None
        if pidf is None or not pidf.is_file():
            continue  # a finished apply: the user's to keep
        if _owner_alive(pidf):
            continue  # another apply is running
        remove_worktree(repo, path, branch)
        removed.append(branch)
    return removed


def _intents(repo: git.Repo) -> Path:
    return Path(repo.common_dir) / INTENT_DIR


def _write_intent(repo: git.Repo, branch: str, wt: Path, base: str) -> Path:
    """Record, before anything is made, that this process makes ``branch`` at
    ``base`` with its worktree at ``wt`` (written whole or not at all)."""
    d = _intents(repo)
    pid = os.getpid()
    key = hashlib.sha256(branch.encode()).hexdigest()[:16]
    path = d / f"{pid}-{key}"
    tmp = d / f".{pid}-{key}.tmp"
    text = json.dumps({"branch": branch, "worktree": str(wt), "base": base, "pid": pid,
                       "ns": _self_ns(), "start": _start_time(pid)})
    for attempt in range(3):
        d.mkdir(exist_ok=True)
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
            return path
        except FileNotFoundError:
            if attempt == 2:  # another apply's _drop_intent removed the directory meanwhile
                raise
    raise AssertionError("unreachable")


def _drop_intent(path: Path) -> None:
    """Remove an intent, and the directory with the last one: nothing of ours
    stays in the repository's git directory."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # not empty: another apply's intent, or a stale one


def _read_intents(repo: git.Repo) -> list[tuple[Path, dict[str, Any] | None, bool]]:
    """Every intent file: (path, record or None if unreadable, owner may be alive)."""
    d = _intents(repo)
    out: list[tuple[Path, dict[str, Any] | None, bool]] = []
    for f in sorted(d.iterdir()) if d.is_dir() else []:
        try:
            rec = json.loads(f.read_text())
            alive = _alive(int(rec["pid"]), str(rec["ns"]), str(rec["start"]), f.stat().st_mtime)
            out.append((f, rec, alive))
        except (OSError, ValueError, KeyError, TypeError):
            # a temporary file never renamed (the apply died before it made
            # anything), or junk: only its pid is known
            pid = f.name.lstrip(".").split("-", 1)[0]
            out.append((f, None, pid.isdigit() and _alive(int(pid), None, None, 0.0)))
    return out


def _claimed(repo: git.Repo, branch: str, mine: Path | None = None) -> bool:
    """Whether a live apply other than the one of intent ``mine`` is making ``branch``."""
    return any(alive and rec is not None and rec.get("branch") == branch and f != mine
               for f, rec, alive in _read_intents(repo))


def _prune_intents(repo: git.Repo) -> list[str]:
    """Undo what applies that died while making their worktree had made:
    the worktree (registered or half made) and the branch, if it is still at
    the base and checked out nowhere.  Returns the branches removed."""
    removed: list[str] = []
    for f, rec, alive in _read_intents(repo):
        if alive:
            continue
        if rec is not None:
            branch = str(rec.get("branch", ""))
            if (branch.startswith(BRANCH_PREFIX) and not _claimed(repo, branch)
                    and _undo_intent(repo, branch, Path(str(rec.get("worktree", ""))),
                                     str(rec.get("base", "")))):
                removed.append(branch)
        _drop_intent(f)
    return removed


def _undo_intent(repo: git.Repo, branch: str, wt: Path, base: str) -> bool:
    """Remove the worktree at ``wt`` and ``branch`` that an apply was making
    when it died (or failed); True if the branch was removed."""
    if _under_worktrees(wt):
        gd = _wt_gitdir(repo, wt)
        if gd is not None:
            # git's "initializing" lock of an add that never finished: it would
            # keep `worktree prune` from removing the entry
            (gd / "locked").unlink(missing_ok=True)
        if any(Path(w["worktree"]) == wt for w in list_worktrees(repo)):
            remove_worktree(repo, wt, None)
        shutil.rmtree(wt, ignore_errors=True)  # half made, never registered
        repo.git.worktree("prune")
    try:
        tip = repo.git.rev_parse("--verify", "-q", f"refs/heads/{branch}")
    except git.GitCommandError:
        return False  # never made
    checked_out = any(w.get("branch") == f"refs/heads/{branch}" for w in list_worktrees(repo))
    if tip != base or checked_out:
        return False  # moved on since, or in use: not the dead apply's to take back
    repo.git.branch("-D", branch)
    return True


def _under_worktrees(path: Path) -> bool:
    try:
        path.resolve().relative_to(worktrees_root().resolve())
    except ValueError:
        return False
    return True


def _branch_exists(repo: git.Repo, branch: str) -> bool:
    try:
        repo.git.rev_parse("--verify", "-q", f"refs/heads/{branch}")
    except git.GitCommandError:
        return False
    return True


def create_sparse_worktree(repo: git.Repo, branch: str, base: str,
                           files: Iterable[str]) -> tuple[Path, git.Repo]:
    """New worktree on a new ``branch`` at ``base`` with only ``files`` checked out.

    Nothing is left behind if this fails, and nothing a later
    :func:`prune_stale` cannot remove if the process is killed meanwhile (the
    intent recorded first covers the time before the worktree's own
    ``probefuzz-pid``)."""
    wt = worktree_dir(repo, branch)
    if wt.exists():
        raise RepoError(f"worktree {wt} already exists (use --force to replace it)")
    wt.parent.mkdir(parents=True, exist_ok=True)
    base = repo.git.rev_parse("--verify", f"{base}^{{commit}}")
    existed = _branch_exists(repo, branch)  # then `worktree add -b` fails, and it is not ours
    intent = _write_intent(repo, branch, wt, base)
    made = False
    try:
        repo.git.worktree("add", "--no-checkout", "-b", branch, str(wt), base)
        made = True
        gd = _wt_gitdir(repo, wt)
        if gd is None:
            raise RepoError(f"{wt}: git did not create the worktree")
        write_owner(gd)
        (gd / "info").mkdir(exist_ok=True)
        (gd / "info" / "sparse-checkout").write_text("".join(f"/{f}\n" for f in files))
        wrepo = Repo(wt)
        wrepo.git.execute(["git", "-c", "core.sparseCheckout=true", "read-tree", "-mu", "HEAD"])
    except BaseException:
        if made:
            remove_worktree(repo, wt, branch)
        elif not existed and not _claimed(repo, branch, intent):
            _undo_intent(repo, branch, wt, base)  # a `worktree add` that timed out midway
        raise
    finally:
        _drop_intent(intent)
    return wt, wrepo


def finish_worktree(wrepo: git.Repo) -> None:
    """Mark a worktree as completed (no longer a candidate for stale pruning)."""
    (Path(wrepo.git_dir) / PID_FILE).unlink(missing_ok=True)
    (Path(wrepo.git_dir) / OWNER_FILE).unlink(missing_ok=True)


def locate_functions(repo: git.Repo, ref: str, functions: dict[str, str]) -> dict[str, str]:
    """Find the file defining each function at ``ref`` with ``git grep`` (no checkout).

    ``functions`` maps a key to ``(function)``; the declared file is tried first
    by the caller, this narrows the rest of the tree to the files that matter.
    """
    found: dict[str, str] = {}
    for key, fn in functions.items():
        try:
            out = repo.git.grep("-l", "-E", rf"^[a-z].*\b{re.escape(fn)}\(", ref, "--", "*.c")
        except git.GitCommandError:
            continue
        hits = [ln.split(":", 1)[1] for ln in out.splitlines() if ":" in ln]
        if hits:
            found[key] = hits[0]
    return found
