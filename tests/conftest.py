"""Project-wide fixtures.  Subdirectories add their own in their own conftest.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from corpus import kernel_tree as kt
from corpus.hosttools import ToolError


def _unavailable(reason: str) -> NoReturn:
    # On CI a missing tree is a broken setup (`make test` prepares it first), so
    # fail loudly; on a developer machine skip with the command that fixes it.
    if os.environ.get("CI"):
        pytest.fail(f"kernel tree unavailable on CI: {reason}", pytrace=False)
    pytest.skip(f"needs Debian linux-source-6.12: run `make kernel-tree` ({reason})")


@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    """The prepared Debian linux-source-6.12 tree (a git repo with one commit).

    Prepared on first use if the tarball is installed (about a minute; CI runs
    `make kernel-tree` before pytest).  Treat it as read-only: it is shared by
    all tests and users; modify copies or `git worktree`s of it instead.
    """
    dest = kt.default_tree_path()
    if not kt.is_prepared(dest):
        try:
            kt.find_tarball()
        except ToolError as e:
            _unavailable(str(e))
    try:
        return kt.prepare(dest)
    except ToolError as e:
        _unavailable(str(e))
