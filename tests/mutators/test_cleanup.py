"""cleanup removes what apply made, and only that."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.variant import NEXT
from mutators.apply import apply_variant
from mutators.cleanup import CleanupError, cleanup
from mutators.space import resolve
from tests.mutators.conftest import git, snapshot

pytestmark = pytest.mark.kernel_tree

_ID = "NEXT+iommu_init_device.dma_configure_lock:=hold"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from fuzz.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_variant_then_all(mini_repo: Path) -> None:
    before = snapshot(mini_repo)
    a = apply_variant(mini_repo, NEXT)
    b = apply_variant(mini_repo, resolve(_ID).variant, variant_id=_ID)
    res = cleanup(mini_repo, [b.branch])
    assert res.removed == [b.branch] and not res.refused
    assert not Path(b.worktree).exists() and Path(a.worktree).exists()
    r = _cli("cleanup", "--tree", str(mini_repo), "--all")
    assert r.returncode == 0 and f"removed  {a.branch}" in r.stdout, r.stderr
    assert "probefuzz/" not in git(mini_repo, "branch", "--list")
    assert git(mini_repo, "worktree", "list").count("\n") == 1
    assert snapshot(mini_repo) == before


def test_refuses_what_probefuzz_did_not_make(mini_repo: Path, tmp_path: Path) -> None:
    res = apply_variant(mini_repo, NEXT)
    ident = ["-c", "user.name=u", "-c", "user.email=u@u"]
    # the user builds on our branch in our worktree: now it is theirs
    wt = Path(res.worktree)
    git(wt, *ident, "commit", "-q", "--allow-empty", "-m", "my own work")
    # a branch the user named probefuzz/... by hand, with their own worktree
    git(mini_repo, "branch", "probefuzz/mine")
    theirs = tmp_path / "theirs"
    git(mini_repo, "worktree", "add", "-q", str(theirs), "probefuzz/mine")
    r = _cli("cleanup", "--tree", str(mini_repo), "--all", "--json")
    assert r.returncode == 1, r.stderr
    import json

    out = json.loads(r.stdout)
    assert out["removed"] == []
    assert set(out["refused"]) == {"probefuzz/NEXT", "probefuzz/mine"}
    assert wt.is_dir() and theirs.is_dir()
    assert "probefuzz/NEXT" in git(mini_repo, "branch", "--list")


def test_uncommitted_changes_in_our_worktree_are_kept(mini_repo: Path) -> None:
    res = apply_variant(mini_repo, NEXT)
    f = Path(res.worktree) / "drivers/base/platform.c"
    f.write_text(f.read_text() + "/* edited in the probefuzz worktree */\n")
    out = cleanup(mini_repo)
    assert "uncommitted changes" in out.refused[res.branch]
    assert "edited in the probefuzz worktree" in f.read_text()


def test_bad_requests_are_one_line_exit_2(mini_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(CleanupError, match="no branch probefuzz/NOPE"):
        cleanup(mini_repo, ["probefuzz/NOPE"])
    for argv, msg in ((["--tree", str(mini_repo), "--variant", "NOPE"], "no branch probefuzz/NOPE"),
                      (["--tree", str(tmp_path), "--all"], "not a git repository")):
        r = _cli("cleanup", *argv)
        assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_propose_branches_are_ours_only_with_propose_commits(mini_repo: Path) -> None:
    """propose's commits carry its tool line; a propose/ branch whose tip lacks it is the user's."""
    from mutators.propose.message import TOOL

    ident = ["-c", "user.name=u", "-c", "user.email=u@u"]
    home = git(mini_repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(mini_repo, "branch", "probefuzz/propose/fix")
    git(mini_repo, "branch", "probefuzz/propose/mine")
    for br, body in (("probefuzz/propose/fix", f"Found with {TOOL} 0.1.0, which runs a\nmodel"),
                     ("probefuzz/propose/mine", "my own patch")):
        git(mini_repo, "checkout", "-q", br)
        git(mini_repo, *ident, "commit", "-q", "--allow-empty", "-m", "iommu: subject", "-m", body)
    git(mini_repo, "checkout", "-q", home)
    import json

    r = _cli("cleanup", "--tree", str(mini_repo), "--all", "--json")
    out = json.loads(r.stdout)
    assert out["removed"] == ["probefuzz/propose/fix"], out
    assert set(out["refused"]) == {"probefuzz/propose/mine"}
    branches = git(mini_repo, "branch", "--list")
    assert "probefuzz/propose/fix" not in branches and "probefuzz/propose/mine" in branches
