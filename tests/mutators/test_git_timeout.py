"""Every git command GitPython runs for us is bounded (GIT_TIMEOUT) and says so."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from mutators import gitrepo


def test_git_commands_time_out_with_a_clear_message(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    repo = gitrepo.Repo(tmp_path)
    monkeypatch.setattr(gitrepo, "GIT_TIMEOUT", 0.5)
    t0 = time.monotonic()
    with pytest.raises(gitrepo.GitTimeout, match=r"timed out after 0.5 s"):
        repo.git.execute(["git", "-c", "alias.hang=!sleep 30", "hang"])
    assert time.monotonic() - t0 < 20
    assert isinstance(repo.git, gitrepo.TimedGit)
