"""Benchmark the corpus builder and loader on a real kernel tree.

Measures, for one architecture of the tree:

* cold build: every board compiled and converted into an empty directory;
* warm build: the same again with nothing changed, in-process and as the
  user sees it (``probefuzz corpus build`` in a fresh interpreter);
* load: reading and validating every platform JSON, per 100 boards;
* optionally, ``--fuzz-seconds N`` runs the atheris loader target that long.

Usage::

    .venv/bin/python bench/bench_corpus.py [--tree DIR] [--arch arm64] [--jobs N] [--json]

Results go to stdout; docs/benchmarks.md (section "corpus") records them.
:func:`iommu_boards` is the board list of the corpus-wide campaign bench
(``bench/bench_campaign.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from corpus import kernel_tree
from corpus.build import build, default_out, load_corpus, load_index


def iommu_boards(tree: Path, arch: str = "arm64") -> tuple[list[Path], float]:
    """Platform files of the ``arch`` corpus boards with IOMMU providers (an
    IOMMU family in the build index's summary), building the corpus of the
    tree first if needed (a warm build when it is there), and the seconds
    that build took."""
    out = default_out(tree)
    t = time.monotonic()
    build(tree, out, (arch,))
    took = time.monotonic() - t
    index = load_index(out)
    files = sorted(out / b["platform"] for b in index.get("boards", {}).values()
                   if b.get("platform") and b.get("summary", {}).get("families")
                   and b.get("arch", arch) == arch)
    return files, took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--arch", default="arm64")
    ap.add_argument("--jobs", type=int, default=None, help="default: all cores")
    ap.add_argument("--match", action="append", default=[], help="board filter (as corpus build)")
    ap.add_argument("--fuzz-seconds", type=int, default=0,
                    help="also run the atheris loader target this long")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    tree = args.tree or kernel_tree.prepare()
    archs = tuple(args.arch.split(","))
    res: dict[str, Any] = {"tree": str(tree), "archs": list(archs),
                           "cores": os.cpu_count(), "jobs": args.jobs or os.cpu_count()}
    out = Path(tempfile.mkdtemp(prefix="probefuzz-bench-"))
    try:
        t = time.perf_counter()
        cold = build(tree, out, archs, jobs=args.jobs, match=args.match)
        res["cold_s"] = round(time.perf_counter() - t, 2)
        s = cold.summary()
        res["boards"], res["built"], res["skipped"] = s["boards"], s["built"], s["skipped"]
        res["with_iommus"] = s["with_iommus"]

        t = time.perf_counter()
        warm = build(tree, out, archs, jobs=args.jobs, match=args.match)
        res["warm_s"] = round(time.perf_counter() - t, 3)
        res["warm_cached"] = warm.summary()["cached"]

        cli = [sys.executable, "-m", "fuzz.cli", "corpus", "build", "--tree", str(tree),
               "--arch", args.arch, "--out", str(out)]
        for m in args.match:
            cli += ["--match", m]
        t = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True, timeout=600)
        res["warm_cli_s"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        plats = load_corpus(out)
        load = time.perf_counter() - t
        res["load_s"] = round(load, 3)
        res["load_per_100_s"] = round(load * 100 / max(1, len(plats)), 3)
        res["corpus_mb"] = round(sum(p.stat().st_size for p in out.rglob("*.json")) / 1e6, 1)
    finally:
        shutil.rmtree(out, ignore_errors=True)

    if args.fuzz_seconds:
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "corpus.loader_fuzz",
                            f"-max_total_time={args.fuzz_seconds}"],
                           capture_output=True, text=True, timeout=args.fuzz_seconds + 300)
        done = [ln for ln in r.stderr.splitlines() if ln.startswith("Done ")]
        res["fuzz"] = {"seconds": round(time.perf_counter() - t), "exit": r.returncode,
                       "result": done[-1] if done else r.stderr[-500:]}

    print_result(res, args.json, 16)
    return 0


def print_result(res: dict[str, Any], as_json: bool, width: int) -> None:
    """A bench's figures: one JSON object, or ``key: value`` lines aligned at ``width``."""
    if as_json:
        print(json.dumps(res, indent=1))
    else:
        for k, v in res.items():
            print(f"{k:>{width}}: {v}")


if __name__ == "__main__":
    sys.exit(main())
