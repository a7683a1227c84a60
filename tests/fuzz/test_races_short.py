"""Short version of the quality suite's race section (tests/quality/test_races.py):
the native engine, from generated inputs only, reaches the bus hook's
``dev->driver`` re-read race on sdm845-db845c in a few dozen runs; the
variant that snapshots ``dev->driver`` once shows no such oops in the same runs."""

from __future__ import annotations

from corpus.bundled import bundled_path, load_bundled
from fuzz.engines import native
from fuzz.engines.session import Found, Session
from fuzz.gen import CorpusBoard, GenContext
from harness.run import run_scenario
from mutators.space import resolve
from tests.quality.test_races import BOARD, RACE_BASE, RACES

TWICE = RACES[0]
RUNS = 40


def oopses(variant: str) -> list[Found]:
    hit: list[Found] = []
    s = Session(resolve(variant).variant, "native", None, minimise_findings=False,
                on_found=lambda f: hit.append(f) if f.title == TWICE.title else None)
    ctx = GenContext([CorpusBoard(BOARD, load_bundled(BOARD), str(bundled_path(BOARD)))], faults=False)
    native.fuzz_loop(s, ctx, runs=RUNS, seconds=None, seed=0, plain_first=False)
    return hit


def test_the_dev_driver_reread_race_is_found_and_absent_with_a_snapshot() -> None:
    assert run_scenario(load_bundled(BOARD), resolve(TWICE.variant).variant).findings == []
    assert oopses(TWICE.variant), f"{TWICE.title!r} not found in {RUNS} runs"
    assert oopses(RACE_BASE) == []
