"""Imported in multiprocessing's fork server, the parent of the LocalCluster's workers.

:func:`fuzz.cluster._fork_server` starts the server with this module in its
preload list, so the server imports it before it forks any worker.  Nothing
else imports it (and where it is imported outside our server, it does
nothing but import).  In our server, importing it:

* imports what every worker needs (distributed, the campaign plugin; the
  campaign's own module is the next preload), so a worker forked from the
  server starts as fast as a worker forked from the CLI did, without the
  CLI's threads;
* makes the server a process group of its own, which the CLI registers with
  the reaper (:func:`corpus.reaper.track`): when the CLI dies the reaper
  kills the group, server and workers, before it removes the scratch
  directory they write in;
* has every process the server forks ask for ``PR_SET_PDEATHSIG`` before it
  runs any other code, so that a worker dies with the server; the server
  itself exits when the CLI dies (the EOF on its "alive" pipe).
"""

from __future__ import annotations

import contextlib
import os

import fuzz.cluster_worker  # noqa: F401  (distributed and the plugin: once, for every worker)
from fuzz.cluster import FORKSERVER_ENV, die_with_parent


def _ours() -> bool:
    """Whether this process is the fork server a probefuzz CLI started."""
    return os.environ.get(FORKSERVER_ENV) == str(os.getppid())


if _ours():
    _SERVER = os.getpid()
    os.environ.pop(FORKSERVER_ENV)
    with contextlib.suppress(OSError):  # a session leader cannot: then it stays in the CLI's group
        os.setpgid(0, 0)
    os.register_at_fork(after_in_child=lambda: die_with_parent(_SERVER))
