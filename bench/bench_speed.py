"""Every speed figure of probefuzz in one run, optionally against a git revision.

Figures (seed board ``rk3568-odroid-m1`` unless said otherwise):

* ``boots/s`` of the plain boot under V614, NEXT and NEXT+rk-fix
  (``NEXT+rk_iommu_probe.dma_dev=before_register``): ``run_scenario`` back to
  back in one process, per CPU-second of that process (= per core);
* ``native exec/s``: ``probefuzz fuzz --engine native --runs N --seed 1 --json``
  on NEXT+rk-fix, the ``executions_per_second`` it reports (fuzzing
  executions over the whole run's seconds, minimising included); beside it
  ``native runs/s``, every run of the fuzzer and the minimiser (the
  findings' ``minimise_runs``, which every checkout reports; a run the
  minimiser's cache answered counts too) over the same seconds, ``native
  fuzzing exec/s`` (the fuzzing executions over the seconds not spent
  minimising, where the checkout reports them) and ``native findings``;
* ``atheris exec/s``: ``probefuzz fuzz --engine atheris --time T --seed 1 --json``,
  executions per second of fuzzing (libFuzzer start-up excluded);
* ``explore wall``: ``probefuzz explore`` with no arguments, wall seconds.

With ``--against REV`` the revision is checked out in a temporary ``git
worktree`` (removed afterwards) and every figure is measured for both
checkouts, alternately (old, new, old, new, ...), each in a fresh process, so
both see the same machine noise; the table gives the median of the rounds and
the ratio new/old (for the wall time, old/new: higher is better everywhere).

Usage::

    .venv/bin/python bench/bench_speed.py --against bbf1820 [--rounds 3] [--json]
    .venv/bin/python bench/bench_speed.py --skip explore,atheris   # quick look, this checkout only
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._revision import revision_worktree  # noqa: E402

BOARD = "rk3568-odroid-m1"
# the ":=" spelling: both the checkouts before issue 12's ids (541c964) and
# today's resolve it (today's canonical id is "...dma_dev=before_register")
RK_FIX = "NEXT+rk_iommu_probe.dma_dev:=before_register"
FIGURES = ("boot", "native", "atheris", "explore")

# Runs in the checkout under test (PYTHONPATH): boots per CPU-second.
_BOOT_SNIPPET = r"""
import json, sys, time
from corpus.bundled import load_bundled
from mutators.space import resolve
try:
    from harness.run import run_scenario
except ImportError:  # a checkout before issue 12's renames
    from harness.scenario import run_scenario
p = load_bundled(sys.argv[1])
seconds = float(sys.argv[2])
out = {}
for vid in sys.argv[3:]:
    v = resolve(vid).variant
    run_scenario(p, v)  # warm-up: imports, first-run caches
    n = 0
    c0 = time.process_time()
    while time.process_time() - c0 < seconds:
        run_scenario(p, v)
        n += 1
    out[vid] = n / (time.process_time() - c0)
