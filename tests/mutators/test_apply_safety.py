"""apply never touches the user's checkout, cleans up after every failure."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import git as git_mod
import pytest

from corpus.hosttools import ToolError
from harness.variant import NEXT
from mutators import gitrepo
from mutators.apply import apply_variant, cleanup
from mutators.rules import RuleError
from tests.mutators.conftest import git, snapshot

pytestmark = pytest.mark.kernel_tree


def _no_leftovers(repo: Path) -> None:
    assert "probefuzz/" not in git(repo, "branch", "--list")
    assert git(repo, "worktree", "list").count("\n") == 1


def test_apply_next_keeps_checkout(mini_repo: Path) -> None:
    before = snapshot(mini_repo)
    res = apply_variant(mini_repo, NEXT)
    assert snapshot(mini_repo) == before
    assert res.branch == "probefuzz/NEXT"
    assert git(mini_repo, "rev-parse", res.branch).strip() == res.commit
    diff = git(mini_repo, "show", res.commit)
    assert "dev->driver" in diff and "skip_map:" in diff
    assert "user's uncommitted edit" not in diff
    wt = Path(res.worktree)
    assert git(wt, "status", "--porcelain") == ""
    assert not str(wt).startswith(str(mini_repo))


def test_second_apply_needs_force(mini_repo: Path) -> None:
    apply_variant(mini_repo, NEXT)
    with pytest.raises(gitrepo.RepoError, match="already exists"):
        apply_variant(mini_repo, NEXT)
    apply_variant(mini_repo, NEXT, force=True)


def test_rule_matching_nothing_is_an_error_and_cleans_up(mini_repo: Path) -> None:
    f = mini_repo / "drivers/amba/bus.c"
    f.write_text(f.read_text().replace("iommu_device_use_default_domain(dev)", "other(dev)"))
    git(mini_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "reshape")
    (mini_repo / "drivers/base/platform.c").write_text("dirty again\n")
    before = snapshot(mini_repo)
    with pytest.raises(RuleError, match=r"amba_dma_configure.*drivers/amba/bus.c"):
        apply_variant(mini_repo, NEXT)
    assert snapshot(mini_repo) == before
    _no_leftovers(mini_repo)


def test_spatch_timeout_cleans_up(mini_repo: Path) -> None:
    before = snapshot(mini_repo)
    with pytest.raises(ToolError):
        apply_variant(mini_repo, NEXT, timeout=0.001)
    assert snapshot(mini_repo) == before
    _no_leftovers(mini_repo)


def test_killed_apply_leaves_nothing_a_later_apply_cannot_fix(mini_repo: Path,
                                                               tmp_path: Path) -> None:
    before = snapshot(mini_repo)
    # a spatch that hangs, so that the apply is mid-run when killed
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "spatch").write_text("#!/bin/sh\nsleep 20\n")
    (fake / "spatch").chmod(0o755)
    # no CLI supervisor here: the killed process's .cocci stays in this TMPDIR, not /tmp
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", TMPDIR=str(tmp_path / "tmp"))
    code = ("import sys; from harness.variant import NEXT; from mutators.apply import "
            f"apply_variant; apply_variant({str(mini_repo)!r}, NEXT)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=os.getcwd())
    deadline = time.monotonic() + 60
    while "probefuzz/NEXT" not in git(mini_repo, "worktree", "list"):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert snapshot(mini_repo) == before
    assert "probefuzz/NEXT" in git(mini_repo, "worktree", "list")  # stale leftover
    res = apply_variant(mini_repo, NEXT)  # prunes it and succeeds
    assert res.branch == "probefuzz/NEXT"
    assert snapshot(mini_repo) == before
    assert cleanup(mini_repo, all_branches=True) == ["probefuzz/NEXT"]
    _no_leftovers(mini_repo)


_DIE_AT = """
import os, signal, sys
from harness.variant import NEXT
from mutators import gitrepo
from mutators.apply import apply_variant

def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[2]
if point == "intent-written":  # nothing made yet
    write_intent = gitrepo._write_intent
    gitrepo._write_intent = lambda *a: (write_intent(*a), die())
elif point == "worktree-added":  # worktree and branch made, no probefuzz-pid yet
    gitrepo.write_owner = die
else:  # as if git itself was killed before it finished the add (its lock stays)
    gitrepo.write_owner = lambda gd: ((gd / "locked").write_text("initializing"), die())
