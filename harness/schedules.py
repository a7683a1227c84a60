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
from dataclasses import dataclass, field, replace

from harness.board import Board
from harness.boot import BootConfig
from harness.footprint.step import Footprint, independent
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


@dataclass
class SearchStats:
    """What a bounded search did: runs, and schedules the reduction skipped
    (``pruned``: by a sleeping thread, ``equivalent``: a one-deviation leaf
    equal to one already run, ``cut``: decisions past which a run's
    deviations are covered elsewhere)."""

    runs: int = 0
    pruned: int = 0
    equivalent: int = 0
    cut: int = 0
    # with keep_pairs: (skipped schedule, schedule of the run found equal)
    keep_pairs: bool = False
    pairs: list[tuple[list[int], list[int]]] = field(default_factory=list)


def preemption_bounded(platform: Board, v: Variant, cfg: BootConfig, bound: int,
                       at: Callable[[str], bool] | None = None,
                       limit: int | None = None, reduce: bool = False,
                       stats: SearchStats | None = None) -> Iterator[Result]:
    """Every schedule within ``bound`` deviations from the default, depth first.

    A deviation is a decision that picks another thread than the synchronous
    default would.  ``at`` restricts deviations to decisions at matching
    scheduling points; ``limit`` caps the number of runs.  Each yielded
    result carries its recorded ``schedule``.

    ``reduce``: skip schedules equivalent to one explored (partial-order
    reduction by the steps' footprints, :func:`bounded_search`); every
    interleaving the plain search reaches is reached up to the order of
    independent steps, so the same findings are found in fewer runs.
    """
    def run(schedule: list[int], wants: Wants = True) -> Result:
        return run_scenario(platform, v, replace(cfg, schedule=schedule), record=True,
                            footprints=wants if reduce else False)

    yield from bounded_search(run, list(cfg.schedule), bound, at, limit, reduce, stats)


@dataclass
class _Sleeper:
    """A thread whose next step (to its next point ``at`` accepts) was
    explored first in an earlier branch: running it again before anything
    it depends on would only reorder independent steps."""

    fp: Footprint


def _macro_step(r: Result, i: int, at: Callable[[str], bool] | None) -> tuple[int, Footprint] | None:
    """The steps the thread picked at decision ``i`` runs (by default) until
    the next decision ``at`` accepts, if it is still running there and
    changed nobody else's state of running: (that decision, their footprint)."""
    tr = r.trace
    assert tr is not None and r.schedule is not None and r.where is not None
    steps = tr.steps
    pid = steps[i].pid if i < len(steps) else -1
    fp: Footprint | None = None
    for m in range(i, len(steps)):
        st = steps[m]
        if st.pid != pid or not tr.ends_runnable[m] or tr.changes_runqueue[m] or st.opaque:
            return None
        fp = st if fp is None else fp.union(st)
        if m + 1 < len(r.where) and (at is None or at(r.where[m + 1])):
            return m + 1, fp
    return None


def _picked(r: Result, m: int) -> int:
    assert r.trace is not None and r.schedule is not None
    row = r.trace.runnable[m]
    return row[r.schedule[m] % len(row)]


#: What a run of the search must record: every step's footprint (True),
#: none (False), or ``(i, pid)``: the steps until thread ``pid`` is picked
#: at a decision after ``i`` (a last-level run compared with another).
Wants = bool | tuple[int, int]


