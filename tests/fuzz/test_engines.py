"""Engines: the session's dedup/minimise/store, native and hypothesis loops, atheris."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import atheris
import pytest

from fuzz.crashstore import CrashStore
from fuzz.engines import atheris_worker, hypothesis_engine, native
from fuzz.engines.atheris_engine import AtherisJob
from fuzz.engines.atheris_engine import run as run_atheris
from fuzz.engines.session import Session
from fuzz.gen import generate
from harness.run import run_scenario
from harness.variant import NEXT, V614
from mutators.space import resolve
from tests.fuzz.helpers import FIX, RK, SEED_TITLE, board, ctx


def test_native_finds_seed_oops_first_and_stores_a_minimised_reproducer(tmp_path: Path) -> None:
    found = []
    s = Session(NEXT, "native", tmp_path, on_found=found.append)
    st = native.fuzz_loop(s, ctx(RK, "sun50i-h6-orangepi-3"), runs=30, seconds=None, seed=1)
    assert st.executions == 30
    assert found and found[0].title == SEED_TITLE and found[0].execution == 1
    assert st.time_to_first_finding is not None and st.time_to_first_finding < 5
    assert found[0].devices <= 3
    reps = list(CrashStore(tmp_path))
    assert SEED_TITLE in {r.title for r in reps}
    assert st.coverage > 0 and st.coverage_timeline


def test_native_is_reproducible_with_runs_and_seed(tmp_path: Path) -> None:
    def go(seed: int, d: Path) -> tuple[list[str], int, int]:
        s = Session(NEXT, "native", d)
        st = native.fuzz_loop(s, ctx(RK, "fvp-base-revc"), runs=40, seconds=None, seed=seed)
        return sorted(s.found), st.executions, st.coverage

    a = go(5, tmp_path / "a")
    assert a == go(5, tmp_path / "b")


def test_native_on_a_fix_finds_nothing_in_the_plain_boots(tmp_path: Path) -> None:
    s = Session(resolve(FIX).variant, "native", tmp_path)
    native.fuzz_loop(s, ctx(RK), runs=1, seconds=None, seed=0)
    assert not s.found


def test_hypothesis_engine_finds_the_seed_oops(tmp_path: Path) -> None:
    s = Session(NEXT, "hypothesis", tmp_path)
    st = hypothesis_engine.fuzz_loop(s, ctx(RK, "fvp-base-revc"), runs=20, seconds=None, seed=3)
    assert 1 <= st.executions <= 20
    assert SEED_TITLE in s.found


def test_session_reuses_a_known_minimised_scenario(tmp_path: Path) -> None:
    first = Session(NEXT, "native", tmp_path / "a")
    native.fuzz_loop(first, ctx(RK), runs=1, seconds=None, seed=0)
    known = first.known
    other = resolve("NEXT+of_iommu_configure.cleanup=fwspec_free").variant
    s = Session(other, "native", tmp_path / "b", known=known)
    native.fuzz_loop(s, ctx(RK), runs=1, seconds=None, seed=0)
    assert s.found[SEED_TITLE].minimise_runs == 1  # one confirming replay, no minimisation


def test_atheris_engine_reports_the_seed_oops(tmp_path: Path) -> None:
    job = AtherisJob(NEXT, [board(RK)], tmp_path, runs=30, seed=1)
    found, st = run_atheris(job)
    assert SEED_TITLE in [f["title"] for f in found]
    assert st.executions == 30 and st.coverage > 0  # -runs honoured, corpus runs included
    assert st.time_to_first_finding is not None
    assert Path(found[0]["reproducer"]).is_file()
    for f in found:
        # libFuzzer's artifact beside the structured reproducer: the raw input,
        # named by its SHA-1, which decodes to a scenario showing the finding
        art = Path(f["artifact"])
        assert art.parent == Path(f["reproducer"]).parent
        data = art.read_bytes()
        assert art.name == "crash-" + hashlib.sha1(data).hexdigest()
        s = generate(atheris.FuzzedDataProvider(data), ctx(RK))
        r = run_scenario(s.platform, NEXT, s.cfg)
        assert f["title"] in {x.title for x in r.findings}


@pytest.mark.slow
def test_atheris_runs_and_seed_are_reproducible(tmp_path: Path) -> None:
    def go(d: Path) -> tuple[list[str], int, int]:
        job = AtherisJob(V614, [board(RK), board("fvp-base-revc")], d, runs=150, seed=11)
        found, st = run_atheris(job)
        return sorted(f["title"] for f in found), st.executions, st.coverage

    assert go(tmp_path / "a") == go(tmp_path / "b")


def test_hypothesis_shrink_gives_the_simplest_scenario_in_draw_order() -> None:
    c = ctx("fvp-base-revc", RK)
    s = hypothesis_engine.shrink(c, NEXT, SEED_TITLE)
    assert s is not None and s.board == RK
    assert not s.cfg.events and not s.cfg.schedule and not s.cfg.drivers and s.mutation is None
    assert hypothesis_engine.shrink(c, V614, SEED_TITLE, max_examples=20) is None


def test_session_starts_minimising_from_the_engines_shrinker(tmp_path: Path) -> None:
    c = ctx(RK)
    calls: list[str] = []

    def shrinker(title: str):  # noqa: ANN202
        calls.append(title)
        return hypothesis_engine.shrink(c, NEXT, title)

    s = Session(NEXT, "hypothesis", tmp_path, shrinker=shrinker)
    hypothesis_engine.fuzz_loop(s, c, runs=5, seconds=None, seed=0)
    assert calls[0] == SEED_TITLE and s.found[SEED_TITLE].devices <= 3


def test_atheris_mutator_draws_fresh_inputs_from_libfuzzers_seed() -> None:
    """Half of libFuzzer's new inputs are fresh random bytes (the native
    engine's mix), a function of the seed libFuzzer passes: ``-seed`` still
    fixes the sequence.  (The other half is ``atheris.Mutate``, which only
    runs inside ``atheris.Fuzz()``: the reproducibility test covers it.)"""
    fresh = [s for s in range(200) if random.Random(s).random() < atheris_worker.FRESH]
    assert 60 < len(fresh) < 140
    outs = [atheris_worker.mutator(b"kept input", 128, s) for s in fresh]
    assert outs == [atheris_worker.mutator(b"kept input", 128, s) for s in fresh]
    assert all(1 <= len(o) <= atheris_worker.FRESH_MAX_LEN for o in outs)
    assert len(set(outs)) == len(outs)
    assert all(len(atheris_worker.mutator(b"x", 4, s)) <= 4 for s in fresh)
