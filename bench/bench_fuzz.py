"""Benchmark the fuzzers: time to the seed oops, executions per second, explore's wall time.

* ``atheris``: ``probefuzz fuzz --variant NEXT --engine atheris rk3568-odroid-m1
  --runs R --seed i --json`` for seeds 0..N-1 (default 10): the median time to
  the first finding (from the first fuzzer input; the process start-up,
  instrumentation of ``harness`` included, is reported apart) and the median
  executions per second of the instrumented model.
* ``native``: the same through the in-process engine (no instrumentation).
* ``--explore``: ``probefuzz explore`` with no arguments in a scratch
  directory: wall time and CPU time (user+sys of all its processes).

Usage::

    .venv/bin/python bench/bench_fuzz.py [--trials 10] [--runs 300] [--explore] [--json]

Results go to stdout; docs/benchmarks.md (section "fuzz") records them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOARD = "rk3568-odroid-m1"


def _cli(args: list[str], cwd: str | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "fuzz.cli", *args], capture_output=True, text=True,
                       env=env, cwd=cwd, timeout=1800)
    return r, time.monotonic() - t


def fuzz_trials(engine: str, trials: int, runs: int) -> dict[str, Any]:
    ttff, eps, walls, startups = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(trials):
            r, wall = _cli(["fuzz", "--variant", "NEXT", "--engine", engine, "--runs", str(runs),
                            "--seed", str(seed), "--crashes", f"{tmp}/c{seed}", "--json", BOARD])
            if r.returncode not in (0, 1):
                raise SystemExit(f"fuzz failed: {r.stderr.strip()}")
            e = json.loads(r.stdout)["engine"]
            if e["time_to_first_finding"] is not None:
                ttff.append(e["time_to_first_finding"])
            eps.append(e["executions_per_second"])
            walls.append(wall)
            if "startup_seconds" in e:
                startups.append(e["startup_seconds"])
    return {"engine": engine, "trials": trials, "runs": runs, "found_in": len(ttff),
            "median_time_to_first_finding_s": statistics.median(ttff) if ttff else None,
            "max_time_to_first_finding_s": max(ttff) if ttff else None,
            "median_exec_per_s": statistics.median(eps),
            "median_startup_s": statistics.median(startups) if startups else None,
            "median_wall_s": statistics.median(walls)}


def explore() -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        r, wall = _cli(["explore", "--no-progress"], cwd=tmp)
        if r.returncode not in (0, 1):
            raise SystemExit(f"explore failed: {r.stderr.strip()}")
        data = json.loads((Path(tmp) / "probefuzz-out" / "ranking.json").read_text())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = data["variants"]
    nxt = next(r for r in rows if r["id"] == "NEXT")
    clean = [r for r in rows if not r["titles"]]
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "variants": len(rows),
            "executions": data["budget"]["executions"], "next_rank": nxt["rank"],
            "clean_variants": len(clean), "best": rows[0]["id"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--explore", action="store_true", help="also time `probefuzz explore`")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}
    out["atheris"] = fuzz_trials("atheris", a.trials, a.runs)
    out["native"] = fuzz_trials("native", a.trials, a.runs)
    if a.explore:
        out["explore"] = explore()
    out["load_avg_1m_after"] = os.getloadavg()[0]
    if a.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{out['cpus']} CPUs, load average {out['load_avg_1m']:.1f} -> {out['load_avg_1m_after']:.1f}")
    for k in ("atheris", "native"):
        f = out[k]
        print(f"{k:8}: seed oops found in {f['found_in']}/{f['trials']} runs; median time to first finding "
              f"{f['median_time_to_first_finding_s']:.3f} s (max {f['max_time_to_first_finding_s']:.3f} s); "
              f"median {f['median_exec_per_s']:.0f} exec/s over {f['runs']} runs"
              + (f"; process start-up {f['median_startup_s']:.2f} s" if f["median_startup_s"] else "")
              + f"; wall {f['median_wall_s']:.1f} s")
    if "explore" in out:
        e = out["explore"]
        print(f"explore : {e['wall_s']} s wall, {e['cpu_s']} s CPU, {e['variants']} variants, "
              f"{e['executions']} executions; NEXT ranks {e['next_rank']}, {e['clean_variants']} clean "
              f"variants, best {e['best']}")


if __name__ == "__main__":
    main()