def bounded_search(run: Callable[[list[int], Wants], Result], base: list[int], bound: int,
                   at: Callable[[str], bool] | None = None, limit: int | None = None,
                   reduce: bool = False, stats: SearchStats | None = None) -> Iterator[Result]:
    """:func:`preemption_bounded` over any recorded ``run(schedule, wants)``.

    With ``reduce`` (``run`` must record the footprints ``wants`` asks for): a bounded sleep-set
    search, sound under the deviation bound (docs/concurrency.md, "Partial-
    order reduction").  The tree is ordered default-first: at each decision
    the default continuation comes before the deviations.  A branch that
    deviates to ``j`` at decision ``i`` puts the default thread ``d`` to
    sleep with the footprint of its steps up to its next accepted point
    (when it is still running there and woke or created nobody); ``d``
    wakes at the first step dependent on it.  Three prunings follow, each
    leaving an equivalent schedule of no more deviations earlier in that
    order, so by induction every schedule within the bound is represented:

    * a deviation to a sleeping thread is skipped;
    * a run whose default continuation picks a sleeping thread (its
      predecessor slept or exited) at decision ``m`` -- at a point ``at``
      accepts -- needs no deviation after ``m``;
    * a last-level deviation to ``j`` at the end of ``d``'s step is skipped
      when the one to ``j`` at ``i`` ran and picked ``d`` again (by default)
      before any step dependent on ``d``'s: the two runs are the same
      interleaving.

    Deviations are tried in the plain search's order (earliest decision
    first), so at bound 1 the reduced search runs a subsequence of the
    plain one's runs, and finds each finding no later.
    """
    st = stats if stats is not None else SearchStats()

    def full() -> bool:
        return limit is not None and st.runs >= limit

    def go(prefix: list[int], left: int, start: int, sleepers: dict[int, _Sleeper],
           wants: Wants = True) -> Iterator[Result]:
        st.runs += 1
        r = run(prefix, wants if reduce else False)
        yield r
        if left == 0 or r.schedule is None or r.widths is None:
            return
        where = r.where or []
        n = len(r.schedule)
        cutoff = n - 1
        asleep: list[dict[int, _Sleeper]] = []  # sleepers at decision start + k
        tr = r.trace if reduce else None
        if tr is not None:
            z = dict(sleepers)
            if z and start >= 1:  # the deviation's own step
                step = tr.steps[start - 1]
                z = {p: s for p, s in z.items() if independent(s.fp, step)}
            for m in range(start, n):
                asleep.append(z)
                pid = _picked(r, m)
                if pid in z:
                    if at is None or at(where[m]):
                        cutoff = m
                        st.cut += 1
                        break
                    z = {p: s for p, s in z.items() if p != pid}
                if z and m < len(tr.steps):
                    step = tr.steps[m]
                    z = {p: s for p, s in z.items() if independent(s.fp, step)}
        # last-level deviations found equal to one already run: (decision,
        # thread) -> (the footprint of that run's steps until it came back
        # to the default thread, the decision where that run parted from r)
        covered: dict[tuple[int, int], tuple[Footprint, int, list[int]]] = {}
        for i in range(start, cutoff + 1):
            if at is not None and not at(where[i]):
                continue
            macro = _macro_step(r, i, at) if tr is not None else None
            d = _picked(r, i) if tr is not None else -1
            for j in range(r.widths[i]):
                if j == r.schedule[i]:
                    continue
                if full():
                    return
                child_z: dict[int, _Sleeper] = {}
                if tr is not None:
                    pj = tr.runnable[i][j]
                    if pj in asleep[i - start]:
                        st.pruned += 1
                        continue
                    if (i, pj) in covered:
                        st.equivalent += 1
                        # and so is the deviation at the end of d's next step, if
                        # that step too is independent of what ran before d again
                        until, part, same = covered[(i, pj)]
                        if st.keep_pairs:
                            st.pairs.append((r.schedule[:i] + [j], same))
                        if macro is not None and independent(macro[1].coarsen(tr.born, part), until):
                            covered[(macro[0], pj)] = (until, part, same)
                        continue
                    if left > 1:
                        child_z = dict(asleep[i - start])
                        if macro is not None:
                            child_z[d] = _Sleeper(macro[1].coarsen(tr.born, i))
                child = r.schedule[:i] + [j]
                # a last-level run is only compared with others up to where
                # it runs d again, and only if d had a step to compare
                needs: Wants = True if left > 1 else (i, d) if macro is not None else False
                for c in go(child, left - 1, i + 1, child_z, needs):
                    yield c
                    if tr is not None and left == 1 and macro is not None:
                        # c runs pj at i, then the default; if it comes back
                        # to d before any step d's next one depends on, it
                        # is the run that deviates to pj where that step ends
                        # (c parted from r at i: objects d's step touched
                        # first are compared by class)
                        back = _until_picked(c, i, d)
                        if back is not None and independent(macro[1].coarsen(tr.born, i), back):
                            covered[(macro[0], pj)] = (back, i, list(c.schedule or []))
                if full():
                    return

    yield from go(list(base), bound, len(base), {})


def _until_picked(c: Result, i: int, d: int) -> Footprint | None:
    """In the run ``c`` that deviated at decision ``i``: the union footprint
    of its steps from ``i`` until thread ``d`` is picked again, or None if
    ``d`` never is."""
    tr = c.trace
    assert tr is not None
    fp: Footprint | None = None
    for m in range(i, len(tr.steps)):
        if m > i and _picked(c, m) == d:
            return fp
        step = tr.steps[m]
        if fp is None:
            fp = Footprint(-1, step.reads, step.writes, step.cls_reads, step.cls_writes, step.opaque)
        else:
            fp = fp.union(step)
    return None


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
