"""The worker side of the Dask executor: the campaign plugin and the preload hook.

Imported only where Dask runs (it imports :mod:`distributed`): in the client
when it uses Dask, and in each worker, which unpickles :class:`ContextPlugin`
and, for a LocalCluster, preloads this module (``dask_setup``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from distributed import WorkerPlugin

from fuzz.cluster import PARENT_ENV, install, uninstall


class ContextPlugin(WorkerPlugin):
    """A Dask worker plugin that installs a campaign's context on each worker once."""

    def __init__(self, token: str, context: Any, setup: Callable[[Any], Any]) -> None:
        self.name = f"probefuzz-{token}"
        self.token = token
        self.context = context
        self.setup_fn = setup

    def setup(self, worker: Any) -> None:
        install(self.token, self.context, self.setup_fn)

    def teardown(self, worker: Any) -> None:
        uninstall(self.token)


def die_with_parent() -> None:
    """``PR_SET_PDEATHSIG``: the kernel sends this process SIGKILL when its parent
    (the probefuzz CLI that forked it) dies, however it dies."""
    parent = os.environ.get(PARENT_ENV)
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != int(parent):  # the parent died before the prctl
        os._exit(1)


def dask_setup(worker: Any) -> None:
    """Dask preload hook of the LocalCluster's workers: die with the CLI."""
    die_with_parent()
