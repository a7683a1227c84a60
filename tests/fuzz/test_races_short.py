"""Short version of the quality suite's race section (tests/quality/test_races.py):
the native engine, from generated inputs only (no schedule given), reaches two
of the seeded interleaving-only bugs on sdm845-db845c in 60 runs -- the bus
hook's ``dev->driver`` re-read and a client bind racing the registration walk
without 1/4 -- while the race base shows neither title in the same 60 runs.

A deterministic regression check (one seed, a fixed number of runs); the
statistical claim (>= 4 of 5 seeds in 120 s of the default engine) is the
slow suite's.  The third bug, the lock dropped without revalidation, takes the
default engine tens of seconds and is only in the slow suite."""

from __future__ import annotations

import pytest

from corpus.bundled import bundled_path, load_bundled
from fuzz.campaign import UnitResult
from fuzz.engines import native
from fuzz.engines.session import Found, Session
from fuzz.gen import CorpusBoard, GenContext
from fuzz.ranking import rank
from harness.run import run_scenario
from mutators.space import resolve
from tests.quality.test_races import BOARD, RACE_BASE, RACES, Race

SHORT = (RACES[0], RACES[2])
RUNS = 60
SEED = 1


def found(variant: str, titles: set[str]) -> list[Found]:
    """The findings with one of ``titles`` in RUNS native runs from SEED."""
    hit: list[Found] = []
    s = Session(resolve(variant).variant, "native", None, minimise_findings=False,
                on_found=lambda f: hit.append(f) if f.title in titles else None)
    ctx = GenContext([CorpusBoard(BOARD, load_bundled(BOARD), str(bundled_path(BOARD)))], faults=False)
    native.fuzz_loop(s, ctx, runs=RUNS, seconds=None, seed=SEED, plain_first=False)
    return hit


@pytest.mark.parametrize("race", SHORT, ids=[r.name for r in SHORT])
def test_the_seeded_race_is_found_from_generated_inputs(race: Race) -> None:
    assert run_scenario(load_bundled(BOARD), resolve(race.variant).variant).findings == []
    hits = found(race.variant, {race.title})
    assert hits, f"{race.title!r} not found in {RUNS} runs"
    # found through a window preemption: the report carries the trail
    assert hits[0].finding.get("preemptions")


def test_the_race_base_shows_none_of_the_titles_in_the_same_runs() -> None:
    assert found(RACE_BASE, {r.title for r in SHORT}) == []


def explore_unit(index: int, variant: str, size: int, runs: int) -> UnitResult:
    """One explore unit as the campaign worker fuzzes it (fuzz.campaign.run_unit:
    unguided native runs from the campaign seed, the same scenarios for every
    variant), without minimising; ``size``: mutations from the base (0: the base)."""
    v = resolve(variant)
    s = Session(v.variant, "native", None, minimise_findings=False)
    ctx = GenContext([CorpusBoard(BOARD, load_bundled(BOARD), str(bundled_path(BOARD)))], faults=False)
    st = native.fuzz_loop(s, ctx, runs=runs, seconds=None, seed=SEED, guided=False)
    return UnitResult(v.id, index, v.description, size, [f.to_json() for f in s.found.values()],
                      st.executions, st.elapsed, st.coverage, sorted(s.features), st.errors)


def test_explore_ranks_the_variant_that_closes_the_race_above_the_base() -> None:
    """A race found in an explore unit's runs (a client bind racing the
    registration walk without 1/4) is a title like any other: the variant that
    puts 1/4's -EPROBE_DEFER back closes it, introduces nothing, and ranks
    above the base that keeps it."""
    race = RACES[2]
    # the unit's budget: up to the run of the common input sequence that first
    # shows the race (the boot order decides which one it is)
    scout = explore_unit(0, race.variant, 0, RUNS)
    first = [f["first_execution"] for f in scout.found if f["title"] == race.title]
    assert first, f"{race.title!r} not found in {RUNS} unguided runs"
    base = explore_unit(0, race.variant, 0, first[0])
    closed = explore_unit(1, RACE_BASE, 1, first[0])  # 1/4's iommu_device_use_default_domain.defer back
    assert race.title in {f["title"] for f in base.found}
    rows = {r.id: r for r in rank([base, closed])}
    assert race.title in [d.title for d in rows[closed.id].fixed]
    assert rows[closed.id].introduced == []
    assert rows[closed.id].rank < rows[base.id].rank
