"""Minimise a scenario that produces a finding, keeping the finding's title.

Passes, each a delta-debugging loop (drop chunks, halve the chunk size):

1. events (post-boot unbind/bind/remove);
2. the thread schedule: empty, then the shortest prefix, then zeroed entries
   (the window preemptions re-anchored to the decisions they took, see
   :func:`_cutter`); then the window preemptions (``BootConfig.preempt``):
   as few as still show the finding, each pointing at the first other thread;
3. boot configuration back to defaults: client driver tweaks, registration
   order, failing allocation, absent IOMMU drivers, async-all, modules,
   deferred-probe timeout;
4. devices: device-tree nodes (with their subtrees) and extra devices, never
   leaving a dangling reference (an IOMMU node a remaining client names, a
   parent, a PCI host bridge of an endpoint stays);
5. drivers: the remaining client drivers made absent where not needed.

A candidate "still fails" when a run of it under the same variant reports a
finding with the same title (or that title among its alternative titles).
The minimiser is bounded by a number of runs; it returns the smallest
scenario found so far when the budget runs out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from fuzz.dedup import same_bug
from fuzz.gen import FuzzInput, client_compatibles, with_cfg
from fuzz.runcache import RunCache
from harness.board import Board
from harness.boot import ABSENT, BootConfig, DriverConfig
from harness.findings import Finding
from harness.kernel import is_window
from harness.run import Result, run_scenario
from harness.variant import Variant

T = TypeVar("T")
DEFAULT_BUDGET = 600


@dataclass
class MinimiseResult:
    """The minimised scenario, its finding, and what minimising cost."""

    scenario: FuzzInput
    finding: Finding
    runs: int
    devices_before: int
    devices_after: int


class _Budget(Exception):
    pass


class Minimiser:
    """Minimise scenarios for one variant and one title."""

    def __init__(self, variant: Variant, title: str, budget: int = DEFAULT_BUDGET,
                 cache: RunCache | None = None) -> None:
        self.variant = variant
        self.title = title
        self.budget = budget
        self.runs = 0
        self.finding: Finding | None = None
        # runs shared with other titles' minimisations (a hit still counts
        # against the budget: the result does not depend on the cache)
        self.cache = cache

    def fails(self, s: FuzzInput) -> bool:
        """Does ``s`` still produce the title?  (Harness errors count as no.)"""
        if self.runs >= self.budget:
            raise _Budget
        self.runs += 1
        if self.cache is not None:
            found = self.cache.findings(s)
            f = None if found is None else first_match_in(found, self.title)
        else:
            try:
                r = run_scenario(s.platform, self.variant, s.cfg)
            except Exception:  # noqa: BLE001 - a candidate the model cannot run is not a reproducer
                return False
            f = first_match(r, self.title)
        if f is not None:
            self.finding = f
            return True
        return False

    def ddmin(self, items: Sequence[T], build: Callable[[list[T]], FuzzInput | None],
              cur: FuzzInput) -> FuzzInput:
        """Drop chunks of ``items`` while ``build(kept)`` still fails (None: invalid)."""
        kept = list(items)
        n = max(1, len(kept) // 2)
        while kept:
            i = 0
            while i < len(kept):
                trial = kept[:i] + kept[i + n:]
                cand = build(trial)
                if cand is not None and self.fails(cand):
                    kept, cur = trial, cand
                else:
                    i += n
            if n == 1:
                break
            n = max(1, n // 2)
        return cur


def first_match(r: Result, title: str) -> Finding | None:
    return first_match_in(r.findings, title)


def first_match_in(findings: Sequence[Finding], title: str) -> Finding | None:
    for f in findings:
        if same_bug(f, title):
            return f
    return None


def minimise(s: FuzzInput, variant: Variant, title: str,
             budget: int = DEFAULT_BUDGET, cache: RunCache | None = None) -> MinimiseResult:
    """Minimise ``s`` (which must produce ``title`` under ``variant``); ``cache``
    (for ``variant``) shares runs with other titles' minimisations."""
    m = Minimiser(variant, title, budget, cache)
    before = _device_count(s.platform)
    if not m.fails(s):
        raise ValueError(f"scenario does not produce {title!r}")
    cur = s
    try:
        cur = _bulk_devices(m, cur)
        cur = _events(m, cur)
        cur = _schedule(m, cur)
        cur = _preemptions(m, cur)
        cur = _config(m, cur)
        cur = _devices(m, cur)
        cur = _drivers(m, cur)
    except _Budget:
        pass
    if m.finding is None or not _confirm(m, cur):
        raise ValueError("minimised scenario lost the finding")  # pragma: no cover - a bug here
    return MinimiseResult(cur, m.finding, m.runs, before, _device_count(cur.platform))


