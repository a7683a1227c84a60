"""Benchmark campaigns on Dask.

Two measurements:

* ``corpus`` (default): the plain boot of every arm64 corpus board with IOMMUs
  (``probefuzz corpus build --arch arm64`` of the prepared tree; 668 boards)
  under V614, NEXT and every depth-1 variant around NEXT, as one explore
  campaign (``--runs-per-board 1``) on a LocalCluster of ``--jobs``
  processes or on ``--scheduler ADDRESS``.  ``--sample N`` takes N boards
  (seeded, spread over the corpus) and ``--limit N`` the first N, since
  the whole campaign is about 92,000 boots.  Prints wall time, units/s,
  boots/s, per-worker load and the projected time of the whole campaign
  on N workers (from the measured boots per busy worker-second).
* ``--overhead K``: ``probefuzz explore`` with no arguments, K times with
  ``--executor dask`` and K times with ``--executor fork``, alternately, in
  one run: the LocalCluster's overhead over the fork pool (``--explore ARGS``:
  other explore arguments; ``--against REV``: also the LocalCluster of that
  revision).

Usage::

    .venv/bin/python bench/bench_campaign.py --sample 60 --jobs 2      # --limit N, --scheduler A, --json
    .venv/bin/python bench/bench_campaign.py --overhead 2
    .venv/bin/python bench/bench_campaign.py --overhead 2 --explore "--depth 0"   # fixed costs

docs/benchmarks.md (section "campaigns on Dask") records the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import random
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._revision import revision_worktree  # noqa: E402
from bench.bench_corpus import iommu_boards, print_result  # noqa: E402
from corpus import kernel_tree  # noqa: E402
from fuzz.campaign import ExploreRequest, UnitResult, run_campaign, units_for  # noqa: E402
from fuzz.gen import CorpusBoard  # noqa: E402
from harness.board import load_board  # noqa: E402

WORKERS = (1, 2, 8, 32, 128)


def _commit() -> str:
    """The measured commit (``+dirty`` with uncommitted changes)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return git("rev-parse", "--short=12", "HEAD") + ("+dirty" if git("status", "--porcelain", "-uno") else "")


