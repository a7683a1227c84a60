"""Where campaign work units run: Dask distributed, a fork pool, or this process.

A campaign hands :func:`executor` a *context* (the boards and variant
definitions every unit needs) and a task function; the executor ships the
context once per worker and streams ``(item, result, worker, seconds)`` back
as units complete, in completion order.

* ``dask`` (the default beyond one job): with ``scheduler`` set, a
  :class:`distributed.Client` connects to a running ``dask scheduler``
  (workers started with ``dask worker`` on hosts where probefuzz is
  installed); without it a :class:`distributed.LocalCluster` of ``jobs``
  single-threaded worker processes.  The context is a worker plugin, so a
  worker that joins later (or replaces a dead one) gets it too; a killed
  worker's units are rescheduled by Dask on the others.  Local worker
  processes are forked by multiprocessing's fork server (see
  :mod:`fuzz.cluster_forkserver`), never by this process: this one runs
  threads (Dask's event loop, the Nannies' process watchers), and a child
  forked while another thread held a lock finds it held forever.  The fork
  server has the model imported already, so a worker starts as fast as a
  fork of this process did; workers die with it and it with this process,
  even on SIGKILL.  Dask's scratch space is a temporary directory of the
  executor's, removed when the cluster is closed.
* ``fork``: the previous :mod:`multiprocessing` fork pool (workers for the
  whole campaign, no longer recycled), kept as a selectable engine for
  comparisons (``bench/bench_campaign.py``).
* ``serial``: this process, for one job.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from corpus.reaper import track
from fuzz.cli import UsageError

EXECUTORS = ("dask", "fork", "serial")
# The pid a LocalCluster worker must have as its parent (the fork server's):
# set in the workers' environment by the Nanny.
PARENT_ENV = "PROBEFUZZ_CLUSTER_PARENT"
# The pid of the CLI that starts a fork server, in the fork server's
# environment: what tells fuzz.cluster_forkserver that it runs in ours.
FORKSERVER_ENV = "PROBEFUZZ_FORKSERVER_OF"
CONNECT_TIMEOUT = 15.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The LocalCluster's background timers, slowed or off.  By default the
# scheduler, nannies and workers wake 50 times a second to time their event
# loops, the workers sample their threads' stacks every 10 ms for the
# dashboard's profile page, and memory and system monitors poll psutil
# every 0.1-0.5 s: 10-11 % of a core for a 2-worker cluster doing nothing
# (1.6 % with these), paid for the whole wall time of a campaign and taken
# from the pure-Python units.  A --scheduler cluster keeps its own settings.
LOCAL_QUIET = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
}

# The context of each campaign this worker process serves, by token.
_CONTEXTS: dict[str, Any] = {}
# libc, loaded at import: a dlopen() (or find_library's subprocess) in a
# freshly forked child is what must not happen there.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class ClusterError(RuntimeError):
    """The cluster could not be reached or gave up on a unit (one line)."""


@dataclass
class WorkerLoad:
    """What one worker did in a run."""

    units: int = 0
    busy_s: float = 0.0
    cpu_s: float = 0.0


@dataclass
class RunFigures:
    """How a campaign ran: the report's "run" section."""

    executor: str
    scheduler: str | None = None
    dashboard: str | None = None
    workers: int = 0
    units: int = 0
    elapsed_s: float = 0.0
    startup_s: float = 0.0
    per_worker: dict[str, WorkerLoad] = field(default_factory=lambda: defaultdict(WorkerLoad))

    @property
    def units_per_s(self) -> float:
        return self.units / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def account(self, worker: str, seconds: float, cpu: float = 0.0) -> None:
        load = self.per_worker[worker]
        load.units += 1
        load.busy_s += seconds
        load.cpu_s += cpu
        self.units += 1

    def to_json(self) -> dict[str, Any]:
        """JSON for reports: units/s and per-worker load (units, busy seconds, share of wall time)."""
        return {"executor": self.executor, "scheduler": self.scheduler, "dashboard": self.dashboard,
                "workers": self.workers, "units": self.units, "elapsed_s": round(self.elapsed_s, 3),
                "startup_s": round(self.startup_s, 3), "units_per_s": round(self.units_per_s, 2),
                "per_worker": {w: {"units": ld.units, "busy_s": round(ld.busy_s, 3),
                                   "cpu_s": round(ld.cpu_s, 3),
                                   "load": round(ld.busy_s / self.elapsed_s, 3) if self.elapsed_s else 0.0}
                               for w, ld in sorted(self.per_worker.items())}}

    def markdown(self) -> str:
        """The run section of ``report.md``."""
        where = {"dask": f"Dask scheduler {self.scheduler}" if self.scheduler else "Dask",
                 "fork": "a fork pool", "serial": "one process"}[self.executor]
        lines = [f"Ran on {where} with {self.workers} worker(s): {self.units} units in "
                 f"{self.elapsed_s:.1f} s ({self.units_per_s:.2f} units/s, start-up {self.startup_s:.1f} s)"
                 + (f"; dashboard {self.dashboard}" if self.dashboard else "") + ".", ""]
        if self.per_worker:
            lines += ["| worker | units | busy s | CPU s | load |", "|---|---|---|---|---|"]
            for w, d in self.to_json()["per_worker"].items():
                lines.append(f"| {w} | {d['units']} | {d['busy_s']:.1f} | {d['cpu_s']:.1f} "
                             f"| {d['load']:.0%} |")
            lines.append("")
        return "\n".join(lines)


