"""Nothing probefuzz starts outlives it, not even after ``kill -9``.

Two mechanisms, because a SIGKILLed process runs no cleanup code of its own:

* :func:`die_with_parent` -- ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in every
  child we exec (``preexec_fn`` of the tools run by :mod:`corpus.hosttools`,
  by GitPython, QEMU and the atheris worker):
  the kernel kills the child when its parent dies, however it dies.  A child
  that leads its own process group also registers the group with the
  supervisor there, before exec.  Pool workers (forked, no exec) use
  :func:`watch_parent` instead: PDEATHSIG follows the thread that forked.
* :func:`supervise` -- for the grandchildren ``PDEATHSIG`` cannot reach
  (``make``'s compilers, helpers a tool forks) and for temporary files: the
  CLI forks one small supervisor at start.  Every external tool runs in its
  own process group, which :func:`track` reports to the supervisor; every
  temporary file goes into one scratch directory (``TMPDIR`` and
  :data:`tempfile.tempdir` point there, so spatch's and git's own temporary
  files do too).  When the CLI process dies the kernel signals the supervisor
  (its own ``PDEATHSIG``), which kills the groups still registered and
  removes the scratch directory.  On a normal exit the CLI removes the
  directory itself and tells the supervisor to go.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["die_with_parent", "scratch_dir", "supervise", "track", "watch_parent"]

_PR_SET_PDEATHSIG = 1
_SCRATCH_PREFIX = "probefuzz-"
# How often the supervisor checks on its parent and forgets ended groups.
_POLL_SECONDS = 0.5

# libc loaded here, in the parent, at import: a dlopen() in a child forked
# from a threaded parent (pool workers replaced while the pool's threads run)
# can block forever on a loader lock another thread held at fork time.
_libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_state: dict[str, object] = {}


def _prctl_pdeathsig(sig: int) -> bool:
    global _libc
    if sys.platform != "linux":
        return False
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return bool(_libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0)


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies.

    For ``preexec_fn`` (runs in the child between fork and exec) and for
    worker-pool initializers.  If the parent is already gone (it died between
    the fork and here), exit at once."""
    parent = os.getppid()
    _prctl_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent or parent == 1:
        os._exit(1)
    if os.getpgrp() == os.getpid():
        # A tool in its own process group (start_new_session): register the
        # group from here, before exec, so the supervisor knows it before the
        # tool can fork a helper.  The parent's track() after Popen returns
        # leaves a window in which a SIGKILL of the parent would orphan the
        # helpers (PDEATHSIG is not inherited across fork).
        track(os.getpid(), True)


def watch_parent(interval: float = 0.2) -> None:
    """Exit this process soon after its parent dies (a daemon thread polls
    ``getppid()``).  For pool workers: ``PR_SET_PDEATHSIG`` there killed
    workers of a live ``explore`` (the signal follows the *thread* that
    forked the worker, and the pool's own threads fork replacements), and a
    worker killed mid-task hangs ``Pool.imap`` for good."""
    parent = os.getppid()
    if parent == 1:
        os._exit(1)

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=poll, name="probefuzz-watch-parent", daemon=True).start()


def scratch_dir() -> Path | None:
    """This run's scratch directory (``None`` outside a supervised CLI run)."""
    d = _state.get("scratch")
    return d if isinstance(d, Path) else None


def track(pgid: int, alive: bool) -> None:
    """Tell the supervisor that process group ``pgid`` started (``alive``) or ended."""
    fd = _state.get("fd")
    if not isinstance(fd, int):
        return
    with contextlib.suppress(OSError):
        os.write(fd, f"{'+' if alive else '-'}{pgid}\n".encode())


@contextlib.contextmanager
def tracked(pgid: int) -> Iterator[None]:
    """``track(pgid, True)`` for the duration of the block."""
    track(pgid, True)
    try:
        yield
    finally:
        track(pgid, False)


