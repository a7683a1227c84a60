"""Schedules: generating, exploring and replaying the interleavings of a boot.

A schedule is a list of small integers; at every scheduling decision (a
point where more than one thread can run) the next entry picks
``runnable[entry % len(runnable)]``.  Past its end the synchronous default
applies, so ``[]`` is the synchronous boot and any prefix is a valid
schedule.  Everything here produces plain schedules: a run explored with a
strategy is *recorded* (``run_scenario(..., record=True)``), and the recorded
list replays that run bit for bit, e.g. from a crash reproducer.

Strategies:

* :func:`random_schedule` -- uniformly random choices, a fixed length;
* :class:`PctChooser` -- keeps the running thread and switches at random
  with a small probability (higher at the spec's named windows), which
  reaches bugs that need a few well-placed preemptions in long runs;
* :func:`preemption_bounded` -- every schedule that deviates from the
  synchronous default in at most ``bound`` decisions (CHESS-style bounded
  exhaustive search), optionally only at decisions whose point matches.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from harness.board import Board
from harness.boot import BootConfig
from harness.kernel import WINDOW_POINTS, Kthread, WindowPreemptions, is_window
from harness.run import Result, run_scenario
from harness.variant import Variant

__all__ = ["WINDOW_POINTS", "WindowPreemptions", "is_window"]

def random_schedule(rng: random.Random, length: int) -> list[int]:
    """``length`` uniformly random choices (any runnable thread, each time)."""
    return [rng.randrange(1 << 16) for _ in range(length)]


@dataclass
class PctChooser:
    """Stay with the running thread; switch to another one at random with
    probability ``p`` (``p_window`` at the named windows).  After a block or
    an exit, pick uniformly.  Deterministic for a given ``seed``."""

    seed: int
    p: float = 0.02
    p_window: float = 0.3

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def __call__(self, runnable: list[Kthread], cur: Kthread | None, where: str) -> int:
        rng = self.rng
        if cur is None or cur not in runnable:
            return rng.randrange(len(runnable))
        me = runnable.index(cur)
        if rng.random() < (self.p_window if is_window(where) else self.p):
            other = rng.randrange(len(runnable) - 1)
            return other + (other >= me)
        return me


def replay(platform: Board, v: Variant, cfg: BootConfig, schedule: list[int]) -> Result:
    """Run ``schedule`` (recorded), nothing else: the reproducer's run."""
    return run_scenario(platform, v, replace(cfg, schedule=list(schedule)), record=True)


def lower_preemptions(platform: Board, v: Variant, cfg: BootConfig) -> BootConfig:
    """``cfg`` with its device-aimed window preemptions (``preempt_dev``)
    turned into the absolute ``preempt`` pairs they took in one run: the
    same run, in the form the minimiser cuts, re-anchors and drops."""
    if not cfg.preempt_dev:
        return cfg
    ch = WindowPreemptions(cfg.preempt, cfg.preempt_dev)
    run_scenario(platform, v, replace(cfg, preempt=(), preempt_dev=()), chooser=ch)
    return replace(cfg, preempt=tuple(ch.fired), preempt_dev=())


def explore_pct(platform: Board, v: Variant, cfg: BootConfig, seeds: range | list[int],
                p: float = 0.02, p_window: float = 0.3) -> Iterator[tuple[int, Result]]:
    """One recorded run per seed under :class:`PctChooser` (after ``cfg.schedule``)."""
    for seed in seeds:
        yield seed, run_scenario(platform, v, cfg, chooser=PctChooser(seed, p, p_window), record=True)


def preemption_bounded(platform: Board, v: Variant, cfg: BootConfig, bound: int,
                       at: Callable[[str], bool] | None = None,
                       limit: int | None = None) -> Iterator[Result]:
    """Every schedule within ``bound`` deviations from the default, depth first.

    A deviation is a decision that picks another thread than the synchronous
    default would.  ``at`` restricts deviations to decisions at matching
    scheduling points; ``limit`` caps the number of runs.  Each yielded
    result carries its recorded ``schedule``.
    """
    runs = 0

    def go(prefix: list[int], left: int, start: int) -> Iterator[Result]:
        nonlocal runs
        if limit is not None and runs >= limit:
            return
        runs += 1
        r = run_scenario(platform, v, replace(cfg, schedule=prefix), record=True)
        yield r
        if left == 0 or r.schedule is None or r.widths is None:
            return
        where = r.where or []
        for i in range(start, len(r.schedule)):
            if at is not None and not at(where[i]):
                continue
            for j in range(r.widths[i]):
                if j != r.schedule[i]:
                    yield from go(r.schedule[:i] + [j], left - 1, i + 1)
                    if limit is not None and runs >= limit:
                        return

    yield from go(list(cfg.schedule), bound, len(cfg.schedule))


def shortest_prefix(platform: Board, v: Variant, cfg: BootConfig, schedule: list[int],
                    holds: Callable[[Result], bool]) -> list[int]:
    """The shortest prefix of ``schedule`` whose run still satisfies ``holds``
    (the rest of the run takes the default), for storing small reproducers.

    Binary search: a property that holds for a prefix usually holds for
    longer ones, and the result is checked, so the answer is always valid.
    """
    lo, hi = 0, len(schedule)
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(run_scenario(platform, v, replace(cfg, schedule=schedule[:mid]))):
            hi = mid
        else:
            lo = mid + 1
    best = schedule[:lo]
    if not holds(run_scenario(platform, v, replace(cfg, schedule=best))):
        return list(schedule)
    # Trailing choices that only confirm the default are noise: drop them.
    while best and holds(run_scenario(platform, v, replace(cfg, schedule=best[:-1]))):
        best = best[:-1]
    return best


def find_schedule(platform: Board, v: Variant, cfg: BootConfig, holds: Callable[[Result], bool],
                  seeds: int = 400,
                  rates: tuple[tuple[float, float], ...] = ((0.05, 0.3), (0.2, 0.5), (0.4, 0.6)),
                  ) -> list[int] | None:
    """A short schedule whose run satisfies ``holds``, or None.

    PCT exploration at increasing switch rates, then :func:`shortest_prefix`:
    how the race schedules pinned in tests were found, and how to re-find
    them when the model's scheduling points change.
    """
    for p, p_window in rates:
        for _, r in explore_pct(platform, v, cfg, range(seeds), p, p_window):
            if holds(r) and r.schedule is not None:
                return shortest_prefix(platform, v, cfg, r.schedule, holds)
    return None
