"""Rank fix candidates by what they change against the base, on the same scenarios.

Every variant of an ``explore`` campaign ran the same generated scenarios as
the base (the variant without mutations), so each one is judged by its
difference from the base: findings *fixed* (the base shows them, the variant
does not), *introduced* (the other way round) and *unchanged*, as distinct
(title, board) pairs.  A finding that every variant shows, the base included,
weighs on none of them.

The order, most important first:

1. **The series' goal is a constraint.**  The series exists so that every
   device behind an IOMMU gets its group when it is added or when its IOMMU
   registers (in bus order, by the registration walk), and no IOMMU probe
   happens at driver bind.  A variant that introduces a finding of the
   invariants that say so (spec section 5: 7, a device without its group; 8,
   ``dma_configure`` replayed at bind; 5, an IOMMU probe reached from
   ``really_probe()`` -- judged from the finding's call trace, so a variant
   that merely makes the warning fire elsewhere does not count) "reverts the
   series' goal" and ranks below every variant that does not.
2. **Severity, then reach**: per level, worst level first -- crashes
   (oopses, deadlocks), isolation (group and isolation problems), warnings,
   deferred-probe churn -- first the net bugs of the *default boot* (distinct
   titles a board's plain boot shows, fixed minus introduced: they happen on
   every boot of that board, as the seed report's oops did), then the net bugs
   of all scenarios (those that need a schedule, an asynchronous probe, a
   probe error or another configuration to show).  A default-boot bug is
   also the stronger evidence: it is deterministic, while a race the base hit
   under one generated schedule may simply not have been hit again by the
   variant, whose code takes other scheduling points.
3. **Breadth**: net (title, board) pairs, then net scenarios (runs that hit a
   finding).
4. **Change size**: sites changed from the base.
5. **Ties**: the variant that changes less of the observed probe-path
   behaviour (behaviour features, :mod:`fuzz.features`, that differ from the
   base's) ranks first: with equal evidence, the more conservative change.
   Rows still equal are listed in the space's enumeration order, and say so.

Each row says why it ranks where it does: the first key on which it differs
from the row above.  Variants are clustered into fix families
(:mod:`fuzz.families`); the top 3 are the best of three different families.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fuzz.campaign import CampaignResult, UnitResult
from fuzz.families import BASE_FAMILY, Change, Family, change_words, changes, family

ORDER = ("oops", "deadlock", "group", "isolation", "warn", "defer")
_NAMES = {"oops": "oopses", "deadlock": "deadlocks", "group": "group problems",
          "isolation": "devices without isolation", "warn": "warnings", "defer": "deferred-probe churn"}
_ONE = {"oops": "oops", "deadlock": "deadlock", "group": "group problem",
        "isolation": "device without isolation", "warn": "warning", "defer": "deferred-probe churn"}
#: severity levels, worst first, and the finding kinds (count keys) in each
LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crashes", ("oops", "deadlock")),
    ("isolation problems", ("group", "isolation")),
    ("warnings", ("warn",)),
    ("deferred-probe problems", ("defer",)),
)
_KIND_KEY = {"warning": "warn"}

#: the invariants (spec section 5) the series exists for, and what they say
GOAL_INVARIANTS = {
    5: "no IOMMU probe at driver bind",
    7: "every device behind a registered IOMMU gets its group",
    8: "no dma_configure replay at driver bind",
}
#: frames that say which path reached an IOMMU probe: the driver core's bind
#: (what the series removes), the registration walk and the device-add notifier
#: (what it relies on).  The innermost one in a trace is the path taken.
BIND_PATH = "really_probe"
SERIES_PATHS = frozenset({"probe_iommu_group", "bus_iommu_probe", "iommu_bus_notifier"})
TOP = 3


@dataclass(frozen=True)
class Diff:
    """One finding title and the boards where the variant differs from the base (or not)."""

    title: str
    kind: str
    boards: tuple[str, ...]
    invariant: int | None = None
    # the boards among ``boards`` where the difference is on the default boot
    plain: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"title": self.title, "kind": self.kind, "boards": list(self.boards)}
        if self.invariant is not None:
            d["invariant"] = self.invariant
        if self.plain:
            d["default_boot"] = list(self.plain)
        return d


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
    index: int = 0
    fixed: list[Diff] = field(default_factory=list)
    introduced: list[Diff] = field(default_factory=list)
    unchanged: list[Diff] = field(default_factory=list)
    fixed_plain: list[Diff] = field(default_factory=list)  # on the default boots alone
    introduced_plain: list[Diff] = field(default_factory=list)
    goal: list[str] = field(default_factory=list)  # why it reverts the series' goal (empty: it does not)
    family: Family = BASE_FAMILY
    changes: tuple[Change, ...] = ()
    family_best: bool = False
    family_size: int = 1
    why: str = ""  # the reason in a few words (terminal table)
    behaviour: int = 0  # behaviour features that differ from the base's
    net_hits: int = 0
    fingerprint: str | None = None
    is_base: bool = False

    @property
    def reverts_goal(self) -> bool:
        return bool(self.goal)

    def net(self, kinds: tuple[str, ...]) -> int:
        """Distinct titles of these kinds fixed minus introduced."""
        return (sum(1 for d in self.fixed if d.kind in kinds)
                - sum(1 for d in self.introduced if d.kind in kinds))

    def net_plain(self, kinds: tuple[str, ...]) -> int:
        """Distinct titles of these kinds fixed minus introduced on the default boots."""
        return (sum(1 for d in self.fixed_plain if d.kind in kinds)
                - sum(1 for d in self.introduced_plain if d.kind in kinds))

    @property
    def net_pairs(self) -> int:
        return sum(len(d.boards) for d in self.fixed) - sum(len(d.boards) for d in self.introduced)

    def key(self) -> tuple[Any, ...]:
        severity = [n for _, kinds in LEVELS for n in (-self.net_plain(kinds), -self.net(kinds))]
        return (self.reverts_goal, *severity, -self.net_pairs,
                -self.net_hits, self.size, self.behaviour, self.index)

    def to_json(self) -> dict[str, Any]:
        """The row of ``ranking.json``."""
        d: dict[str, Any] = {
            "id": self.id, "rank": self.rank, "description": self.description,
            "counts": dict(self.counts), "titles": list(self.titles),
            "reproducers": list(self.reproducers),
            "fixed": [x.to_json() for x in self.fixed],
            "introduced": [x.to_json() for x in self.introduced],
            "unchanged": [x.to_json() for x in self.unchanged],
            "reverts_goal": self.reverts_goal, "goal": list(self.goal),
            "family": self.family.label, "family_best": self.family_best,
            "changes": [c.to_json() for c in self.changes],
            "size": self.size, "behaviour_distance": self.behaviour, "reason": self.reason}
        if self.fingerprint:
            d["fingerprint"] = self.fingerprint
        return d


def _kind(f: dict[str, Any]) -> str:
    return _KIND_KEY.get(f["kind"], f["kind"])


def _boards(f: dict[str, Any]) -> set[str]:
    return set(f.get("boards") or ([f["board"]] if f.get("board") else []))


def _plain(f: dict[str, Any]) -> set[str]:
    return set(f.get("plain_boards", ()))


def _row(r: UnitResult) -> Row:
    found = sorted(r.found, key=lambda f: (ORDER.index(_kind(f)) if _kind(f) in ORDER else 9, f["title"]))
    return Row(id=r.id, rank=0, description=r.description, size=r.size, counts=r.counts,
               titles=[f["title"] for f in found],
               reproducers=[f["reproducer"] for f in found if f.get("reproducer")],
               reason="", executions=r.executions, index=r.index)


def at_driver_bind(trace: list[str]) -> bool:
    """The innermost path-naming frame of an (innermost-first) trace is the driver bind."""
    for fn in trace:
        if fn == BIND_PATH:
            return True
        if fn in SERIES_PATHS:
            return False
    return False


def goal_violation(f: dict[str, Any]) -> str | None:
    """The series-goal invariant a finding (``Found.to_json()``) breaks, in words, or None."""
    detail = f.get("finding") or {}
    inv = detail.get("invariant")
    if inv not in GOAL_INVARIANTS:
        return None
    if inv == 5 and not at_driver_bind(list(detail.get("trace", []))):
        return None  # the warning fired on the series' own paths: noisy, not a revert
    return GOAL_INVARIANTS[inv]


class _Titles:
    """Canonical titles: a variant's finding is the base's when it has the
    base's title or one of its alternative titles (syzkaller's alt titles)."""

    def __init__(self, base: UnitResult) -> None:
        self.map: dict[str, str] = {}
        for f in base.found:
            for t in [f["title"], *(f.get("finding") or {}).get("alt_titles", [])]:
                self.map.setdefault(t, f["title"])

    def __call__(self, f: dict[str, Any]) -> str:
        for t in [f["title"], *(f.get("finding") or {}).get("alt_titles", [])]:
            if t in self.map:
                return self.map[t]
        return str(f["title"])


@dataclass
class Comparison:
    """A variant against the base, on the same scenarios."""

    fixed: list[Diff]  # (title, boards) the base shows and the variant does not
    introduced: list[Diff]
    unchanged: list[Diff]
    fixed_plain: list[Diff]  # the same, on the boards' default boots alone
    introduced_plain: list[Diff]
    goal: list[str]  # why the variant reverts the series' goal (empty: it does not)
    net_hits: int  # the base's runs with a finding minus the variant's


def compare(base: UnitResult, r: UnitResult) -> Comparison:
    """Findings of ``r`` against ``base``, by title and board."""
    canon = _Titles(base)
    b = {f["title"]: f for f in base.found}
    v: dict[str, dict[str, Any]] = {}
    vboards: dict[str, set[str]] = {}
    vplain: dict[str, set[str]] = {}
    for f in r.found:
        t = canon(f)
        v.setdefault(t, f)
        vboards.setdefault(t, set()).update(_boards(f))
        vplain.setdefault(t, set()).update(_plain(f))
    fixed: list[Diff] = []
    introduced: list[Diff] = []
    unchanged: list[Diff] = []
    fixed_plain: list[Diff] = []
    introduced_plain: list[Diff] = []
    goal: list[str] = []
    for t in sorted(set(b) | set(v)):
        bb = _boards(b[t]) if t in b else set()
        vb = vboards.get(t, set())
        bp = _plain(b[t]) if t in b else set()
        vp = vplain.get(t, set())
        f = b.get(t) or v[t]
        kind, inv = _kind(f), (f.get("finding") or {}).get("invariant")
        if bb - vb:
            fixed.append(Diff(t, kind, tuple(sorted(bb - vb)), inv, tuple(sorted((bp - vp) & (bb - vb)))))
        if vb - bb:
            introduced.append(Diff(t, kind, tuple(sorted(vb - bb)), inv,
                                   tuple(sorted((vp - bp) & (vb - bb)))))
            why = goal_violation(v[t])
            if why is not None:
                goal.append(f"{why} (invariant {inv}): {t} on {_board_list(sorted(vb - bb))}")
        # On the default boot alone: a title may leave (or reach) a board's
        # default boot while some other scenario of that board still shows it.
        if bp - vp:
            fixed_plain.append(Diff(t, kind, tuple(sorted(bp - vp)), inv, tuple(sorted(bp - vp))))
        if vp - bp:
            introduced_plain.append(Diff(t, kind, tuple(sorted(vp - bp)), inv, tuple(sorted(vp - bp))))
        if bb & vb:
            unchanged.append(Diff(t, kind, tuple(sorted(bb & vb)), inv))
    net_hits = sum(int(f.get("hits", 1)) for f in base.found) - sum(int(f.get("hits", 1)) for f in r.found)
    return Comparison(fixed, introduced, unchanged, fixed_plain, introduced_plain, goal, net_hits)


def _board_list(boards: list[str]) -> str:
    return ", ".join(boards) if len(boards) <= 3 else f"{', '.join(boards[:2])} and {len(boards) - 2} more"


def find_base(results: list[UnitResult]) -> UnitResult | None:
    """The base of a campaign: the variant without mutations (the first such one)."""
    bases = [r for r in results if r.size == 0]
    return min(bases, key=lambda r: r.index) if bases else None


def rank(results: list[UnitResult], variants: dict[int, dict[str, Any]] | None = None) -> list[Row]:
    """Rows in rank order, with ranks, reasons and families.

    ``variants`` maps a result's ``index`` to its variant JSON
    (``variant_to_json``): the fix families come from it (without it every
    variant is its own family)."""
    base = find_base(results)
    variants = variants or {}
    base_json = variants.get(base.index) if base is not None else None
    base_features = set(base.features) if base is not None else set()
    rows = []
    for r in results:
        row = _row(r)
        if base is not None:
            c = compare(base, r)
            row.fixed, row.introduced, row.unchanged, row.goal = c.fixed, c.introduced, c.unchanged, c.goal
            row.fixed_plain, row.introduced_plain = c.fixed_plain, c.introduced_plain
            row.net_hits = c.net_hits
            row.is_base = r is base
        row.behaviour = len(base_features ^ set(r.features))
        vj = variants.get(r.index)
        if vj is not None and base_json is not None:
            row.changes = changes(base_json, vj)
            row.family = family(row.changes)
        elif r is not base:
            row.family = Family((("#", str(r.index)),), r.description or r.id)
        if vj is not None:
            row.fingerprint = vj.get("fingerprint")
        rows.append(row)
    rows.sort(key=Row.key)
    sizes: dict[tuple[tuple[str, str], ...], int] = {}
    for row in rows:
        sizes[row.family.key] = sizes.get(row.family.key, 0) + 1
    seen: set[tuple[tuple[str, str], ...]] = set()
    prev: Row | None = None
    for i, row in enumerate(rows, 1):
        row.rank = i
        row.reason, row.why = _reason(row, prev, base.id if base is not None else "the base")
        row.family_best = row.family.key not in seen
        row.family_size = sizes[row.family.key]
        seen.add(row.family.key)
        prev = row
    return rows


def top(rows: list[Row], n: int = TOP) -> list[Row]:
    """The best variant of each of the first ``n`` fix families that fix something
    (a family's best is its highest-ranked member)."""
    return [r for r in rows if r.family_best and not r.family.empty and r.fixed][:n]


def families(rows: list[Row]) -> list[tuple[Family, list[Row]]]:
    """Fix families in the order of their best member, each with its members in rank order."""
    out: dict[tuple[tuple[str, str], ...], tuple[Family, list[Row]]] = {}
    for r in rows:
        out.setdefault(r.family.key, (r.family, []))[1].append(r)
    return list(out.values())


# -- words ----------------------------------------------------------------------------


def _count(diffs: list[Diff]) -> str:
    if not diffs:
        return "nothing"
    by: dict[str, int] = {}
    for d in diffs:
        by[d.kind] = by.get(d.kind, 0) + 1
    return ", ".join(f"{n} {_NAMES[k] if n > 1 else _ONE.get(k, k)}"
                     for k, n in sorted(by.items(), key=lambda kv: ORDER.index(kv[0])
                                        if kv[0] in ORDER else 9))


def summary(row: Row) -> str:
    """``fixes 1 oops, introduces nothing (2 unchanged)``."""
    if row.is_base:
        return f"the base ({len(row.unchanged)} findings)"
    return (f"fixes {_count(row.fixed)}, introduces {_count(row.introduced)}"
            f" ({len(row.unchanged)} unchanged)")


def _net(row: Row, kinds: tuple[str, ...], plain: bool = False) -> str:
    fixed, introduced = (row.fixed_plain, row.introduced_plain) if plain else (row.fixed, row.introduced)
    f = sum(1 for d in fixed if d.kind in kinds)
    i = sum(1 for d in introduced if d.kind in kinds)
    return f"fixes {f}, introduces {i}"


def _reason(row: Row, prev: Row | None, base: str) -> tuple[str, str]:
    """Why ``row`` ranks below ``prev``: (a sentence, a few words for the terminal)."""
    if row.reverts_goal:
        head = f"reverts the series' goal: {row.goal[0]}" + (f" (+{len(row.goal) - 1} more)"
                                                             if len(row.goal) > 1 else "")
        if prev is None or not prev.reverts_goal:
            return head + "; ranked below every variant that keeps it", "reverts the series' goal"
    else:
        head = ""
    if prev is None:
        return f"best: {summary(row)}, change size {row.size}", "best"
    lead = f"{head}; " if head else ""
    g = "goal reverted; " if head else ""
    for name, kinds in LEVELS:
        if row.net_plain(kinds) != prev.net_plain(kinds):
            return (f"{lead}below {prev.id} on {name} of the default boot, which every boot of the board "
                    f"shows ({_net(row, kinds, True)} vs {_net(prev, kinds, True)}); {summary(row)}",
                    f"{g}default-boot {name}: net {row.net_plain(kinds):+d} vs {prev.net_plain(kinds):+d}")
        if row.net(kinds) != prev.net(kinds):
            return (f"{lead}below {prev.id} on {name} ({_net(row, kinds)} vs {_net(prev, kinds)}); "
                    f"{summary(row)}", f"{g}{name}: net {row.net(kinds):+d} vs {prev.net(kinds):+d}")
    if row.net_pairs != prev.net_pairs:
        return (f"{lead}same severity as {prev.id}, narrower: net {row.net_pairs} (title, board) pairs "
                f"fixed vs {prev.net_pairs}; {summary(row)}",
                f"{g}boards: net {row.net_pairs:+d} vs {prev.net_pairs:+d}")
    if row.net_hits != prev.net_hits:
        return (f"{lead}same findings as {prev.id}, in more scenarios: net {row.net_hits} runs freed of "
                f"findings vs {prev.net_hits}", f"{g}scenarios: net {row.net_hits:+d} vs {prev.net_hits:+d}")
    if row.size != prev.size:
        return (f"{lead}same findings as {prev.id} ({summary(row)}) but a larger change "
                f"({row.size} vs {prev.size})", f"{g}larger change: {row.size} vs {prev.size}")
    if row.behaviour != prev.behaviour:
        return (f"{lead}tied with {prev.id} on findings, breadth and change size; ranked below because it "
                f"changes more of the observed probe-path behaviour ({row.behaviour} vs {prev.behaviour} "
                f"behaviour features differ from {base})",
                f"{g}tie: behaviour {row.behaviour} vs {prev.behaviour}")
    return (f"{lead}tied with {prev.id} on findings, breadth, change size and behaviour "
            f"({row.behaviour} features differ from {base}); listed in the space's order",
            f"{g}tie: space order")


def describe_change(row: Row) -> str:
    """The change in words (one line per site), or the description."""
    return "; ".join(change_words(c) for c in row.changes) or row.description


def ranking_json(c: CampaignResult, rows: list[Row]) -> dict[str, Any]:
    """``ranking.json``: ``{"base", "budget", "order", "top", "variants": [...]}`` in rank order."""
    req = c.request
    fams = families(rows)
    return {
        "base": req.base,
        # explore --tree: the ids name that tree's presets (mutators.facts.tree_presets)
        "tree": None if req.tree is None else {"path": req.tree.tree, "commit": req.tree.commit,
                                               "profile": req.tree.key},
        "budget": {"engine": req.engine, "depth": req.depth, "seed": req.seed,
                   "runs_per_board": None if req.time_per_variant else req.runs_per_board,
                   "time_per_variant": req.time_per_variant,
                   "boards": [b.name for b in req.boards], "variants": len(rows),
                   "executions": sum(r.executions for r in rows),
                   "elapsed_seconds": round(c.elapsed, 2), "jobs": req.jobs},
        "order": ["reverts the series' goal last",
                  *(f"net {name}{where}" for name, _ in LEVELS for where in (" on the default boot", "")),
                  "net (title, board) pairs", "net scenarios", "change size",
                  "behaviour distance from the base", "space order"],
        "goal_invariants": {str(k): v for k, v in GOAL_INVARIANTS.items()},
        "families": len([f for f, _ in fams if not f.empty]),
        "top": [r.id for r in top(rows)],
        "variants": [r.to_json() for r in rows],
    }
