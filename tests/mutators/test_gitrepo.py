"""Who owns a running apply's worktree: pid, pid reuse, other PID namespaces."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mutators import gitrepo


def _files(d: Path, pid: int, owner: str | None) -> Path:
    (d / gitrepo.PID_FILE).write_text(str(pid))
    if owner is not None:
        (d / gitrepo.OWNER_FILE).write_text(owner)
    return d / gitrepo.PID_FILE


def test_live_owner_and_reused_pid(tmp_path: Path) -> None:
    parent = os.getppid()  # alive, and not us
    ns = gitrepo._self_ns()
    start = gitrepo._start_time(parent)
    assert _files(tmp_path, parent, f"{ns} {start}") and gitrepo._owner_alive(tmp_path / "probefuzz-pid")
    # same pid, other start time: the pid was reused, the apply is gone
    _files(tmp_path, parent, f"{ns} {int(start) + 1}")
    assert not gitrepo._owner_alive(tmp_path / gitrepo.PID_FILE)
    # the old format (pid only) still works
    (tmp_path / gitrepo.OWNER_FILE).unlink()
    assert gitrepo._owner_alive(tmp_path / gitrepo.PID_FILE)


def test_dead_pid_and_our_own_pid_are_stale(tmp_path: Path) -> None:
    assert not gitrepo._owner_alive(_files(tmp_path, 2**22 + 12345, None))
    assert not gitrepo._owner_alive(_files(tmp_path, os.getpid(), None))


def test_other_pid_namespace_is_stale_only_when_old(tmp_path: Path) -> None:
    pidf = _files(tmp_path, 1, "pid:[1] 1")
    assert gitrepo._owner_alive(pidf)
    old = time.time() - gitrepo.FOREIGN_STALE_SECONDS - 10
    os.utime(pidf, (old, old))
    assert not gitrepo._owner_alive(pidf)