apply_variant(sys.argv[1], NEXT)
"""


@pytest.mark.parametrize("point", ["intent-written", "worktree-added", "add-unfinished"])
def test_kill_while_the_worktree_is_made_leaves_nothing_a_later_apply_cannot_fix(
        point: str, mini_repo: Path) -> None:
    """A kill between ``git worktree add`` (which makes the branch) and the
    worktree's owner record used to leave a branch no apply or cleanup would
    take back ("branch probefuzz/NEXT already exists"): the intent recorded
    before the add covers that window.  Killed here at each step, for sure."""
    before = snapshot(mini_repo)
    proc = subprocess.run([sys.executable, "-c", _DIE_AT, str(mini_repo), point],
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert snapshot(mini_repo) == before
    res = apply_variant(mini_repo, NEXT)  # prunes what the dead apply left, and succeeds
    assert res.branch == "probefuzz/NEXT"
    assert snapshot(mini_repo) == before
    assert cleanup(mini_repo, all_branches=True) == ["probefuzz/NEXT"]
    _no_leftovers(mini_repo)
    assert not (mini_repo / ".git" / gitrepo.INTENT_DIR).exists()
    assert not list(gitrepo.worktrees_root().glob("*/*"))


def test_a_failed_worktree_add_takes_its_branch_back(mini_repo: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``git worktree add`` stopped midway (a timeout): the branch it had
    already made goes too, and a branch that existed before is left alone."""
    repo = gitrepo.open_tree(mini_repo)
    base = repo.git.rev_parse("HEAD")
    real = gitrepo.TimedGit.execute

    def add_then_time_out(self: gitrepo.TimedGit, command: Any, *args: Any, **kwargs: Any) -> Any:
        out = real(self, command, *args, **kwargs)
        if list(command[1:3]) == ["worktree", "add"]:
            raise gitrepo.GitTimeout("git worktree add timed out (test)")
        return out

    monkeypatch.setattr(gitrepo.TimedGit, "execute", add_then_time_out)
    with pytest.raises(gitrepo.GitTimeout):
        gitrepo.create_sparse_worktree(repo, "probefuzz/NEXT", base, ["drivers/base/platform.c"])
    monkeypatch.setattr(gitrepo.TimedGit, "execute", real)
    _no_leftovers(mini_repo)
    assert not list(gitrepo.worktrees_root().glob("*/*"))
    git(mini_repo, "branch", "probefuzz/NEXT")  # someone's, made before
    with pytest.raises(git_mod.GitCommandError, match="already exists"):
        gitrepo.create_sparse_worktree(repo, "probefuzz/NEXT", base, ["drivers/base/platform.c"])
    assert "probefuzz/NEXT" in git(mini_repo, "branch", "--list")
    assert not (mini_repo / ".git" / gitrepo.INTENT_DIR).exists()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from fuzz.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, env=env)


def test_cli_bad_inputs_are_one_line_exit_2(mini_repo: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    notkernel = tmp_path / "nk"
    notkernel.mkdir()
    git(notkernel, "init", "-q")
    cases = [
        (["apply", "--variant", "NEXT", "--tree", str(plain)], "not a git repository"),
        (["apply", "--variant", "NEXT", "--tree", str(notkernel)], "not a Linux kernel tree"),
        (["apply", "--variant", "NOPE", "--tree", str(mini_repo)], "unknown variant"),
        (["apply", "--variant", "NEXT+bogus.site-x", "--tree", str(mini_repo)],
         "unknown variant"),
    ]
    for argv, msg in cases:
        r = _cli(*argv)
        assert r.returncode == 2, (argv, r.stderr)
        assert msg in r.stderr and r.stderr.count("\n") == 1, r.stderr
    nospatch = tmp_path / "nospatch"  # git but no spatch on PATH
    nospatch.mkdir()
    (nospatch / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    env = dict(os.environ, PATH=str(nospatch))
    r = _cli("apply", "--variant", "NEXT", "--tree", str(mini_repo), env=env)
    assert r.returncode == 2 and "coccinelle" in r.stderr and r.stderr.count("\n") == 1
    _no_leftovers(mini_repo)


def test_cli_json(mini_repo: Path) -> None:
    import json

    r = _cli("apply", "--variant", "NEXT", "--tree", str(mini_repo), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # every file with a site the variant changes is in the commit (the 6.12
    # tree predates v6.14's arm-smmu probe order, so NEXT touches that too)
    changed = {s["file"] for s in out["sites"] if s["status"] == "applied"}
    assert out["branch"] == "probefuzz/NEXT" and out["commit"]
    assert f"{len(changed)} files changed" in out["diffstat"]
    assert all(f in out["diffstat"] for f in changed)
    statuses = {s["site"]: s["status"] for s in out["sites"]}
    assert statuses["iommu_device_use_default_domain.defer"] == "already"


def _interrupting_spatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spatch that sends SIGINT to its parent, as Ctrl-C in the user's terminal does:
    KeyboardInterrupt arrives in the apply/propose process mid-run."""
    fake = tmp_path / "bin"
    fake.mkdir()
    seen = tmp_path / "spatch-ran"
    # It sleeps long after the kill: on a loaded runner the interrupt has to
    # arrive before spatch would return (cleanup kills the sleeping group).
    (fake / "spatch").write_text(f"#!/bin/sh\ntouch {seen}\nkill -INT $PPID\nsleep 60\n")
    (fake / "spatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    return seen


def test_keyboard_interrupt_in_apply_cleans_up_at_once(mini_repo: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(mini_repo)
    seen = _interrupting_spatch(tmp_path, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        apply_variant(mini_repo, NEXT)
    assert seen.exists()  # the interrupt came mid-run, with the worktree made
    # checked right away: no later apply or prune has had a chance to tidy up
    assert snapshot(mini_repo) == before
    _no_leftovers(mini_repo)
    assert not list(gitrepo.worktrees_root().glob("*/*"))


def test_keyboard_interrupt_in_propose_cleans_up_at_once(mini_repo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    from mutators.propose.pipeline import ProposeRequest, propose
    from mutators.space import resolve
    from tests.mutators.test_propose_e2e import rk_only

    variant = resolve(str(rk_only(tmp_path))).variant
    before = snapshot(mini_repo)
    out = tmp_path / "out"
    seen = _interrupting_spatch(tmp_path, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        propose(ProposeRequest(tree=str(mini_repo), variant=variant, variant_id="rk-only",
                               reference=NEXT, out=str(out)))
    assert seen.exists()
    assert snapshot(mini_repo) == before
    _no_leftovers(mini_repo)
    assert not list(gitrepo.worktrees_root().glob("*/*"))
    assert not [p for p in out.rglob("*") if p.is_file()]