print(json.dumps(out))
"""


def _env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")


def _cli(tree: Path, args: list[str], cwd: Path, timeout: float) -> tuple[dict[str, Any], float]:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "fuzz.cli", *args], cwd=cwd, env=_env(tree),
                       capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"bench_speed: {' '.join(args[:3])} failed in {tree}: "
                         f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
    try:
        return json.loads(r.stdout), wall
    except json.JSONDecodeError:
        return {}, wall


def measure(tree: Path, what: str, a: argparse.Namespace) -> dict[str, float]:
    """One measurement of figure ``what`` in checkout ``tree``."""
    with tempfile.TemporaryDirectory(prefix="probefuzz-bench-") as tmp:
        cwd = Path(tmp)
        if what == "boot":
            r = subprocess.run([sys.executable, "-c", _BOOT_SNIPPET, BOARD, str(a.seconds),
                                "V614", "NEXT", RK_FIX], cwd=cwd, env=_env(tree),
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise SystemExit(f"bench_speed: boot figures failed in {tree}: {r.stderr.strip()[-300:]}")
            d = json.loads(r.stdout)
            return {"boots/s V614": d["V614"], "boots/s NEXT": d["NEXT"], "boots/s NEXT+rk-fix": d[RK_FIX]}
        if what == "native":
            d, _ = _cli(tree, ["fuzz", "--engine", "native", "--runs", str(a.runs), "--seed", "1",
                               "--json", "--variant", RK_FIX, "--crashes", str(cwd / "c"), BOARD],
                        cwd, 1200)
            e = d["engine"]
            secs = float(e["elapsed_seconds"]) or 1.0
            runs = e["executions"] + sum(int(f.get("minimise_runs", 0)) for f in d.get("found", []))
            out = {"native exec/s": float(e["executions_per_second"]), "native runs/s": runs / secs,
                   "native findings": float(len(d.get("found", [])))}
            if "fuzzing_executions_per_second" in e:
                out["native fuzzing exec/s"] = float(e["fuzzing_executions_per_second"])
            return out
        if what == "atheris":
            d, _ = _cli(tree, ["fuzz", "--engine", "atheris", "--time", str(a.atheris_time), "--seed", "1",
                               "--json", "--variant", RK_FIX, "--crashes", str(cwd / "c"), BOARD],
                        cwd, 600)
            e = d["engine"]
            secs = float(e.get("fuzzing_seconds") or e["elapsed_seconds"]) or 1.0
            return {"atheris exec/s": e["executions"] / secs,
                    "atheris findings": float(len(d.get("found", [])))}
        if what == "explore":
            _, wall = _cli(tree, ["explore", "--json", "--no-progress"], cwd, 3600)
            return {"explore wall s": wall}
    raise ValueError(what)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", metavar="REV", help="git revision to compare with (e.g. bbf1820)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per figure (default: 3)")
    ap.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per boot figure (default: 3)")
    ap.add_argument("--runs", type=int, default=500, help="native --runs (default: 500)")
    ap.add_argument("--atheris-time", type=float, default=10.0, help="atheris --time (default: 10)")
    ap.add_argument("--skip", default="", help=f"comma-separated figures to skip: {','.join(FIGURES)}")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    skip = {s for s in a.skip.split(",") if s}
    if skip - set(FIGURES):
        print(f"bench_speed: unknown figure(s) {', '.join(sorted(skip - set(FIGURES)))}", file=sys.stderr)
        return 2
    trees: dict[str, Path] = {"new": ROOT}
    with contextlib.ExitStack() as stack:
        if a.against:
            trees = {"old": stack.enter_context(revision_worktree(a.against, "bench_speed")), "new": ROOT}
        samples: dict[str, dict[str, list[float]]] = {k: {} for k in trees}
        for what in FIGURES:
            if what in skip:
                continue
            rounds = 1 if what == "explore" else a.rounds
            for _ in range(rounds):
                for side, tree in trees.items():
                    for k, v in measure(tree, what, a).items():
                        samples[side].setdefault(k, []).append(v)
                    print(f"  {what} {side}: done", file=sys.stderr, flush=True)
    med = {side: {k: statistics.median(v) for k, v in s.items()} for side, s in samples.items()}
    out: dict[str, Any] = {"against": a.against, "cpus": os.cpu_count(),
                           "load_avg_1m": os.getloadavg()[0], "figures": med}
    if a.against:
        out["speedup"] = {k: (med["old"][k] / v if k.endswith("wall s") else v / med["old"][k])
                          for k, v in med["new"].items() if med["old"].get(k)}
    if a.json:
        print(json.dumps(out, indent=1))
        return 0
    keys = list(med["new"])
    if a.against:
        print(f"{'figure':24} {a.against:>12} {'this tree':>12} {'speed-up':>9}")
        for k in keys:
            old, new = med["old"].get(k), med["new"][k]
            sp = out["speedup"].get(k)
            print(f"{k:24} {old if old is not None else float('nan'):12.1f} {new:12.1f} "
                  + (f"{sp:8.1f}x" if sp is not None and 'findings' not in k else ""))
    else:
        for k in keys:
            print(f"{k:24} {med['new'][k]:12.1f}")
    print(f"(median of {a.rounds} alternating rounds; load average {out['load_avg_1m']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
