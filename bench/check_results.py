"""Check that the model's results are unchanged against a git revision.

A speed-up must not change what the model finds.  This script boots, in this
checkout and in REV (checked out in a temporary ``git worktree``, removed
afterwards), the same runs and compares everything a run reports:

* the plain boot (default configuration, synchronous schedule) of every
  bundled board and every example platform (``corpus/examples``) under
  V614, NEXT and every variant within one mutation of NEXT (``probefuzz
  variants --depth 1``): findings (``Finding.to_json()``), end-of-run
  statistics and the whole kernel log;
* ``--random N`` generated scenarios per board (DT mutations,
  driver configurations, faults, events, thread schedules; the bytes are
  seeded, so both checkouts run the same inputs) under V614, NEXT and
  NEXT+rk-fix, which exercises the concurrent and event paths too.

Usage::

    .venv/bin/python bench/check_results.py --against b2f0a60 [--random 40] [--jobs 2]
        [--board NAME ...] [--titles]

``--board`` restricts the runs to those boards; ``--titles`` prints, for each
run whose findings differ, the findings (title @ device) only one side has.

Prints one line per difference (variant, board, what differs) and exits 1
when there is any, 0 when every run is identical.  ``--dump FILE`` (used on
each side) writes the per-run digests of the checkout the script runs in.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RK_FIX = "NEXT+rk_iommu_probe.dma_dev=before_register"


def _digest(r: Any) -> dict[str, Any]:
    """What a run reports, with a hash of the kernel log (printed in full on a mismatch)."""
    return {"findings": [f.to_json() for f in r.findings], "stats": dict(r.stats),
            "panicked": bool(r.panicked), "decisions": int(r.decisions),
            "log_sha1": hashlib.sha1("\n".join(r.log).encode()).hexdigest(),
            "log_lines": len(r.log)}


def _run(run_scenario: Any, p: Any, v: Any, cfg: Any = None) -> dict[str, Any]:
    try:
        return _digest(run_scenario(p, v, cfg))
    except Exception as e:  # noqa: BLE001 - a model bug is a result too (fuzz counts it)
        return {"error": f"{type(e).__name__}: {e}"}


def dump(random_runs: int, shard: int, shards: int, boards: list[str] | None = None) -> dict[str, Any]:
    """Digests of every run of this checkout (imported from ``sys.path``)."""
    from corpus.bundled import bundled_names, load_bundled
    from fuzz.gen import CorpusBoard, GenContext, from_bytes
    from mutators.space import resolve, space

    try:
        from harness.run import run_scenario
    except ImportError:  # pragma: no cover - after a rename of the entry module
        from harness.scenario import run_scenario  # type: ignore[no-redef]

    from corpus.dt import load_platform_file

    names = bundled_names()
    platforms = {n: load_bundled(n) for n in names}
    # the hand-written x86 / virtio / sprd platforms (ACPI, PCI, virtio buses)
    import corpus

    for f in sorted((Path(corpus.__file__).parent / "examples").glob("*.json")):
        platforms[f.stem] = load_platform_file(str(f))
    if boards:
        platforms = {n: p for n, p in platforms.items() if n in boards}
    names = list(platforms)
    variants = [("V614", resolve("V614").variant), ("NEXT", resolve("NEXT").variant)]
    variants += [(m.id, m.variant) for m in space("NEXT", 1) if m.id != "NEXT"]
    out: dict[str, Any] = {}
    i = 0
    for vid, v in variants:
        for n in names:
            i += 1
            if i % shards != shard:
                continue
            out[f"plain {vid} {n}"] = _run(run_scenario, platforms[n], v)
    if random_runs:
        rng = random.Random(1)
        inputs = [rng.randbytes(rng.randint(1, 64)) for _ in range(random_runs)]
        for vid in ("V614", "NEXT", RK_FIX):
            v = resolve(vid).variant
            for n in names:
                ctx = GenContext([CorpusBoard(n, platforms[n])])
                for j, data in enumerate(inputs):
                    i += 1
                    if i % shards != shard:
                        continue
                    s = from_bytes(data, ctx)
                    out[f"random {vid} {n} #{j} {data.hex()}"] = _run(run_scenario, s.platform, v, s.cfg)
    return out


def _run_dumps(root: Path, random_runs: int, jobs: int, tmp: Path, tag: str,
               boards: list[str]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONHASHSEED="0")
    procs = []
    for k in range(jobs):
        path = tmp / f"{tag}.{k}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--dump", str(path),
               "--random", str(random_runs), "--shard", f"{k}/{jobs}",
               *(x for b in boards for x in ("--board", b))]
        procs.append((subprocess.Popen(cmd, cwd=root, env=env), path))
    merged: dict[str, Any] = {}
    for p, path in procs:
        if p.wait() != 0:
            raise SystemExit(f"check_results: the dump of {tag} failed (exit {p.returncode})")
        merged.update(json.loads(path.read_text()))
    return merged


def _titles(d: dict[str, Any]) -> Counter[str]:
    return Counter(f"{f.get('title', '?')} @ {f.get('device', '')}" for f in d.get("findings", []))


def compare(old: dict[str, Any], new: dict[str, Any], titles: bool = False) -> list[str]:
    """One line per run whose digest differs (or that only one side ran);
    with ``titles``, the finding titles of both sides where they differ."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if a is None or b is None:
            diffs.append(f"{key}: only in {'new' if a is None else 'old'}")
            continue
        what = [f for f in a if a[f] != b.get(f)]
        line = f"{key}: {', '.join(what)} differ"
        if titles and "findings" in what:
            ta, tb = _titles(a), _titles(b)
            line += "".join(f"\n    - {t} (x{n})" for t, n in sorted((ta - tb).items()))
            line += "".join(f"\n    + {t} (x{n})" for t, n in sorted((tb - ta).items()))
        diffs.append(line)
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="b2f0a60", metavar="REV",
                    help="git revision to compare with (default: b2f0a60, the last deliberate change "
                         "of results; tests/quality/test_results_unchanged.py)")
    ap.add_argument("--random", type=int, default=40, metavar="N",
                    help="generated scenarios per board and variant (default: 40)")
    ap.add_argument("--jobs", type=int, default=2, help="processes per side (default: 2)")
    ap.add_argument("--board", action="append", default=[], metavar="NAME",
                    help="only this bundled or example board (repeatable)")
    ap.add_argument("--titles", action="store_true",
                    help="print the findings (title @ device) only one side has")
    ap.add_argument("--dump", metavar="FILE", help=argparse.SUPPRESS)
    ap.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dump:
        k, n = (int(x) for x in a.shard.split("/"))
        Path(a.dump).write_text(json.dumps(dump(a.random, k, n, a.board)))
        return 0
    # Imported here, not at the top: the --dump children import the checkout
    # under test from PYTHONPATH, and this checkout must not come first.
    sys.path.insert(0, str(ROOT))
    from bench._revision import revision_worktree

    with tempfile.TemporaryDirectory(prefix="probefuzz-check-") as tmp, \
            revision_worktree(a.against, "check_results") as wt:
        old = _run_dumps(wt, a.random, a.jobs, Path(tmp), "old", a.board)
        new = _run_dumps(ROOT, a.random, a.jobs, Path(tmp), "new", a.board)
    diffs = compare(old, new, a.titles)
    for d in diffs:
        print(d)
    print(f"{len(old)} runs against {a.against}: {len(diffs)} differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