def _confirm(m: Minimiser, s: FuzzInput) -> bool:
    m.budget = m.runs + 1
    return m.fails(s)


# -- passes ------------------------------------------------------------------------


def _events(m: Minimiser, s: FuzzInput) -> FuzzInput:
    if not s.cfg.events:
        return s
    return m.ddmin(list(s.cfg.events), lambda ev: with_cfg(s, events=tuple(ev)), s)


def _schedule(m: Minimiser, s: FuzzInput) -> FuzzInput:
    sched = list(s.cfg.schedule)
    if not sched:
        return s
    cut = _cutter(m, s)
    empty = cut(0)
    if m.fails(empty):
        return empty
    # shortest failing prefix (binary search; the choices after it are the defaults)
    lo, hi = 0, len(sched)
    while lo < hi:
        mid = (lo + hi) // 2
        if m.fails(cut(mid)):
            hi = mid
        else:
            lo = mid + 1
    sched = sched[:hi]
    cur = cut(hi)
    s = cur
    if len(sched) > 64:
        return cur  # zeroing choice by choice is for short schedules
    for i in range(len(sched)):
        if sched[i] != 0:
            trial = sched[:i] + [0] + sched[i + 1:]
            cand = with_cfg(s, schedule=trial)
            if m.fails(cand):
                sched, cur = trial, cand
    return cur


def _cutter(m: Minimiser, s: FuzzInput) -> Callable[[int], FuzzInput]:
    """``n`` -> ``s`` with the first ``n`` schedule entries, its window
    preemptions re-anchored.

    A window preemption counts the window decisions taken *after* the
    schedule (:class:`harness.kernel.WindowPreemptions`), so cutting the
    schedule alone moves every preemption to another decision.  The run of
    ``s`` (recorded once) says how many window decisions the cut entries
    took; the preemptions count that many more, and land where they did
    whenever the cut entries only confirmed the synchronous default.
    """
    sched = list(s.cfg.schedule)
    if not s.cfg.preempt:
        return lambda n: with_cfg(s, schedule=sched[:n])
    if m.runs >= m.budget:
        raise _Budget
    m.runs += 1
    where = run_scenario(s.platform, m.variant, s.cfg, record=True).where or []
    # windows[n]: window decisions among the first n decisions
    windows = [0]
    for w in where[:len(sched)]:
        windows.append(windows[-1] + is_window(w))
    taken = windows[-1]

    def cut(n: int) -> FuzzInput:
        shift = taken - windows[min(n, len(windows) - 1)]
        return with_cfg(s, schedule=sched[:n],
                        preempt=tuple((k + shift, c) for k, c in s.cfg.preempt))

    return cut


def _preemptions(m: Minimiser, s: FuzzInput) -> FuzzInput:
    """Fewest window preemptions, then the smallest choice at each."""
    if not s.cfg.preempt:
        return s
    cur = m.ddmin(list(s.cfg.preempt), lambda kept: with_cfg(s, preempt=tuple(kept)), s)
    pre = list(cur.cfg.preempt)
    for i, (k, c) in enumerate(pre):
        if c != 0:
            trial = pre[:i] + [(k, 0)] + pre[i + 1:]
            cand = with_cfg(cur, preempt=tuple(trial))
            if m.fails(cand):
                pre, cur = trial, cand
    return cur


def _config(m: Minimiser, s: FuzzInput) -> FuzzInput:
    d = BootConfig()
    simplifications: list[dict[str, object]] = []
    c = s.cfg
    if c.fail_alloc:
        simplifications.append({"fail_alloc": ()})
    if c.async_probe_all:
        simplifications.append({"async_probe_all": False})
    if not c.config_modules:
        simplifications.append({"config_modules": True})
    if c.deferred_probe_timeout != d.deferred_probe_timeout:
        simplifications.append({"deferred_probe_timeout": d.deferred_probe_timeout})
    if c.driver_order:
        simplifications.append({"driver_order": ()})
    if c.driver_async_probe:
        simplifications.append({"driver_async_probe": ()})
    if c.events_during_boot:
        simplifications.append({"events_during_boot": False})
    if c.fw_devlink != d.fw_devlink or c.fw_devlink_strict:
        simplifications.append({"fw_devlink": d.fw_devlink, "fw_devlink_strict": False})
    if c.pci:
        simplifications.append({"pci": ()})
    cur = s
    for ch in simplifications:
        cand = with_cfg(cur, **ch)
        if m.fails(cand):
            cur = cand
    if cur.cfg.iommu_drivers:
        base = cur
        cur = m.ddmin(sorted(base.cfg.iommu_drivers.items()),
                      lambda kept: with_cfg(base, iommu_drivers=dict(kept)), cur)
    if cur.cfg.drivers:
        base = cur
        cur = m.ddmin(sorted(base.cfg.drivers.items(), key=lambda kv: kv[0]),
                      lambda kept: with_cfg(base, drivers=dict(kept)), cur)
    return cur


