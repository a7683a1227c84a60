"""Replay many stored scenarios under one variant, in batches on the campaign executors.

``probefuzz regress`` replays every reproducer of a crash store; with
``--jobs N`` or ``--scheduler ADDRESS`` the scenarios go out in batches of
:data:`BATCH` as Dask tasks (the variant shipped once per worker), and come
back as they complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fuzz.cluster import RunFigures, choose, executor
from harness.board import Board
from harness.boot import boot_config_from_json
from harness.run import run_scenario
from harness.variant import Variant, variant_from_json, variant_to_json

BATCH = 16


@dataclass
class Replay:
    """One scenario to replay: a platform, a boot configuration and a schedule."""

    platform: Board
    config: dict[str, Any]
    schedule: list[int]


@dataclass
class Outcome:
    """A finding of a replay: its title and the titles it also goes by."""

    title: str
    alt_titles: list[str]


def _setup(ctx: dict[str, Any]) -> list[Variant]:
    return [variant_from_json(v, v["name"]) for v in ctx["variants"]]


def _run_batch(vs: list[Variant], batch: list[tuple[int, Replay]]) -> list[tuple[int, list[list[Outcome]]]]:
    out = []
    for i, rp in batch:
        per = []
        for v in vs:
            r = run_scenario(rp.platform, v, boot_config_from_json(rp.config, list(rp.schedule)))
            per.append([Outcome(f.title, list(f.alt_titles)) for f in r.findings])
        out.append((i, per))
    return out


def replay_all(variants: list[Variant], replays: list[Replay], *, jobs: int = 1,
               scheduler: str | None = None, kind: str | None = None,
               ) -> tuple[list[list[list[Outcome]]], RunFigures]:
    """The findings of each replay (in input order) under each variant (in the
    order given) and how the replay ran."""
    # Batches of up to BATCH, but enough of them to keep every worker busy.
    size = max(1, min(BATCH, -(-len(replays) // (4 * max(1, jobs)))))
    items = list(enumerate(replays))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    ctx = {"variants": [variant_to_json(v) for v in variants]}
    results: list[list[list[Outcome]]] = [[] for _ in replays]
    with executor(choose(kind, scheduler, jobs, len(batches)), ctx, _setup, jobs=jobs,
                  scheduler=scheduler) as ex:
        for _batch, done in ex.run(_run_batch, batches):
            for i, outcomes in done:
                results[i] = outcomes
        figures = ex.figures
    return results, figures
