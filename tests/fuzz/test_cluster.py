"""Campaigns on Dask: a LocalCluster of 2 processes, a real `dask scheduler` with
2 `dask worker`s on 127.0.0.1 (one killed mid-campaign), and no worker left
behind when the client is SIGKILLed."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from fuzz.campaign import ExploreRequest, parts_for, run_campaign, units_for
from fuzz.cluster import RunFigures, _Dask, choose, die_with_parent, executor, start_method
from fuzz.crashstore import CrashStore
from fuzz.engines import native
from fuzz.engines.session import Session
from fuzz.fuzz_units import fuzz_units
from fuzz.ranking import rank
from fuzz.replay import BATCH, Outcome, Replay, replay_all
from harness.boot import boot_config_from_json
from harness.run import run_scenario
from harness.variant import NEXT, V614
from mutators.space import space
from tests.fuzz.helpers import RK, ROOT, SEED_TITLE, board, ctx, probefuzz
from tests.fuzz.test_explore import small_corpus
from tests.procs import alive

SUN = "sun50i-h6-orangepi-3"
VIRT = "qemu-virt-smmuv3"  # PCI functions behind a DT host bridge (issue 16)


def _ranking(results: list) -> list[tuple[str, dict[str, int], list[str]]]:
    return [(r.id, r.counts, r.titles) for r in rank(results)]


def test_units_cut_the_campaign_without_changing_it(tmp_path: Path) -> None:
    """Two LocalCluster processes running the campaign cut into 6 units find what
    one process running it as 1 unit finds (the QEMU virt board's PCI functions
    travel with the board to the workers)."""
    boards = [board(RK), board(VIRT)]
    whole = ExploreRequest(base="NEXT", depth=0, boards=boards, out=tmp_path / "serial",
                           runs_per_board=3, jobs=1)
    cut = ExploreRequest(base="NEXT", depth=0, boards=boards, out=tmp_path / "dask",
                         runs_per_board=3, jobs=2, part_runs=1)
    assert len(parts_for(whole, units_for("NEXT", 0))) == 1
    assert len(parts_for(cut, units_for("NEXT", 0))) == 6
    a = run_campaign(whole, progress=False)
    b = run_campaign(cut, progress=False)
    assert a.run is not None and a.run.executor == "serial"
    assert b.run is not None and b.run.executor == "dask" and b.run.workers == 2
    # the 6 fuzzing units, then one minimisation task per first witness of a title
    tasks = len((tmp_path / "dask" / "minimise.jsonl").read_text().splitlines())
    assert tasks >= 1 and b.run.units == 6 + tasks
    assert sum(w.units for w in b.run.per_worker.values()) == 6 + tasks
    assert sum(w.cpu_s for w in b.run.per_worker.values()) > 0
    assert _ranking(a.results) == _ranking(b.results)
    assert SEED_TITLE in _ranking(b.results)[0][2]
    assert [r.executions for r in a.results] == [r.executions for r in b.results] == [6]
    # the client wrote the units' reproducers, and state.jsonl has one line per unit
    row = b.results[0]
    reps = [f["reproducer"] for f in row.found]
    assert reps and all((tmp_path / "dask" / r).is_file() for r in reps)
    assert len((tmp_path / "dask" / "state.jsonl").read_text().splitlines()) == 6
    assert (tmp_path / "dask" / "minimised").is_dir()


def test_executor_choice() -> None:
    assert choose(None, None, 1, 100) == "serial"
    assert choose(None, None, 2, 100) == "dask"
    assert choose(None, None, 2, 1) == "serial"
    assert choose("fork", None, 2, 100) == "fork"
    assert choose(None, "tcp://127.0.0.1:8786", 1, 1) == "dask"
    f = RunFigures("dask", elapsed_s=2.0)
    f.account("w1", 1.0, 0.5)
    f.account("w1", 0.5, 0.25)
    assert f.to_json()["per_worker"] == {"w1": {"units": 2, "busy_s": 1.5, "cpu_s": 0.75, "load": 0.75}}
    assert f.units_per_s == 1.0


def test_start_method_falls_back_to_spawn_where_the_server_socket_cannot_be(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork server listens on a Unix socket below the temporary directory;
    sun_path holds 107 bytes, so a deep TMPDIR means spawned workers."""
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    assert start_method() == "forkserver"
    monkeypatch.setattr(tempfile, "tempdir", "/tmp/" + "d" * 80)
    assert start_method() == "spawn"