def _drivers(m: Minimiser, s: FuzzInput) -> FuzzInput:
    """Make client drivers the finding does not need absent."""
    compats = [c for c in client_compatibles(s.platform)
               if s.cfg.drivers.get(c, DriverConfig()).presence != ABSENT]
    if not compats:
        return s
    base = s

    def build(kept: list[str]) -> FuzzInput:
        drivers = dict(base.cfg.drivers)
        keep = set(kept)
        for c in compats:
            if c not in keep:
                drivers[c] = DriverConfig(presence=ABSENT)
        return with_cfg(base, drivers=drivers)

    return m.ddmin(compats, build, s)


def _devices(m: Minimiser, s: FuzzInput) -> FuzzInput:
    p = s.platform
    units = [n.path for n in p.nodes if n.path != "/"]
    # Whole subtrees go together: try the outermost nodes first.
    units.sort(key=lambda path: path.count("/"))
    extras = [f"extra:{e.name}" for e in p.extra_devices]
    base = s

    def build(kept: list[str]) -> FuzzInput | None:
        q = _restrict(p, set(kept))
        return None if q is None else replace(base, platform=q, platform_ref=None)

    # Drop in two stages: first everything that is not an IOMMU, a client or
    # an ancestor of one in one go (usually the bulk of a board), then ddmin.
    relevant = _relevant(p)
    first = [u for u in units if u in relevant] + extras
    cand = build(first)
    cur = s
    if cand is not None and len(first) < len(units) + len(extras) and m.fails(cand):
        cur = cand
        base = cand
        p = cand.platform
        units = [n.path for n in p.nodes if n.path != "/"]
        units.sort(key=lambda path: path.count("/"))
        extras = [f"extra:{e.name}" for e in p.extra_devices]
    return m.ddmin(units + extras, build, cur)


def _bulk_devices(m: Minimiser, s: FuzzInput) -> FuzzInput:
    """Drop every device that is not an IOMMU, a client or an ancestor of one,
    in one run, before the passes that boot the scenario many times."""
    p = s.platform
    relevant = _relevant(p)
    units = [n.path for n in p.nodes if n.path != "/"]
    if all(u in relevant for u in units):
        return s
    q = _restrict(p, relevant | {f"extra:{e.name}" for e in p.extra_devices})
    if q is None:
        return s
    cand = replace(s, platform=q, platform_ref=None)
    return cand if m.fails(cand) else s


def _relevant(p: Board) -> set[str]:
    """IOMMU providers, their clients, and every ancestor of those."""
    keep: set[str] = set()
    for n in p.nodes:
        if n.iommu_cells is not None or n.iommus or n.iommu_map:
            path: str | None = n.path
            while path is not None and path not in keep:
                keep.add(path)
                path = _parent(path)
    for e in p.extra_devices:
        if e.parent:
            path = e.parent
            while path is not None and path not in keep:
                keep.add(path)
                path = _parent(path)
    return keep


def _parent(path: str) -> str | None:
    if path == "/":
        return None
    head = path.rsplit("/", 1)[0]
    return head or "/"


def _restrict(p: Board, keep: set[str]) -> Board | None:
    """``p`` with only the kept nodes (and root) and extra devices; None if that
    leaves a dangling parent or IOMMU reference."""
    nodes = [n for n in p.nodes if n.path == "/" or n.path in keep]
    paths = {n.path for n in nodes}
    for n in nodes:
        parent = n.parent_path
        if parent is not None and parent not in paths:
            return None
        if any(r.iommu not in paths for r in n.iommus):
            return None
        if any(e.iommu not in paths for e in n.iommu_map):
            return None
    extra = [e for e in p.extra_devices if f"extra:{e.name}" in keep]
    if any(e.parent is not None and e.parent not in paths for e in extra):
        return None
    return replace(p, nodes=nodes, extra_devices=extra, acpi_iommus=list(p.acpi_iommus),
                   provenance=dict(p.provenance))


def _device_count(p: Board) -> int:
    return sum(1 for n in p.nodes if n.compatible and n.path != "/") + len(p.extra_devices)
