"""Fixtures for the mutators tests.

``site_files``: a scratch copy of just the files holding guard sites, taken
from the real tree (never modified in place).  ``mini_repo``: a small git
kernel-shaped tree with those files, for the safety tests (fast to clone,
dirty on purpose: the user's uncommitted work must survive every apply).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.variant import NEXT, SITES
from mutators.engine import apply_variant


def site_paths() -> list[str]:
    return sorted({s.file for s in SITES.values()})


def copy_sites(src: Path, dst: Path) -> Path:
    for rel in site_paths():
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / rel, dst / rel)
    return dst


@pytest.fixture(scope="session")
def site_files(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sites(kernel_tree, tmp_path_factory.mktemp("sites"))


@pytest.fixture(scope="session")
def next_files(site_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("next")
    shutil.copytree(site_files, d, dirs_exist_ok=True)
    apply_variant(d, NEXT)
    return d


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def snapshot(repo: Path) -> tuple[str, str, str]:
    """What must not change: status, HEAD, and the dirty file's bytes."""
    return (git(repo, "status", "--porcelain", "--untracked-files=all"),
            git(repo, "rev-parse", "HEAD"),
            (repo / "drivers/base/platform.c").read_text())


@pytest.fixture()
def mini_repo(site_files: Path, tmp_path: Path) -> Path:
    """A kernel-shaped git repo with the site files, plus uncommitted user work."""
    r = tmp_path / "linux"
    copy_sites(site_files, r)
    (r / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n")
    for d in ("scripts", "arch/arm64"):
        (r / d).mkdir(parents=True, exist_ok=True)
        (r / d / "README").write_text("x\n")
    git(r, "init", "-q")
    git(r, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(r, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    # the user's uncommitted work
    with (r / "drivers/base/platform.c").open("a") as f:
        f.write("/* user's uncommitted edit */\n")
    (r / "untracked.txt").write_text("mine\n")
    return r


@pytest.fixture(autouse=True)
def _own_worktrees(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep test worktrees out of the user's ~/.cache."""
    monkeypatch.setenv("PROBEFUZZ_WORKTREES", str(tmp_path_factory.mktemp("worktrees")))
