"""Partial-order reduction of the bounded systematic search
(``preemption_bounded(..., reduce=True)``, harness/schedules.py).

Soundness is checked against the plain search on synthetic programs whose
runs log their whole trace (tests/harness/synthetic.py): the reduced search
must reach every trace the plain one reaches, within the same bound, in
fewer runs.  On bundled boards it must find every finding title the plain
search finds (slow).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from harness.board import load_board
from harness.boot import BootConfig
from harness.run import run_scenario
from harness.schedules import SearchStats, bounded_search, is_window, preemption_bounded
from harness.variant import NEXT, Variant
from tests.harness.synthetic import Program, run_program, signature

BOARDS = Path(__file__).resolve().parents[2] / "corpus" / "boards"


def explore(prog: Program, bound: int, at: Callable[[str], bool] | None,
            reduce: bool) -> tuple[SearchStats, set[frozenset[str]]]:
    st = SearchStats()
    traces = {signature(r) for r in bounded_search(lambda s, w: run_program(prog, s, w), [], bound, at,
                                                   reduce=reduce, stats=st)}
    return st, traces


#: two threads of two steps each, nothing shared: one trace
DISJOINT: Program = [[[("w", "a")], [("w", "b")]], [[("w", "c")], [("w", "d")]]]
#: store buffering: each thread writes its flag, then reads the other's
STORE_BUFFER: Program = [[[("w", "x")], [("r", "y")]], [[("w", "y")], [("r", "x")]]]


def test_disjoint_threads_hand_counted() -> None:
    """T0 and T1 touch different objects: every interleaving is the same
    trace.  Decisions of the synchronous run: the first pick (T0 or T1)
    and T0's point T0.1 (T1 then runs alone).  Bound 2, plain: the
    synchronous run; T1 first, then at T1.1 keep T1 or switch back to T0;
    T0 preempted at T0.1, then at T1.1 keep T1 or switch back -- 5 runs.
    Reduced: running T1 first puts T0 to sleep with its step to T0.1
    (``w a``); nothing T1 does wakes it, so switching back to T0 at T1.1
    is pruned -- 4 runs.  The switch back after preempting T0 at T0.1 is
    still run: T0's last step ends the thread, and a sleeper must still be
    running after its step (else moving it first could cost a deviation
    more, beyond the bound)."""
    plain, t_plain = explore(DISJOINT, 2, None, False)
    red, t_red = explore(DISJOINT, 2, None, True)
    assert plain.runs == 5 and len(t_plain) == 1
    assert red.runs == 4 and t_red == t_plain
    assert red.pruned == 1


def test_store_buffer_keeps_every_outcome() -> None:
    """Dependent steps: all three outcomes of store buffering (each read
    sees the other's write or not, never both unseen without a preemption)
    survive the reduction at every bound."""
    for bound in (1, 2, 3):
        plain, t_plain = explore(STORE_BUFFER, bound, None, False)
        red, t_red = explore(STORE_BUFFER, bound, None, True)
        assert t_red == t_plain and red.runs <= plain.runs
    assert len(t_plain) == 3


def random_program(rng: random.Random) -> Program:
    prog: Program = []
    for _ in range(rng.randint(2, 3)):
        steps = [[(rng.choice("rw"), rng.choice("abc")) for _ in range(rng.randint(0, 2))]
                 for _ in range(rng.randint(1, 3))]
        if len(steps) >= 2 and rng.random() < 0.5:  # a critical section over steps
            m = rng.choice("xy")
            first = rng.randrange(len(steps) - 1)
            last = rng.randrange(first, len(steps))
            steps[first].insert(0, ("l", m))
            steps[last].append(("u", m))
        prog.append(steps)
    return prog


def at_points(where: str) -> bool:
    """Deviations only at some points (as at the windows): the bound then
    also decides where a switch may happen."""
    return where.endswith(".1") or where.startswith("mutex_unlock")


@pytest.mark.parametrize("seed", range(4))
def test_random_programs_lose_no_trace(seed: int) -> None:
    """Random programs of 2-3 threads (reads, writes, critical sections
    across points): at bounds 1 and 2, with and without a restriction of
    where to deviate, the reduced search reaches exactly the traces the
    plain one does.  A reduction that pruned a schedule of another trace,
    or one whose equivalent lies beyond the bound, fails here."""
    rng = random.Random(seed)
    runs = [0, 0]
    for _ in range(12):
        prog = random_program(rng)
        for bound in (1, 2):
            for at in (None, at_points):
                plain, t_plain = explore(prog, bound, at, False)
                red, t_red = explore(prog, bound, at, True)
                assert t_red == t_plain, (prog, bound, at)
                assert red.runs <= plain.runs
                runs[0] += plain.runs
                runs[1] += red.runs
    assert runs[1] < runs[0]


# -- bundled boards (slow: footprint runs are ~10x a plain boot) ---------------------------


def titles_found(board_name: str, v: Variant, cfg: BootConfig, bound: int,
                 at: Callable[[str], bool] | None) -> tuple[SearchStats, SearchStats, set[str], set[str]]:
    """Both searches' stats and finding titles.  Then every one-deviation
    leaf the reduced search skipped as equal to a run is run anyway: same
    findings (title, device) and end-of-run counts as that run, a check of
    the footprints' completeness on the real model."""
    board = load_board(BOARDS / f"{board_name}.json")
    out = []
    for reduce in (False, True):
        st = SearchStats(keep_pairs=True)
        titles = {f.title for r in preemption_bounded(board, v, cfg, bound, at, reduce=reduce, stats=st)
                  for f in r.findings}
        out.append((st, titles))
    (plain, t_plain), (red, t_red) = out
    for skipped, same in red.pairs:
        a = run_scenario(board, v, replace(cfg, schedule=skipped))
        b = run_scenario(board, v, replace(cfg, schedule=same))
        assert {(f.title, f.device) for f in a.findings} == {(f.title, f.device) for f in b.findings}
        assert a.stats == b.stats
    return plain, red, t_plain, t_red


def not_mutex_window(where: str) -> bool:
    return is_window(where) and not where.startswith("mutex")


@pytest.mark.slow
def test_rk3568_async_rk_iommu_fewer_runs_same_findings() -> None:
    """rk3568-odroid-m1, the three rk_iommu instances probing on async
    workers, NEXT without 1/4: one deviation at every window point but the
    lock ones (about 500 runs plain)."""
    v = NEXT.with_values("NEXT+rk-fix-1/4", "NEXT, dma_dev published first, without 1/4",
                         **{"rk_iommu_probe.dma_dev": "before_register",
                            "iommu_device_use_default_domain.defer": None})
    plain, red, t_plain, t_red = titles_found("rk3568-odroid-m1", v,
                                              BootConfig(driver_async_probe=("rk_iommu",)), 1,
                                              not_mutex_window)
    assert t_plain  # (W1, W3, W4 and more, docs/concurrency.md)
    assert t_red >= t_plain
    assert red.runs < plain.runs


@pytest.mark.slow
def test_sdm845_next_race_fewer_runs_same_findings() -> None:
    """sdm845-db845c under NEXT with the arm-smmu instances probing on async
    workers (the W4/W5 scenario): one deviation at every window point
    (about 720 runs plain)."""
    plain, red, t_plain, t_red = titles_found("sdm845-db845c", NEXT,
                                              BootConfig(driver_async_probe=("arm-smmu",)), 1,
                                              is_window)
    assert t_plain  # (W4's paging request, W5's double free and more, docs/concurrency.md)
    assert t_red >= t_plain
    assert red.runs < plain.runs


@pytest.mark.slow
def test_rk3568_two_deviations_at_w1_w2_sleep_sets_prune() -> None:
    """Bound 2 at the registration points (W2: instance listed, W1: groups
    queued): the sleeping threads prune deviations back to them, not only
    equal leaves (about 960 runs plain, 40 % fewer reduced)."""
    v = NEXT.with_values("NEXT+rk-fix-1/4", "NEXT, dma_dev published first, without 1/4",
                         **{"rk_iommu_probe.dma_dev": "before_register",
                            "iommu_device_use_default_domain.defer": None})
    points = ("iommu_device_register:listed", "bus_iommu_probe:groups_queued")
    plain, red, t_plain, t_red = titles_found("rk3568-odroid-m1", v,
                                              BootConfig(driver_async_probe=("rk_iommu",)), 2,
                                              lambda w: w in points)
    assert t_plain and t_red >= t_plain
    assert red.pruned > 0 and red.runs < plain.runs