# -- the worker side ---------------------------------------------------------------


def install(token: str, context: Any, setup: Callable[[Any], Any]) -> None:
    """Make ``setup(context)`` the state of campaign ``token`` in this process."""
    if token not in _CONTEXTS:
        _CONTEXTS[token] = setup(context)


def uninstall(token: str) -> None:
    """Drop campaign ``token``'s state from this process."""
    _CONTEXTS.pop(token, None)


def context(token: str) -> Any:
    """The state :func:`install` made for ``token`` (in a worker)."""
    try:
        return _CONTEXTS[token]
    except KeyError:
        raise ClusterError(f"campaign {token} is not installed on this worker") from None


def _call(fn: Callable[[Any, Any], Any], token: str, item: Any) -> tuple[Any, str, float, float]:
    """Run a unit: its result, the worker's name, wall and CPU seconds (the CPU
    time of the thread that ran it: what a dedicated core would have taken)."""
    t, c = time.monotonic(), time.thread_time()
    res = fn(context(token), item)
    return res, _worker_name(), time.monotonic() - t, time.thread_time() - c


def _worker_name() -> str:
    # A Dask worker has distributed loaded; a fork-pool worker or this process
    # must not pay its ~1.4 s import just to learn that it is not one.
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            w = distributed.get_worker()
            return str(w.name if w.name is not None and not str(w.name).isdigit() else w.address)
        except ValueError:
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def die_with_parent(parent: int) -> None:
    """``PR_SET_PDEATHSIG``: the kernel sends this process SIGKILL when its parent
    (``parent``: the fork server or the probefuzz CLI that forked it) dies,
    however it dies, SIGKILL included.  (Dask's worker processes also watch
    a pipe to the CLI; this does not depend on a thread of the worker
    getting to run.)"""
    if _LIBC is None:
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(1)


def settle() -> None:
    """Move everything a worker holds so far (imports, the campaign's boards and
    variants) out of the garbage collector's reach: the model allocates fast
    and triggers many full collections, whose cost grows with every object
    they traverse; a Dask worker carries distributed, tornado and the rest
    (its units took 30 % more CPU than a fork-pool worker's without this)."""
    gc.collect()
    gc.freeze()


def _fork_init(parent: int, token: str, ctx: Any, setup: Callable[[Any], Any]) -> None:
    die_with_parent(parent)
    install(token, ctx, setup)
    settle()