def supervise() -> None:
    """Start the supervisor for this process (once; the CLI calls it)."""
    if "fd" in _state or sys.platform != "linux":
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-"))
    r, w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the supervisor
        try:
            # Its own session: a kill of the CLI's whole process group (a
            # job-control or runner's `kill -9 -PGID`) must not take the one
            # process that cleans up after it.
            os.setsid()
            os.close(w)
            _supervisor(r, scratch, parent)
        finally:
            os._exit(0)
    os.close(r)
    _state.update(fd=w, pid=pid, scratch=scratch, owner=parent)
    tempfile.tempdir = str(scratch)
    os.environ["TMPDIR"] = str(scratch)
    atexit.register(_finish)


def _finish() -> None:
    """Normal exit: remove the scratch directory, let the supervisor go."""
    if _state.get("owner") != os.getpid():
        return  # a forked child exiting normally: not ours to clean
    scratch = scratch_dir()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    fd, pid = _state.get("fd"), _state.get("pid")
    if isinstance(fd, int):
        with contextlib.suppress(OSError):
            os.write(fd, b"q\n")
            os.close(fd)
    if isinstance(pid, int):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
    _state.clear()


def _supervisor(r: int, scratch: Path, parent: int) -> None:
    """The supervisor's loop: collect process groups until the parent is gone,
    then kill the groups still registered and remove the scratch directory."""
    # Our stdout/stderr must not keep a pipeline (| head, capture_output) open.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the CLI's to handle
    groups: set[int] = set()
    try:
        _collect(r, parent, groups)
    finally:
        # Whatever ended the loop (the parent's death, EOF, "q" after the CLI
        # removed the directory itself, or a bug here): never leave a group
        # running or the scratch directory behind.
        for g in groups:
            with contextlib.suppress(OSError):
                os.killpg(g, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)


def _collect(r: int, parent: int, groups: set[int]) -> None:
    """Read registrations from ``r`` into ``groups`` until the parent is gone.

    The parent's death is noticed three ways, whichever comes first: EOF on the
    pipe (every writer gone), ``PDEATHSIG`` (SIGTERM) and a periodic
    ``getppid()`` check.  The signal handler only wakes the loop (through the
    wakeup fd) and never raises.  It used to raise, and the supervisor died
    without killing anything: the kernel closes a dead process's files before
    it signals its children, so the EOF ended the loop first and the SIGTERM
    then raised outside it (caught in the act, at ``signal.signal(SIGTERM,
    SIG_IGN)`` after the loop, in 3 of 8 kills of propose mid-spatch); and
    ``PDEATHSIG`` follows the *thread* that forked us, so a dying
    multi-threaded CLI sends it once per thread we are handed over to.  A
    stray SIGTERM (``kill -TERM`` of the whole job) is ignored in the same way:
    only the parent's absence ends the loop.
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    _prctl_pdeathsig(signal.SIGTERM)
    buf = b""

    def take(chunk: bytes) -> bool:
        """Apply the registrations in ``chunk``; True on the CLI's normal-exit "q"."""
        nonlocal buf
        *lines, buf = (buf + chunk).split(b"\n")
        quit_ = False
        for ln in lines:
            with contextlib.suppress(ValueError):
                if ln == b"q":
                    quit_ = True
                elif ln[:1] == b"+":
                    groups.add(int(ln[1:]))
                elif ln[:1] == b"-":
                    groups.discard(int(ln[1:]))
        return quit_

    while os.getppid() == parent:
        ready, _, _ = select.select([r, wake_r], [], [], _POLL_SECONDS)
        if wake_r in ready:
            os.read(wake_r, 512)  # a signal: the loop condition looks at the parent
        if r in ready:
            chunk = os.read(r, 4096)
            if not chunk or take(chunk):
                return  # "q", or every writer gone: the parent (and its forks) died
        _forget_empty(groups)
    # Registrations written just before the parent died may still be unread.
    os.set_blocking(r, False)
    with contextlib.suppress(OSError):
        while chunk := os.read(r, 4096):
            take(chunk)


def _forget_empty(groups: set[int]) -> None:
    """Drop the groups that have no process left.  A group whose leader failed
    to exec was registered (from the child, before exec) and never ended by the
    parent; once empty, its number may become someone else's group (pids wrap
    at ``pid_max``, 32768 by default) and must not be killed later."""
    for g in list(groups):
        try:
            os.killpg(g, 0)
        except ProcessLookupError:
            groups.discard(g)
        except OSError:
            pass  # EPERM: it exists
