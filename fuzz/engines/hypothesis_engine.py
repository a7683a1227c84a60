"""The Hypothesis engine: :func:`fuzz.gen.scenarios` drawn choice by choice.

Hypothesis generates scenarios from the same generator as the other engines
(its choices shrink towards the plain boot); every example is handed to the
:class:`~fuzz.engines.session.Session`, which records findings rather than
failing, so one campaign collects every bug.  ``seed`` makes a run with a run
budget reproducible (``@seed``, no example database).

With ``shrink=True`` each new bug is first handed to Hypothesis' own shrinker
(:func:`shrink`: ``hypothesis.find`` over the same strategy, derandomised),
whose result -- the simplest scenario in draw order with that title, i.e.
fewest driver tweaks, events and schedule choices -- is where
:mod:`fuzz.minimise` starts (it then drops devices and drivers).
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import seed as hseed
from hypothesis.errors import NoSuchExample, Unsatisfiable

from fuzz.engines.session import EngineStats, Session
from fuzz.gen import FuzzInput, GenContext, scenarios
from fuzz.minimise import first_match
from harness.run import run_scenario
from harness.variant import Variant

SHRINK_EXAMPLES = 200


class _OutOfTime(Exception):
    pass


def fuzz_loop(session: Session, ctx: GenContext, *, runs: int | None, seconds: float | None,
              seed: int) -> EngineStats:
    """Fuzz ``session.variant`` with Hypothesis for ``runs`` examples or ``seconds``."""
    deadline = None if seconds is None else time.monotonic() + seconds
    strategy = scenarios(ctx)
    session.start()
    rnd = 0
    while True:
        left = None if runs is None else runs - session.stats.executions
        if left is not None and left <= 0:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        batch = left if left is not None else 1000

        @settings(max_examples=batch, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @hseed(seed * 1000003 + rnd)
        @given(strategy)
        def _one(s: Any) -> None:
            if deadline is not None and time.monotonic() >= deadline:
                raise _OutOfTime
            if runs is not None and session.stats.executions >= runs:
                raise _OutOfTime
            session.run(s)

        try:
            _one()
        except _OutOfTime:
            break
        rnd += 1
        if runs is not None:
            break  # Hypothesis may stop early once its space is exhausted
    return session.finish()


def shrink(ctx: GenContext, variant: Variant, title: str,
           max_examples: int = SHRINK_EXAMPLES) -> FuzzInput | None:
    """Hypothesis' simplest scenario producing ``title`` (None if not found in budget)."""
    def produces(s: FuzzInput) -> bool:
        try:
            r = run_scenario(s.platform, variant, s.cfg)
        except Exception:  # noqa: BLE001 - a scenario the model cannot run does not count
            return False
        return first_match(r, title) is not None

    try:
        return find(scenarios(ctx), produces,
                    settings=settings(max_examples=max_examples, database=None, deadline=None,
                                      derandomize=True, suppress_health_check=list(HealthCheck)))
    except (NoSuchExample, Unsatisfiable):
        return None