def test_bad_scheduler_is_one_line_exit_2(tmp_path: Path) -> None:
    for addr in ("not an address", "tcp://127.0.0.1:1"):
        r = probefuzz("explore", "--depth", "0", "--scheduler", addr, "--out", str(tmp_path / "o"),
                      "--no-progress", timeout=120)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "--scheduler" in r.stderr


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _descendants(pid: int) -> dict[int, int]:
    """Every live descendant of ``pid`` and its depth (1: a child)."""
    found: dict[int, int] = {}
    todo = [(pid, 0)]
    while todo:
        p, depth = todo.pop()
        for c in _children(p):
            if c not in found:
                found[c] = depth + 1
                todo.append((c, depth + 1))
    return found


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Threads:")))


def _setup(ctx: object) -> object:
    return ctx


def _echo(state: object, item: int) -> tuple[object, int]:
    return state, item


def _negate(state: object, item: int) -> int:
    return -item


def test_local_workers_are_forked_by_a_single_threaded_server_and_leave_no_scratch() -> None:
    """This test process runs threads (Dask's own, once a cluster ran here): its
    LocalCluster's workers are forked by the fork server, a single-threaded
    process of its own group, and Dask's scratch space goes with the cluster."""
    with executor("dask", {"boards": 2}, _setup, jobs=2) as ex:
        assert isinstance(ex, _Dask) and ex.scratch is not None
        scratch = Path(ex.scratch)
        assert (scratch / "dask-scratch-space").is_dir(), "Dask's local directories are ours"
        assert sorted(r for _, r in ex.run(_echo, [1, 2, 3])) == [({"boards": 2}, i) for i in (1, 2, 3)]
        # A second batch on the same executor (explore's minimisations after
        # its fuzzing units) gets its own results and keys: the scheduler
        # forgets a released key asynchronously, and a key submitted again
        # before that gets the old task's result.
        keys: list[str] = []
        submit = ex.client.submit

        def recording_submit(*args: Any, **kwargs: Any) -> Any:
            keys.append(kwargs["key"])
            return submit(*args, **kwargs)

        ex.client.submit = recording_submit
        assert sorted(r for _, r in ex.run(_echo, [1, 2, 3])) == [({"boards": 2}, i) for i in (1, 2, 3)]
        assert sorted(r for _, r in ex.run(_negate, [1, 2, 3])) == [-3, -2, -1]
        assert len(set(keys)) == len(keys) == 6
        parents = set(ex.client.run(os.getppid).values())
        assert _threads(os.getpid()) > 1
        assert len(parents) == 1 and os.getpid() not in parents
        server = parents.pop()
        assert _threads(server) == 1 and os.getpgid(server) == server
        assert _children(server) and all(alive(w) for w in _children(server))
        workers = _children(server)
    assert not scratch.exists()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if alive(w)], "a worker outlived its cluster"


