"""Rank fix candidates: fewest serious findings first, then the smallest change.

Order (ascending, lexicographic): oopses, deadlocks, malformed or missing
groups, devices left without isolation, warnings, deferred-probe churn, size
of the change from the base (number of mutations), then the id.  Counts are
distinct (title, board) pairs, so an oops on two boards weighs more than an
oops on one.  Each row says why it ranks where it does: the first key on
which it differs from the row above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fuzz.campaign import CampaignResult, UnitResult

ORDER = ("oops", "deadlock", "group", "isolation", "warn", "defer")
_NAMES = {"oops": "oopses", "deadlock": "deadlocks", "group": "group problems",
          "isolation": "devices without isolation", "warn": "warnings", "defer": "deferred-probe churn"}


@dataclass
class Row:
    """One ranked variant."""

    id: str
    rank: int
    description: str
    size: int
    counts: dict[str, int]
    titles: list[str]
    reproducers: list[str]
    reason: str
    executions: int

    def key(self) -> tuple[Any, ...]:
        return (*(self.counts[k] for k in ORDER), self.size, self.id)

    def to_json(self) -> dict[str, Any]:
        """The row of ``ranking.json``: exactly the issue's keys (the reason, change
        size and executions are in the reports)."""
        return {"id": self.id, "rank": self.rank, "description": self.description,
                "counts": dict(self.counts), "titles": list(self.titles),
                "reproducers": list(self.reproducers)}


def _row(r: UnitResult) -> Row:
    found = sorted(r.found, key=lambda f: (ORDER.index(_kind(f)) if _kind(f) in ORDER else 9, f["title"]))
    return Row(id=r.id, rank=0, description=r.description, size=r.size, counts=r.counts,
               titles=[f["title"] for f in found],
               reproducers=[f["reproducer"] for f in found if f.get("reproducer")],
               reason="", executions=r.executions)


def _kind(f: dict[str, Any]) -> str:
    return {"warning": "warn"}.get(f["kind"], f["kind"])


def rank(results: list[UnitResult]) -> list[Row]:
    """Rows in rank order, with ranks (ties share nothing: the id breaks them) and reasons."""
    rows = sorted((_row(r) for r in results), key=Row.key)
    prev: Row | None = None
    for i, row in enumerate(rows, 1):
        row.rank = i
        row.reason = _reason(row, prev)
        prev = row
    return rows


def _summary(row: Row) -> str:
    bad = [f"{row.counts[k]} {_NAMES[k]}" for k in ORDER if row.counts[k]]
    return ", ".join(bad) if bad else "no findings"


def _reason(row: Row, prev: Row | None) -> str:
    if prev is None:
        return f"best: {_summary(row)}, change size {row.size}"
    for k in ORDER:
        if row.counts[k] != prev.counts[k]:
            return (f"below {prev.id}: more {_NAMES[k]} ({row.counts[k]} vs {prev.counts[k]}); "
                    f"{_summary(row)}")
    if row.size != prev.size:
        return f"same findings as {prev.id} ({_summary(row)}) but a larger change ({row.size} vs {prev.size})"
    return f"tied with {prev.id} ({_summary(row)}, change size {row.size}); ordered by id"


def ranking_json(c: CampaignResult, rows: list[Row]) -> dict[str, Any]:
    """``ranking.json``: ``{"base", "budget", "variants": [...]}`` in rank order."""
    req = c.request
    return {
        "base": req.base,
        "budget": {"engine": req.engine, "depth": req.depth, "seed": req.seed,
                   "runs_per_board": None if req.time_per_variant else req.runs_per_board,
                   "time_per_variant": req.time_per_variant,
                   "boards": [b.name for b in req.boards], "variants": len(rows),
                   "executions": sum(r.executions for r in rows),
                   "elapsed_seconds": round(c.elapsed, 2), "jobs": req.jobs},
        "variants": [r.to_json() for r in rows],
    }
