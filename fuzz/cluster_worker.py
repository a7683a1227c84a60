"""The worker side of the Dask executor: the campaign plugin and the preload hook.

Imported only where Dask runs (it imports :mod:`distributed`): in the client
when it uses Dask, in the LocalCluster's fork server, and in each worker,
which unpickles :class:`ContextPlugin` and, for a LocalCluster, preloads this
module (``dask_setup``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from distributed import WorkerPlugin

from fuzz.cluster import PARENT_ENV, die_with_parent, install, settle, uninstall


class ContextPlugin(WorkerPlugin):
    """A Dask worker plugin that installs a campaign's context on each worker once."""

    def __init__(self, token: str, context: Any, setup: Callable[[Any], Any]) -> None:
        self.name = f"probefuzz-{token}"
        self.token = token
        self.context = context
        self.setup_fn = setup

    def setup(self, worker: Any) -> None:
        install(self.token, self.context, self.setup_fn)
        settle()

    def teardown(self, worker: Any) -> None:
        uninstall(self.token)


def dask_setup(worker: Any) -> None:
    """Dask preload hook of the LocalCluster's workers: die with the process
    that forked this one (``PARENT_ENV``: the fork server, or the CLI where
    workers are spawned).  A worker forked by probefuzz's fork server asked
    for that already (:mod:`fuzz.cluster_forkserver`); this covers a fork
    server another part of the process started first, without that hook."""
    parent = os.environ.get(PARENT_ENV)
    if parent is not None:
        die_with_parent(int(parent))
