"""Collects the seeded-bug detection results and prints them after the run."""

from __future__ import annotations

from typing import Any

import pytest

RESULTS: list[dict[str, Any]] = []


@pytest.fixture
def record() -> Any:
    return RESULTS.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("seeded-bug detection (quality suite)")
    tr.write_line(f"{'bug':<34} {'engine':<10} {'detected':>9} {'budget':>7} "
                  f"{'median runs':>11} {'median s':>9}")
    for r in RESULTS:
        tr.write_line(f"{r['bug']:<34} {r['engine']:<10} {r['hits']:>4}/{r['trials']:<4} {r['budget']:>7} "
                      f"{_fmt(r['median_runs'])!s:>11} {_fmt(r['median_seconds'])!s:>9}")
    total = sum(r["hits"] for r in RESULTS)
    trials = sum(r["trials"] for r in RESULTS)
    tr.write_line(f"overall detection rate: {total}/{trials} = {total / max(trials, 1):.0%}")


def _fmt(x: float | None) -> str:
    return "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))