# -- the client side ----------------------------------------------------------------


def has_dashboard() -> bool:
    """Whether a local Dask dashboard can run (it needs bokeh)."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def choose(executor: str | None, scheduler: str | None, jobs: int, units: int) -> str:
    """The executor for a run: a scheduler address means Dask; otherwise Dask for
    more than one job and unit, this process for one."""
    if scheduler:
        return "dask"
    if executor is not None:
        return executor if jobs > 1 and units > 1 or executor == "serial" else "serial"
    return "dask" if jobs > 1 and units > 1 else "serial"


class Executor:
    """Runs ``fn(state, item)`` for many items with ``state = setup(context)`` per worker."""

    def __init__(self, kind: str, figures: RunFigures) -> None:
        self.kind = kind
        self.figures = figures

    def run(self, fn: Callable[[Any, Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, result)`` as units complete (any order)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop what this executor started."""


class _Serial(Executor):
    def __init__(self, figures: RunFigures, token: str, ctx: Any, setup: Callable[[Any], Any]) -> None:
        super().__init__("serial", figures)
        self.token = token
        install(token, ctx, setup)
        figures.workers = 1

    def run(self, fn: Callable[[Any, Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]:
        for item in items:
            res, worker, secs, cpu = _call(fn, self.token, item)
            self.figures.account(worker, secs, cpu)
            yield item, res

    def close(self) -> None:
        uninstall(self.token)


class _Fork(Executor):
    def __init__(self, figures: RunFigures, token: str, ctx: Any, setup: Callable[[Any], Any],
                 jobs: int) -> None:
        super().__init__("fork", figures)
        self.token = token
        mctx = mp.get_context("fork") if sys.platform == "linux" else mp.get_context()
        # No recycling (maxtasksperchild): PR_SET_PDEATHSIG fires when the
        # *thread* that forked a worker exits, and the pool forks replacements
        # from its worker-handler thread, which exits at close(): a worker
        # killed then while it held the task queue's lock hung close() and
        # the pool's finaliser.  Workers forked here, by the main thread, live
        # as long as the campaign (as Dask's do).
        self.pool = mctx.Pool(jobs, _fork_init, (os.getpid(), token, ctx, setup))
        self.finished = False
        figures.workers = jobs

    def run(self, fn: Callable[[Any, Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]:
        args = [(fn, self.token, (i, item)) for i, item in enumerate(items)]
        for (i, res), worker, secs, cpu in self.pool.imap_unordered(_fork_call_indexed, args, chunksize=1):
            self.figures.account(worker, secs, cpu)
            yield items[i], res
        self.finished = True

    def close(self) -> None:
        if self.finished:
            self.pool.close()  # every unit is done: the workers exit on their own
        else:
            self.pool.terminate()
        self.pool.join()


def _fork_call_indexed(args: tuple[Callable[[Any, Any], Any], str, tuple[int, Any]]) -> Any:
    fn, token, (i, item) = args
    res, worker, secs, cpu = _call(fn, token, item)
    return (i, res), worker, secs, cpu


class _Dask(Executor):
    def __init__(self, figures: RunFigures, token: str, ctx: Any, setup: Callable[[Any], Any],
                 jobs: int, scheduler: str | None) -> None:
        super().__init__("dask", figures)
        # distributed loads in ~1.4 s: imported only when Dask runs (a --jobs 1 run never does)
        import dask
        from distributed import Client, LocalCluster

        self.token = token
        self.batches = itertools.count()
        self.cluster: Any = None
        self.client: Any = None
        self.scratch: str | None = None
        from fuzz.cluster_worker import ContextPlugin

        self.plugin = ContextPlugin(token, ctx, setup)
        try:
            if scheduler:
                _reachable(scheduler)
                try:
                    self.client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
                except (OSError, TimeoutError) as e:
                    raise ClusterError(f"--scheduler {scheduler}: cannot connect: {e}") from None
                figures.scheduler = scheduler
            else:
                # Dask's scratch space (the scheduler's, the Nannies' and the
                # workers' local directories): ours, removed by close(); under
                # the CLI it lies in the reaper's scratch directory.
                self.scratch = tempfile.mkdtemp(prefix="probefuzz-dask-")
                method = start_method()
                with dask.config.set({"distributed.worker.multiprocessing-method": method,
                                      "distributed.worker.daemon": True,
                                      "temporary-directory": self.scratch, **LOCAL_QUIET}):
                    parent = _fork_server(setup) if method == "forkserver" else os.getpid()
                    self.cluster = LocalCluster(
                        n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                        # A free port, never the default 8787 another cluster may hold
                        # (without bokeh it serves only health and metrics routes).
                        dashboard_address=":0", local_directory=self.scratch,
                        silence_logs=logging.ERROR, preload=["fuzz.cluster_worker"],
                        env={PARENT_ENV: str(parent)})
                    self.client = Client(self.cluster, set_as_default=False)
                figures.scheduler = None
            figures.dashboard = self._dashboard()
            self.client.register_plugin(self.plugin, name=self.plugin.name)
            figures.workers = len(self.client.scheduler_info().get("workers", {}))
        except BaseException:
            self.close()
            raise

    def _dashboard(self) -> str | None:
        if self.cluster is not None and not has_dashboard():
            return None
        try:
            link = self.client.dashboard_link
        except (AttributeError, KeyError):
            return None
        return str(link) if link else None

    def run(self, fn: Callable[[Any, Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]:
        # late, as in __init__ (which has imported distributed by now)
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        if not items:
            return
        if not self.client.scheduler_info().get("workers"):
            print(f"probefuzz: waiting for workers at {self.figures.scheduler}", file=sys.stderr)
        # Keys unique per call, not only per campaign: the scheduler forgets a
        # released key asynchronously, and a key submitted again before that
        # gets the old task's result (a minimisation given a fuzzing unit's).
        batch = next(self.batches)
        futures = {}
        for i, item in enumerate(items):
            f = self.client.submit(_call, fn, self.token, item, pure=False,
                                   key=f"probefuzz-{self.token}-{batch}-{i}")
            futures[f.key] = (f, item)
        seen_workers: set[str] = set()
        try:
            for f in as_completed([f for f, _ in futures.values()], loop=self.client.loop):
                try:
                    res, worker, secs, cpu = f.result()
                except KilledWorker as e:
                    raise ClusterError(f"a unit killed {e.args[1] if len(e.args) > 1 else 'its workers'} "
                                       "too often; giving up") from None
                seen_workers.add(worker)
                self.figures.account(worker, secs, cpu)
                self.figures.workers = max(self.figures.workers, len(seen_workers))
                # Dropping the future frees the result on the worker.
                _, item = futures.pop(f.key)
                del f
                yield item, res
        finally:
            # A client that stops early (an error, ^C) takes its pending units back.
            with contextlib.suppress(Exception):
                self.client.cancel([f for f, _ in futures.values()])

    def close(self) -> None:
        if self.client is not None:
            if self.cluster is None:  # a shared cluster: leave the workers as they were
                with contextlib.suppress(Exception):
                    self.client.unregister_worker_plugin(self.plugin.name)
            with contextlib.suppress(Exception):
                self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
        if self.scratch is not None:
            # The Nannies have joined their workers: nothing writes here any more.
            shutil.rmtree(self.scratch, ignore_errors=True)


# sockaddr_un.sun_path, and the part of the fork server's socket path that
# multiprocessing adds to the temporary directory ("/pymp-XXXXXXXX/listener-XXXXXXXX").
SUN_PATH_MAX = 108
FORKSERVER_SOCKET_SUFFIX = 32


def start_method() -> str:
    """How the LocalCluster starts its workers: ``forkserver`` where the server's
    socket fits in the temporary directory (a Unix socket path has at most
    107 bytes), ``spawn`` otherwise (workers import the model themselves:
    slower to start, as safe from the CLI's threads)."""
    if "forkserver" not in mp.get_all_start_methods():
        return "spawn"
    if len(os.fsencode(tempfile.gettempdir())) + FORKSERVER_SOCKET_SUFFIX >= SUN_PATH_MAX:
        return "spawn"
    return "forkserver"


def _fork_server(setup: Callable[[Any], Any]) -> int:
    """Start multiprocessing's fork server (once per process) with the model and
    distributed imported, and return its pid: the parent of the LocalCluster's
    workers.  Distributed's own preload list (``get_mp_context``: every
    optional package it knows, numpy and pandas included) is replaced by
    :mod:`fuzz.cluster_forkserver` and the campaign's module; the server is
    a process group of its own, registered with the reaper, which kills it
    and its workers before it removes the scratch directory."""
    import multiprocessing.forkserver as forkserver

    from distributed.utils import get_mp_context

    ctx = get_mp_context()  # sets distributed's preload list once per process: before ours
    ctx.set_forkserver_preload(["fuzz.cluster_forkserver", setup.__module__])
    os.environ[FORKSERVER_ENV] = str(os.getpid())
    try:
        forkserver.ensure_running()
    finally:
        del os.environ[FORKSERVER_ENV]
    # No public accessor: the server's pid is a private attribute (CPython 3.4-3.13).
    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    track(pid, True)
    return int(pid)


def _reachable(address: str) -> None:
    """Fail at once, in one line, when nothing listens at a tcp:// address (the
    Dask client would retry until its timeout)."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return
    host, _, port = rest.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as e:
        raise ClusterError(f"--scheduler {address}: cannot connect: {e.strerror or e}") from None
    except ValueError as e:
        raise ClusterError(f"--scheduler {address}: {e}") from None


@contextlib.contextmanager
def executor(kind: str, ctx: Any, setup: Callable[[Any], Any], *, jobs: int = 1,
             scheduler: str | None = None) -> Iterator[Executor]:
    """An executor of ``kind`` (see :data:`EXECUTORS`) with ``setup(ctx)`` on each worker."""
    token = uuid.uuid4().hex[:12]
    figures = RunFigures(kind)
    t0 = time.monotonic()
    ex: _Serial | _Fork | _Dask
    if kind == "dask":
        ex = _Dask(figures, token, ctx, setup, jobs, scheduler)
    elif kind == "fork":
        ex = _Fork(figures, token, ctx, setup, jobs)
    elif kind == "serial":
        ex = _Serial(figures, token, ctx, setup)
    else:
        raise ValueError(f"unknown executor {kind!r}")
    figures.startup_s = time.monotonic() - t0
    try:
        yield ex
    finally:
        ex.close()


def add_cluster_arguments(p: Any, executor: bool = True) -> None:
    """``--scheduler`` and ``--executor`` (``--jobs`` is the verb's own)."""
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the units on the Dask cluster of this scheduler (e.g. "
                   "tcp://10.0.0.1:8786; workers: `dask worker ADDRESS` on hosts with probefuzz "
                   "installed); default: a local cluster of --jobs processes")
    if not executor:
        p.set_defaults(executor=None)
        return
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="where units run without --scheduler: dask (a LocalCluster, the default "
                   "beyond one job), fork (a multiprocessing pool, kept for comparison) or serial")


def check_cluster_arguments(args: Any) -> None:
    """One-line errors for a malformed ``--scheduler`` or a contradiction."""
    if args.scheduler is None:
        return
    if args.executor not in (None, "dask"):
        raise UsageError(f"--executor {args.executor} runs locally; it cannot be combined with --scheduler")
    addr = args.scheduler
    if "://" not in addr:
        addr = f"tcp://{addr}"
    scheme, _, rest = addr.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls", "ucx", "inproc", "ws", "wss") or not host or not port.isdigit():
        raise UsageError(f"--scheduler {args.scheduler}: not a scheduler address (tcp://HOST:PORT)")
    args.scheduler = addr