def test_local_workers_die_with_a_sigkilled_client(tmp_path: Path) -> None:
    """A campaign on a LocalCluster leaves no temporary file when it ends, and
    none and no process (fork server, workers) when its client is SIGKILLed."""
    corpus = small_corpus(tmp_path, RK, SUN)
    # short, as a TMPDIR is: the fork server's Unix socket lies below it
    tmp = Path(tempfile.mkdtemp(prefix="pf-", dir="/tmp"))
    try:
        _clean_after_end_and_kill(tmp_path, corpus, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clean_after_end_and_kill(tmp_path: Path, corpus: Path, tmp: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp))
    args = [sys.executable, "-m", "fuzz.cli", "explore", "--corpus", str(corpus), "--jobs", "2",
            "--no-progress", "--depth", "0"]
    finish = ["--runs-per-board", "2", "--unit-runs", "1", "--out", str(tmp_path / "done")]
    done = subprocess.run([*args, *finish], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    assert json.loads((tmp_path / "done" / "run.json").read_text())["executor"] == "dask"
    assert list(tmp.iterdir()) == [], "a finished campaign left temporary files"
    out = tmp_path / "out"
    p = subprocess.Popen([*args, "--runs-per-board", "400", "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if (out / "state.jsonl").exists():
                break
            time.sleep(0.05)
        tree = _descendants(p.pid)
        # the reaper's supervisor, the fork server (and resource tracker); the workers below the server
        workers = [w for w, depth in tree.items() if depth == 2]
        assert p.poll() is None and len(workers) >= 2, "the campaign must be running on its workers"
    finally:
        p.kill()
        p.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (any(alive(w) for w in tree) or any(tmp.iterdir())):
        time.sleep(0.1)
    assert not [w for w in tree if alive(w)], "a process outlived the SIGKILLed client"
    assert list(tmp.iterdir()) == [], "temporary files left after kill -9"


# -- a real scheduler and workers on loopback -------------------------------------------------


def _spawn(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """A `dask` CLI process in its own group, killed by the kernel if this test
    process dies (PDEATHSIG), so no scheduler or worker outlives the suite."""
    # Dask's scratch space (default $TMPDIR/dask-scratch-space) in the test's
    # directory: the SIGKILLed worker cannot remove its locks and directory
    env = dict(os.environ, PYTHONPATH=str(ROOT), DASK_TEMPORARY_DIRECTORY=str(log.parent))
    with open(log, "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=subprocess.DEVNULL,
                                stderr=err, env=env, start_new_session=True, cwd=log.parent,
                                preexec_fn=functools.partial(die_with_parent, os.getpid()))


def _stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """`dask scheduler` and 2 `dask worker`s on 127.0.0.1; all killed afterwards."""
    d = tmp_path / "dask"
    d.mkdir()
    sched_file = d / "scheduler.json"
    procs = [_spawn("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(sched_file), log=d / "scheduler.log")]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not sched_file.exists():
            assert procs[0].poll() is None, (d / "scheduler.log").read_text()
            time.sleep(0.1)
        addr = json.loads(sched_file.read_text())["address"]
        # no nanny: the worker is the process we start (and kill), not a grandchild
        workers = [_spawn("worker", addr, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                          "--no-nanny", "--name", f"w{i}", log=d / f"worker{i}.log") for i in range(2)]
        procs += workers
        with Client(addr, timeout=60) as c:
            c.wait_for_workers(2, timeout=120)
        yield addr, workers
    finally:
        for p in reversed(procs):
            _stop(p)


def _explore(corpus: Path, out: Path, *extra: str) -> list[str]:
    return ["explore", "--corpus", str(corpus), "--out", str(out), "--no-progress", *extra]


@pytest.mark.parametrize("depth", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_scheduler_with_a_worker_killed_mid_campaign(
        tmp_path: Path, dask_cluster: tuple[str, list[subprocess.Popen[bytes]]], depth: int) -> None:
    addr, workers = dask_cluster
    corpus = small_corpus(tmp_path, RK, SUN)
    # depth 0: NEXT alone, 24 scenarios cut into 12 units; depth 1: NEXT and its space, 4 scenarios each
    extra = ["--depth", "0", "--runs-per-board", "12"] if depth == 0 else ["--runs-per-board", "2"]
    ref = tmp_path / "ref"
    r = probefuzz(*_explore(corpus, ref, *extra, "--jobs", "1"))
    assert r.returncode in (0, 1), r.stderr
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "fuzz.cli", *_explore(corpus, out, *extra, "--scheduler", addr)]
    if depth == 0:
        cmd += ["--unit-runs", "2"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    state = out / "state.jsonl"
    total = 12 if depth == 0 else len(space("NEXT", 1)) + 1
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and p.poll() is None:
        if state.exists() and len(state.read_text().splitlines()) >= 1:
            break
        time.sleep(0.02)
    at_kill = len(state.read_text().splitlines()) if state.exists() else 0
    _stop(workers[0])
    assert at_kill < total, "the kill must land mid-campaign"
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode in (0, 1), stderr
    run = json.loads((out / "run.json").read_text())
    tasks = len((out / "minimise.jsonl").read_text().splitlines())  # fuzzing units, then minimisations
    assert run["units"] == total + tasks and run["scheduler"] == addr
    ranked = json.loads((out / "ranking.json").read_text())["variants"]
    expect = json.loads((ref / "ranking.json").read_text())["variants"]
    assert [(x["id"], x["rank"], x["counts"], x["titles"]) for x in ranked] == \
        [(x["id"], x["rank"], x["counts"], x["titles"]) for x in expect]
    assert len(state.read_text().splitlines()) == total


def test_regress_batches_on_a_local_cluster_agree_with_one_process(tmp_path: Path) -> None:
    for v in (NEXT, V614):
        s = Session(v, "native", tmp_path / "crashes" / v.name)
        native.fuzz_loop(s, ctx(RK, SUN), runs=40, seconds=None, seed=3)
    one = probefuzz("regress", "--variant", "NEXT", "--crashes", str(tmp_path / "crashes"), "--json")
    many = probefuzz("regress", "--variant", "NEXT", "--crashes", str(tmp_path / "crashes"), "--json",
                     "--jobs", "2")
    assert one.returncode == 1 and many.returncode == 1, many.stderr
    a, b = json.loads(one.stdout), json.loads(many.stdout)
    assert a["scenarios"] >= 2 and a == b
    # the same through the API: 2 processes, with
    # issue 16's scenario inputs in the shipped configs (fw_devlink=on, a
    # hot-plugged PCI function found by a rescan)
    reps = [r for sub in ("NEXT", "V614") for r in CrashStore(tmp_path / "crashes" / sub)]
    replays = [Replay(r.platform(), r.config, list(r.schedule)) for r in reps]
    fidelity = {"fw_devlink": "on", "pci": ["hotplug:00:05.0=pci8086,10d3"], "events": [["rescan", ""]]}
    replays += [Replay(board(RK).platform, {"fw_devlink": "on"}, []),
                Replay(board(VIRT).platform, fidelity, [])]
    serial, f1 = replay_all([NEXT, V614], replays, jobs=1)
    dask, f2 = replay_all([NEXT, V614], replays, jobs=2)
    # batches of ceil(n / (4 * jobs)) replays (at most BATCH): more findings
    # since the race dimensions, so not always one batch per scenario
    size = max(1, min(BATCH, -(-len(replays) // 8)))
    assert f1.executor == "serial" and f2.executor == "dask" and f2.units == -(-len(replays) // size)
    assert serial == dask and any(o.title == SEED_TITLE for x in dask for o in x[0])
    # V614 shows the seed oops only when an interleaving lets a client's
    # of_xlate run inside rk_iommu_probe's window (race reproducers): never
    # on a replay without a schedule or preemptions
    assert not any(o.title == SEED_TITLE for r, x in zip(replays, dask, strict=True)
                   if not r.schedule and not r.config.get("preempt") for o in x[1])
    for rp, per in zip(replays[-2:], dask[-2:], strict=True):
        direct = run_scenario(rp.platform, NEXT, boot_config_from_json(rp.config, []))
        assert per[0] == [Outcome(f.title, list(f.alt_titles)) for f in direct.findings]
    assert [o.title for o in dask[-2][0]] == [SEED_TITLE]


def test_fuzz_native_in_seed_range_units_on_a_local_cluster(tmp_path: Path) -> None:
    units = fuzz_units(30, None, 5, 2)
    assert [u.seed for u in units] == list(range(5, 13)) and sum(u.runs or 0 for u in units) == 30
    assert [u.seconds for u in fuzz_units(None, 2.0, 0, 3)] == [2.0] * 3
    args = ["fuzz", "--engine", "native", "--runs", "24", "--crashes", str(tmp_path / "c"), RK, "--json"]
    r = probefuzz(*args, "--jobs", "2")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["engine"]["executions"] == 24 and out["engine"]["units"] == 8
    assert out["engine"]["run"]["executor"] == "dask" and out["engine"]["run"]["workers"] == 2
    seed = next(f for f in out["found"] if f["title"] == SEED_TITLE)
    rep = probefuzz("repro", "--json", seed["reproducer"])
    assert rep.returncode == 1 and json.loads(rep.stdout)["findings"][0]["title"] == SEED_TITLE
    # reproducible: a rerun with the same cut finds the same titles
    again = json.loads(probefuzz(*args, "--jobs", "2", "--crashes", str(tmp_path / "d")).stdout)
    assert sorted(f["title"] for f in again["found"]) == sorted(f["title"] for f in out["found"])
