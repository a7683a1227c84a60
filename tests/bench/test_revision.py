"""bench/_revision.py: the revision a benchmark compares against."""

from __future__ import annotations

import subprocess

import pytest

from bench._revision import ROOT, revision_worktree


def _worktrees() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
                          capture_output=True, text=True, check=True).stdout


def test_the_revision_is_checked_out_and_removed() -> None:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with revision_worktree("HEAD", "test") as wt:
        assert (wt / "harness" / "kernel.py").is_file()
        got = subprocess.run(["git", "-C", str(wt), "rev-parse", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert got == head
        assert str(wt) in _worktrees()
    assert not wt.exists()
    assert str(wt) not in _worktrees()


def test_a_bad_revision_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e, revision_worktree("no-such-revision", "bench_x"):
        pass
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench_x: cannot check out no-such-revision:") and "\n" not in err
