"""``probefuzz fuzz`` beyond one process for the in-process engines.

The budget is cut into work units, each a seed range of its own: unit ``i``
fuzzes the variant on every board with seed ``seed + i`` and its share of
``--runs`` (or all of ``--time``).  Units run on the campaign executors
(:mod:`fuzz.cluster`: a LocalCluster of ``--jobs`` processes or
``--scheduler ADDRESS``); the variant and boards go to each worker once.
Findings come back with their minimised reproducers when a unit completes;
the client de-duplicates them by title across units and writes the
reproducers into the crash store.  With ``--runs`` the result depends on
``--jobs`` (the cut) but not on the cluster's size or on which worker ran what.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fuzz.campaign import MemoryStore
from fuzz.cluster import RunFigures, choose, executor
from fuzz.crashstore import CrashStore
from fuzz.engines import hypothesis_engine, native
from fuzz.engines.session import EngineStats, Session
from fuzz.gen import CorpusBoard, GenContext
from harness.variant import Variant, variant_from_json, variant_to_json

UNITS_PER_JOB = 4  # spread a run budget finer than the workers, for balance


@dataclass(frozen=True)
class FuzzUnit:
    """Seed ``seed`` for ``runs`` executions or ``seconds``."""

    index: int
    seed: int
    runs: int | None
    seconds: float | None


def fuzz_units(runs: int | None, seconds: float | None, seed: int, jobs: int) -> list[FuzzUnit]:
    """The units of a budget: a time budget gives each of ``jobs`` units all the
    time; a run budget is split into about ``UNITS_PER_JOB * jobs`` units."""
    if seconds is not None:
        return [FuzzUnit(i, seed + i, None, seconds) for i in range(jobs)]
    assert runs is not None
    n = max(1, min(runs, UNITS_PER_JOB * jobs))
    return [FuzzUnit(i, seed + i, runs // n + (1 if i < runs % n else 0), None) for i in range(n)]


def _setup(ctx: dict[str, Any]) -> dict[str, Any]:
    return dict(ctx, variant=variant_from_json(ctx["variant"], ctx["name"]))


def _run(st: dict[str, Any], u: FuzzUnit) -> dict[str, Any]:
    v: Variant = st["variant"]
    boards: list[CorpusBoard] = st["boards"]
    mem = MemoryStore()
    ctx = GenContext(boards, mutate=st["mutate"])
    session = Session(v, st["engine"], None, minimise_findings=st["minimise"])
    session.store = mem
    if st["engine"] == "hypothesis":
        stats = hypothesis_engine.fuzz_loop(session, ctx, runs=u.runs, seconds=u.seconds, seed=u.seed)
    else:
        stats = native.fuzz_loop(session, ctx, runs=u.runs, seconds=u.seconds, seed=u.seed)
    found = sorted((f.to_json() for f in session.found.values()), key=lambda d: d["first_execution"])
    return {"found": found, "files": {f.reproducer: mem.files[f.reproducer]
                                      for f in session.found.values() if f.reproducer},
            "features": sorted(session.features), "executions": stats.executions,
            "errors": stats.errors, "first": stats.time_to_first_finding}


def fuzz_parallel(variant: Variant, boards: list[CorpusBoard], *, engine: str, runs: int | None,
                  seconds: float | None, seed: int, jobs: int, scheduler: str | None, store: Path,
                  mutate: bool = True, minimise: bool = True,
                  on_found: Callable[[dict[str, Any]], None] | None = None,
                  ) -> tuple[list[dict[str, Any]], EngineStats, RunFigures]:
    """Fuzz ``variant`` in units on an executor; findings (``Found.to_json()``, in
    unit order), merged engine statistics and the run figures."""
    units = fuzz_units(runs, seconds, seed, jobs)
    ctx = {"variant": variant_to_json(variant), "name": variant.name, "boards": boards,
           "engine": engine, "mutate": mutate, "minimise": minimise}
    results: dict[int, dict[str, Any]] = {}
    written: dict[str, str | None] = {}  # title -> reproducer path
    stats = EngineStats(engine)
    with executor(choose(None, scheduler, jobs, len(units)), ctx, _setup, jobs=jobs,
                  scheduler=scheduler) as ex:
        t0 = time.monotonic()
        for u, res in ex.run(_run, units):
            results[u.index] = res
            for f in res["found"]:  # reported as they arrive
                if f["title"] in written:
                    continue
                rep = f.get("reproducer")
                written[f["title"]] = _write(store, rep, res["files"][rep]) if rep else None
                if on_found is not None:
                    on_found(dict(f, reproducer=written[f["title"]]))
        figures = ex.figures
        figures.elapsed_s = stats.elapsed = time.monotonic() - t0
    merged: dict[str, dict[str, Any]] = {}
    feats: set[str] = set()
    for i in sorted(results):
        r = results[i]
        stats.executions += r["executions"]
        stats.errors += r["errors"]
        feats.update(r["features"])
        if r["first"] is not None and (stats.time_to_first_finding is None
                                       or r["first"] < stats.time_to_first_finding):
            stats.time_to_first_finding = r["first"]
        for f in r["found"]:
            old = merged.get(f["title"])
            if old is None:
                merged[f["title"]] = dict(f, reproducer=written.get(f["title"]))
            else:
                old["hits"] += f["hits"]
                old["boards"] = sorted(set(old["boards"]) | set(f["boards"]))
    stats.coverage = len(feats)
    stats.extra = {"units": len(units), "run": figures.to_json()}
    return list(merged.values()), stats, figures


def _write(store: Path, name: str, data: dict[str, Any]) -> str:
    """Write a unit's reproducer into ``store`` unless the title is there already."""
    existing = CrashStore(store).find_title(data["title"])
    if existing:
        return str(existing[0])
    store.mkdir(parents=True, exist_ok=True)
    path = store / name
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
    return str(path)