def corpus_bench(args: argparse.Namespace) -> dict[str, Any]:
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    commit = _commit()  # now: the tree may move during a long run
    tree = args.tree or kernel_tree.prepare()
    files, build_s = iommu_boards(tree)
    total_boards = len(files)
    if args.sample:
        files = sorted(random.Random(args.seed).sample(files, min(args.sample, len(files))))
    elif args.limit:
        files = files[:args.limit]
    t = time.monotonic()
    boards = []
    for f in files:
        p = load_board(f)
        boards.append(CorpusBoard(p.name, p, str(f)))
    load_s = time.monotonic() - t
    variants = len(units_for("NEXT", 1, ("V614",)))
    out = Path(tempfile.mkdtemp(prefix="probefuzz-bench-campaign-"))
    try:
        req = ExploreRequest(base="NEXT", depth=1, boards=boards, out=out, runs_per_board=1,
                             jobs=args.jobs, seed=0, scheduler=args.scheduler, executor=args.executor,
                             also=("V614",))
        t = time.monotonic()
        done = [0]

        def landed(u: UnitResult) -> None:
            # one line per variant as its last unit lands: the log of a long run
            done[0] += 1
            print(f"  {time.strftime('%H:%M:%S', time.gmtime())} {done[0]}/{variants} "
                  f"{u.id}: {u.executions} boots, {len(u.found)} findings "
                  f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)

        c = run_campaign(req, progress=False, on_result=landed)
        wall = time.monotonic() - t
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert c.run is not None
    run = c.run.to_json()
    boots = sum(r.executions for r in c.results)
    # Per CPU-second of the threads that ran the units: what a dedicated core
    # does, however loaded this machine was.
    busy = sum(w["cpu_s"] for w in run["per_worker"].values())
    per_worker_boots_s = boots / busy if busy else 0.0
    full = total_boards * variants
    res: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "commit": commit,
        "started": started, "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "tree": str(tree), "corpus_build_s": round(build_s, 1), "boards_with_iommus": total_boards,
        "boards": len(boards), "variants": variants, "load_s": round(load_s, 2),
        "units": run["units"], "boots": boots, "wall_s": round(wall, 1),
        "startup_s": run["startup_s"], "units_per_s": run["units_per_s"],
        "boots_per_s": round(boots / wall, 1) if wall else 0.0,
        "unit_cpu_s": round(busy, 1), "boots_per_cpu_s": round(per_worker_boots_s, 1),
        "workers": run["workers"], "executor": run["executor"], "per_worker": run["per_worker"],
        "findings": sum(len(r.found) for r in c.results),
        "full_campaign_boots": full,
        "projected_full_s": {str(n): round(full / (n * per_worker_boots_s) + run["startup_s"], 0)
                             for n in WORKERS} if per_worker_boots_s else {},
        "load_average": os.getloadavg()[0],
    }
    return res


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def _become_subreaper() -> None:
    """Descendants orphaned by their parent's exit (a worker that outlives the
    CLI by a moment) re-parent to this process instead of init, so that
    :func:`_reap` can wait for them and their CPU time is counted."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


def _reap() -> None:
    """Wait for every remaining child (this process starts no others)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _children_cpu() -> float:
    """CPU seconds of the waited-for descendants so far: a process's rusage
    includes the children it reaped, and :func:`_reap` reaps the orphans."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def overhead_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Wall and CPU seconds (CPU is what a loaded shared machine distorts least)
    of explore on each executor, in rotating order; with ``--against REV`` also
    ``--executor dask`` of that revision (a temporary detached worktree)."""
    engines: dict[str, Path] = {"dask": ROOT, "fork": ROOT}
    stack = contextlib.ExitStack()
    if args.against:
        tree = stack.enter_context(revision_worktree(args.against, "bench_campaign"))
        engines[f"dask@{args.against}"] = tree
    times: dict[str, list[float]] = {e: [] for e in engines}
    cpu: dict[str, list[float]] = {e: [] for e in engines}
    commit = _commit()
    _become_subreaper()
    names = list(engines)
    try:
        for i in range(args.overhead):
            for name in names[i % len(names):] + names[:i % len(names)]:
                root, ex = engines[name], name.split("@")[0]
                d = Path(tempfile.mkdtemp(prefix="probefuzz-bench-explore-"))
                try:
                    t, c = time.monotonic(), _children_cpu()
                    cmd = [sys.executable, "-m", "fuzz.cli", "explore", *shlex.split(args.explore),
                           "--executor", ex, "--no-progress", "--out", str(d / "out")]
                    r = subprocess.run(cmd,
                                       cwd=d, env=dict(os.environ, PYTHONPATH=str(root)),
                                       capture_output=True, text=True, timeout=3600)
                    took = time.monotonic() - t
                    _reap()
                    used = _children_cpu() - c
                finally:
                    shutil.rmtree(d, ignore_errors=True)
                if r.returncode not in (0, 1):
                    raise SystemExit(f"explore --executor {name} failed: {r.stderr.strip()[-500:]}")
                times[name].append(round(took, 2))
                cpu[name].append(round(used, 2))
                print(f"  explore --executor {name}: {took:.1f} s wall, {used:.1f} s CPU "
                      f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    finally:
        stack.close()
    res: dict[str, Any] = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "commit": commit,
                           "wall_s": times, "cpu_s": cpu}
    for name in names:
        if name != "fork":
            key = name.replace("@", "_at_")
            res[f"{key}_over_fork_wall"] = round(sum(times[name]) / sum(times["fork"]), 3)
            res[f"{key}_over_fork_cpu"] = round(sum(cpu[name]) / sum(cpu["fork"]), 3)
    if args.against:
        old = f"dask@{args.against}"
        res["dask_over_old_dask_cpu"] = round(sum(cpu["dask"]) / sum(cpu[old]), 3)
    res["load_average"] = os.getloadavg()[0]
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)) or 1)
    ap.add_argument("--scheduler", default=None, metavar="ADDRESS")
    ap.add_argument("--executor", choices=("dask", "fork", "serial"), default="dask")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--sample", type=int, default=0, metavar="N", help="N boards drawn at random")
    g.add_argument("--limit", type=int, default=0, metavar="N", help="the first N boards")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sample")
    ap.add_argument("--overhead", type=int, default=0, metavar="K",
                    help="instead: explore (no arguments) K times per executor, dask and fork alternately")
    ap.add_argument("--explore", default="", metavar="ARGS",
                    help="with --overhead: these explore arguments instead of none (e.g. '--depth 0': "
                    "little work, so the executors' fixed costs show)")
    ap.add_argument("--against", metavar="REV", default=None,
                    help="with --overhead: also explore --executor dask of this git revision")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = overhead_bench(args) if args.overhead else corpus_bench(args)
    print_result(res, args.json, 22)
    return 0


if __name__ == "__main__":
    sys.exit(main())
