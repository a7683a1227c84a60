"""Children die with their parent, even after SIGKILL (corpus.reaper)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.procs import alive

ROOT = Path(__file__).resolve().parents[2]


def _run_and_kill(code: str, tmp_path: Path) -> tuple[list[int], Path]:
    """Run ``code`` (which prints 'ready' and child pids), SIGKILL it, return the pids."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    pids = [int(p) for p in line.split()]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids, tmp_path


def test_a_tool_dies_with_its_parent_without_supervisor(tmp_path: Path) -> None:
    code = ("import subprocess\n"
            "from corpus.reaper import die_with_parent\n"
            "p = subprocess.Popen(['sleep', '60'], preexec_fn=die_with_parent)\n"
            "print(p.pid, flush=True); p.wait()\n")
    pids, _ = _run_and_kill(code, tmp_path)
    assert not any(alive(p) for p in pids)


def test_supervisor_kills_grandchildren_and_removes_scratch(tmp_path: Path) -> None:
    code = ("import os, subprocess, threading, time\n"
            "from corpus.reaper import supervise, scratch_dir\n"
            "supervise()\n"
            "from corpus import hosttools\n"
            "(scratch_dir() / 'x.cocci').write_text('x')\n"
            "t = threading.Thread(target=hosttools.run, args=(['sh', '-c', 'sleep 60 & echo $! > "
            "$TMPDIR/gc; sleep 60'],), kwargs={'timeout': 100}, daemon=True); t.start()\n"
            "while not (scratch_dir() / 'gc').exists() or not (scratch_dir() / 'gc').read_text(): "
            "time.sleep(0.02)\n"
            "print((scratch_dir() / 'gc').read_text().strip(), flush=True); t.join()\n")
    pids, tmp = _run_and_kill(code, tmp_path)
    assert pids and not any(alive(p) for p in pids)
    deadline = time.monotonic() + 10
    while list(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp.iterdir()) == []


def test_normal_exit_removes_scratch(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    code = ("import tempfile\nfrom corpus.reaper import supervise\nsupervise()\n"
            "tempfile.NamedTemporaryFile(delete=False, suffix='.cocci').write(b'x')\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_a_pool_worker_exits_after_its_parent_is_killed(tmp_path: Path) -> None:
    """watch_parent (pool initializer): no PDEATHSIG there, which follows the
    forking thread and killed the workers of a live explore."""
    code = ("import multiprocessing as mp, os, time\n"
            "from corpus.reaper import watch_parent\n"
            "pool = mp.get_context('fork').Pool(1, watch_parent, maxtasksperchild=1)\n"
            "pids = {pool.apply(os.getpid) for _ in range(3)}\n"  # replacements too
            "print(pool.apply(os.getpid), flush=True); time.sleep(60)\n")
    pids, _ = _run_and_kill(code, tmp_path)
    assert pids and not any(alive(p) for p in pids)



def _pester(pidfd: int, stop: threading.Event) -> None:
    """SIGTERM the process behind ``pidfd`` every millisecond until ``stop``."""
    while not stop.is_set():
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        except ProcessLookupError:
            return
        time.sleep(0.001)


def test_supervisor_survives_signals_around_the_parents_death(tmp_path: Path) -> None:
    """The CLI's death reaches the supervisor twice: EOF on its pipe (the
    kernel closes the dead CLI's files first) and PDEATHSIG (SIGTERM, sent
    later in the exit, and once more per CLI thread it is handed over to).  A
    SIGTERM landing after the EOF ended the loop used to raise out of the
    supervisor before it killed the groups (seen as a spatch helper alive after
    ``kill -9`` of propose).  Here SIGTERMs keep arriving all through the kill:
    the groups must die and the scratch directory go all the same."""
    code = ("import threading, time\n"
            "from corpus import reaper\n"
            "reaper.supervise()\n"
            "from corpus import hosttools\n"
            "gc = reaper.scratch_dir() / 'gc'\n"
            "t = threading.Thread(target=hosttools.run, args=(['sh', '-c', 'sleep 60 & echo $! > "
            "$TMPDIR/gc; sleep 60'],), kwargs={'timeout': 100}, daemon=True); t.start()\n"
            "while not gc.exists() or not gc.read_text(): time.sleep(0.02)\n"
            "print(gc.read_text().strip(), reaper._state['pid'], flush=True); t.join()\n")
    for n in range(3):
        run = tmp_path / f"run-{n}"
        run.mkdir()
        env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(run))
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                                env=env)
        assert proc.stdout is not None
        helper, supervisor = (int(p) for p in proc.stdout.readline().split())
        pidfd = os.pidfd_open(supervisor)  # signals reach this process, never a reused pid
        stop = threading.Event()
        pesterer = threading.Thread(target=_pester, args=(pidfd, stop))
        pesterer.start()
        try:
            time.sleep(0.05)  # the supervisor ignores SIGTERM while the CLI lives
            assert alive(helper)
            proc.kill()
            proc.wait()
            deadline = time.monotonic() + 10
            while (alive(helper) or list(run.iterdir())) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            pesterer.join()
            os.close(pidfd)
        assert not alive(helper)
        assert list(run.iterdir()) == []
