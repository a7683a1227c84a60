"""Minimise a scenario that produces a finding, keeping the finding's title.

Passes, each a delta-debugging loop (drop chunks, halve the chunk size):

0. window preemptions (``BootConfig.preempt``) first: several absolute ones
   reduced on the whole board, then each aimed at the device its decision
   was about (``preempt_dev``, :func:`_aim`: the same run, one recorded
   boot), so that dropping devices, drivers or tweaks that take window
   decisions earlier in the boot no longer moves it; then the bulk device
   drop: in one run, every device but the IOMMUs, their clients, their
   ancestors and what the failing run names (the aimed devices, the
   finding's device) -- and, when that loses the title, in one more run
   keeping also what earlier reproducers on the board kept
   (``RunCache.kept``);
1. events (post-boot unbind/bind/remove);
2. the thread schedule: empty, then the shortest prefix, then zeroed entries
   (the window preemptions re-anchored to the decisions they took, see
   :func:`_cutter`, in their absolute form); then the window preemptions:
   as few as still show the finding, each pointing at the first other thread;
3. boot configuration back to defaults: client driver tweaks, registration
   order, failing allocation, absent IOMMU drivers, async-all, modules,
   deferred-probe timeout;
4. devices: device-tree nodes and extra devices, outermost first, each
   candidate dropping the subtrees of the nodes it drops and never leaving a
   dangling reference (an IOMMU node a remaining client names, a PCI host
   bridge of an endpoint stays); a candidate equal to one already run is not
   run again;
5. drivers: the remaining client drivers made absent where not needed.

The confirming run lowers aimed preemptions back to the absolute ones they
took, the form reproducers keep.  A candidate "still fails" when a run of it
under the same variant reports a finding with the same title (or that title
among its alternative titles).  The minimiser is bounded by a number of
runs; it returns the smallest scenario found so far when the budget runs out.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from fuzz.dedup import same_bug
from fuzz.gen import FuzzInput, client_compatibles, with_cfg
from fuzz.runcache import RunCache
from harness.board import Board
from harness.boot import ABSENT, BootConfig, DriverConfig
from harness.findings import Finding
from harness.kernel import Kthread, WindowPreemptions, is_window, window_device
from harness.run import Result, run_scenario
from harness.schedules import lower_preemptions
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
        # against the budget: the result does not depend on the cache's
        # runs), and the nodes their reproducers kept (_bulk_devices)
        self.cache = cache
        # what earlier reproducers kept, when the bulk drop needed it
        self.learned: set[str] = set()

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

    def boot(self, s: FuzzInput, chooser: WindowPreemptions) -> Result | None:
        """A run of ``s`` under ``chooser`` (counted; None: a harness error):
        for passes that need more of a run than its findings."""
        if self.runs >= self.budget:
            raise _Budget
        self.runs += 1
        try:
            return run_scenario(s.platform, self.variant,
                                replace(s.cfg, preempt=(), preempt_dev=()), chooser=chooser)
        except Exception:  # noqa: BLE001 - as in fails()
            return None

    def ddmin(self, items: Sequence[T], build: Callable[[list[T]], FuzzInput | None],
              cur: FuzzInput, close: Callable[[list[T]], list[T]] | None = None) -> FuzzInput:
        """Drop chunks of ``items`` while ``build(kept)`` still fails (None:
        invalid); ``close(kept)``: what can stay of ``kept`` (see _closure)."""
        kept = list(items)
        n = max(1, len(kept) // 2)
        # closed trials already run: dropping another chunk can close
        # to the same one (the run would be the same: deterministic model)
        tried: set[tuple[T, ...]] = set()
        while kept:
            i = 0
            while i < len(kept):
                trial = kept[:i] + kept[i + n:]
                if close is not None:
                    trial = close(trial)
                    if tuple(trial) in tried:
                        i += n
                        continue
                cand = build(trial)
                if close is not None and cand is not None:
                    tried.add(tuple(trial))
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
        if len(cur.cfg.preempt) > 1:
            # fewest absolute preemptions on the whole board first: the
            # smaller boards after the bulk drop may need more of them
            cur = _fewest_preemptions(m, cur)
        cur = _aim(m, cur)
        cur = _bulk_devices(m, cur)
        cur = _events(m, cur)
        if cur.cfg.schedule and cur.cfg.preempt_dev:
            # the schedule pass re-anchors absolute preemptions (_cutter)
            cur = _aim(m, _schedule(m, _lowered(m, cur)))
        else:
            cur = _schedule(m, cur)
        cur = _preemptions(m, cur)
        cur = _config(m, cur)
        cur = _devices(m, cur)
        cur = _drivers(m, cur)
    except _Budget:
        pass
    cur, ok = _confirm(m, cur)
    if m.finding is None or not ok:
        raise ValueError("minimised scenario lost the finding")  # pragma: no cover - a bug here
    if cache is not None:
        cache.kept.setdefault(s.platform.name, set()).update(
            n.path for n in cur.platform.nodes if n.path != "/")
    return MinimiseResult(cur, m.finding, m.runs, before, _device_count(cur.platform))


def _confirm(m: Minimiser, s: FuzzInput) -> tuple[FuzzInput, bool]:
    """``s`` as the reproducer (its aimed preemptions lowered to the absolute
    ones they took), and whether it shows the title: one run past the budget."""
    m.budget = m.runs + 1
    if not s.cfg.preempt_dev:
        return s, m.fails(s)
    ch = WindowPreemptions(s.cfg.preempt, s.cfg.preempt_dev)
    r = m.boot(s, ch)
    f = None if r is None else first_match(r, m.title)
    if f is None:  # pragma: no cover - a candidate that failed before fails again
        return s, False
    m.finding = f
    return with_cfg(s, preempt=tuple(ch.fired), preempt_dev=()), True


# -- passes ------------------------------------------------------------------------


class _Aimer(WindowPreemptions):
    """:class:`WindowPreemptions` that notes, for each switch it takes, the
    device the decision is about (:func:`harness.kernel.window_device`) and
    the number of window decisions about that device before it."""

    __slots__ = ("aimed",)

    def __init__(self, preempt: tuple[tuple[int, int], ...],
                 at_device: tuple[tuple[str, int, int], ...]) -> None:
        # an aimed entry no decision matches (i < 0) makes the chooser count
        # every device's window decisions, as a run with aimed preemptions does
        super().__init__(preempt, at_device or (("", -1, 0),))
        self.aimed: list[tuple[str | None, int, int]] = []  # (device, i, c) per switch

    def __call__(self, runnable: list[Kthread], cur: Kthread | None, where: str) -> int:
        n = len(self.fired)
        idx = super().__call__(runnable, cur, where)
        if len(self.fired) > n:
            # called from Kernel._pick(), as WindowPreemptions.__call__ is
            dev = window_device(sys._getframe(1))
            self.aimed.append((dev, -1 if dev is None else self.dev_seen[dev] - 1,
                               self.fired[-1][1]))
        return idx


def _aim(m: Minimiser, s: FuzzInput) -> FuzzInput:
    """``s`` with each window preemption aimed at the device its decision was
    about (``preempt_dev``), one recorded run.

    An absolute preemption counts every window decision of the boot, so
    dropping a device, a driver or a configuration tweak that takes window
    decisions before it moves it to another decision, and the race is gone:
    every such candidate fails, and a title found with a preemption kept the
    whole board.  Aimed at "the i-th window decision about this device", it
    stays where it was whatever else the candidate drops.  The aimed
    scenario is the same run (each switch at the same decision); preemptions
    that never fired are left out (the same run too), and a switch at a
    decision about no device stays absolute.  :func:`_confirm` lowers them
    back to the absolute ones they take in the reproducer's run."""
    if not s.cfg.preempt:
        return s
    ch = _Aimer(s.cfg.preempt, s.cfg.preempt_dev)
    if m.boot(s, ch) is None:
        return s
    return with_cfg(s, preempt=tuple((k, c) for (k, c), (dev, _, _) in zip(ch.fired, ch.aimed, strict=True)
                                     if dev is None),
                    preempt_dev=tuple((dev, i, c) for dev, i, c in ch.aimed if dev is not None))


def _lowered(m: Minimiser, s: FuzzInput) -> FuzzInput:
    """``s`` with its aimed preemptions as the absolute ones they took (one run)."""
    if not s.cfg.preempt_dev:
        return s
    if m.runs >= m.budget:
        raise _Budget
    m.runs += 1
    try:
        return replace(s, cfg=lower_preemptions(s.platform, m.variant, s.cfg))
    except Exception:  # noqa: BLE001 - as in fails()
        return s


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
    """Fewest window preemptions, then the smallest choice at each.

    Aimed preemptions first; where more than one is left, the absolute ones
    they take get their own try: dropping an absolute preemption lets the
    ones after it land on other decisions (the run differs from there), a
    wider search than the aimed form's, where each stays on its decision."""
    if not s.cfg.preempt_dev:
        return _fewest_preemptions(m, s)
    cur = _fewest_preemptions(m, s)
    n = len(cur.cfg.preempt) + len(cur.cfg.preempt_dev)
    if n > 1:
        alt = _fewest_preemptions(m, _lowered(m, cur))
        if len(alt.cfg.preempt) + len(alt.cfg.preempt_dev) < n:
            cur = _aim(m, alt)
    return cur


def _fewest_preemptions(m: Minimiser, s: FuzzInput) -> FuzzInput:
    if s.cfg.preempt:
        base = s
        s = m.ddmin(list(s.cfg.preempt), lambda kept: with_cfg(base, preempt=tuple(kept)), s)
    if s.cfg.preempt_dev:
        base = s
        s = m.ddmin(list(s.cfg.preempt_dev),
                    lambda kept: with_cfg(base, preempt_dev=tuple(kept)), s)
    cur = s
    pre = list(cur.cfg.preempt)
    for i, (k, c) in enumerate(pre):
        if c != 0:
            trial = pre[:i] + [(k, 0)] + pre[i + 1:]
            cand = with_cfg(cur, preempt=tuple(trial))
            if m.fails(cand):
                pre, cur = trial, cand
    aimed = list(cur.cfg.preempt_dev)
    for i, (dev, j, c) in enumerate(aimed):
        if c != 0:
            trial_dev = aimed[:i] + [(dev, j, 0)] + aimed[i + 1:]
            cand = with_cfg(cur, preempt_dev=tuple(trial_dev))
            if m.fails(cand):
                aimed, cur = trial_dev, cand
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
    """Drop devices: the bulk drop's keep set once more, then delta debugging.

    Whole subtrees go together: the outermost nodes come first, and a
    candidate drops with each node its subtree (:func:`_closure`), so a
    chunk that holds a parent but not all of its children still gives a
    board to boot instead of a dangling one.  (Dropping an IOMMU's clients
    with it too, or putting the suppliers of what the bulk drop keeps last,
    cost more runs or left larger boards on the seed board and
    sdm845-db845c: such candidates stay invalid, and free.)  When the bulk
    drop needed what earlier reproducers kept (``Minimiser.learned``), the
    other nodes come first: the first large chunks are then mostly nodes
    that can go."""
    p = s.platform
    base = s

    def build(kept: list[str]) -> FuzzInput | None:
        q = _restrict(p, set(kept))
        return None if q is None else replace(base, platform=q, platform_ref=None)

    # Drop in two stages: first everything that is not an IOMMU, a client or
    # an ancestor of one in one go (usually the bulk of a board), then ddmin.
    relevant = _keep(m, s)
    units = _units(p)
    first = [u for u in units if u in relevant or u.startswith("extra:")]
    cand = build(first)
    cur = s
    if cand is not None and len(first) < len(units) and m.fails(cand):
        cur = base = cand
        p = cand.platform
        units = _units(p)
    if m.learned:
        units = [u for u in units if u not in m.learned] + [u for u in units if u in m.learned]
    return m.ddmin(units, build, cur, close=lambda kept: _closure(p, kept))


def _units(p: Board) -> list[str]:
    """A board's droppable units: its nodes but the root, outermost first,
    then its extra devices."""
    nodes = sorted((n.path for n in p.nodes if n.path != "/"), key=lambda path: path.count("/"))
    return nodes + [f"extra:{e.name}" for e in p.extra_devices]


def _closure(p: Board, kept: list[str]) -> list[str]:
    """``kept`` less the nodes and extra devices whose parent it leaves out."""
    keep = set(kept)
    changed = True
    while changed:
        changed = False
        for n in p.nodes:
            if n.path == "/" or n.path not in keep:
                continue
            parent = n.parent_path
            if parent is not None and parent != "/" and parent not in keep:
                keep.discard(n.path)
                changed = True
    for e in p.extra_devices:
        if e.parent is not None and e.parent != "/" and e.parent not in keep:
            keep.discard(f"extra:{e.name}")
    return [u for u in kept if u in keep]


def _bulk_devices(m: Minimiser, s: FuzzInput) -> FuzzInput:
    """Drop every device that is not an IOMMU, a client or an ancestor of one
    (nor named by the failing run: :func:`_keep`), in one run, before the
    passes that boot the scenario many times.  If that loses the title, keep
    also what the reproducers of earlier titles on the board kept
    (``RunCache.kept``: a firmware interface or a supplier every IOMMU of the
    board waits for), in one more run."""
    p = s.platform
    units = {n.path for n in p.nodes if n.path != "/"}
    extras = {f"extra:{e.name}" for e in p.extra_devices}
    keep = _keep(m, s) & units
    learned = m.cache.kept.get(p.name, set()) & units if m.cache is not None else set()
    for kept in (keep, keep | _with_ancestors(learned)):
        if kept == units:
            return s
        q = _restrict(p, kept | extras)
        if q is not None:
            cand = replace(s, platform=q, platform_ref=None)
            if m.fails(cand):
                m.learned = learned if kept != keep else set()
                return cand
        if learned <= keep:
            break
    return s


def _with_ancestors(paths: set[str]) -> set[str]:
    out: set[str] = set()
    for path in paths:
        _add_with_ancestors(out, path)
    out.discard("/")
    return out


def _keep(m: Minimiser, s: FuzzInput) -> set[str]:
    """What the bulk drop keeps: :func:`_relevant`, and what the failing run
    names besides -- the devices its aimed preemptions switch at (a race
    between two threads at a device that is no IOMMU client, a qos node's
    probe preempted under the IOMMU lock) and the finding's device."""
    p = s.platform
    keep = _relevant(p)
    named = [dev for dev, _, _ in s.cfg.preempt_dev]
    if m.finding is not None and m.finding.device is not None:
        named.append(m.finding.device)
    paths = {n.path for n in p.nodes}
    for dev in named:
        path = dev if dev in paths else _node_named(p, dev)
        if path is not None:
            _add_with_ancestors(keep, path)
    return keep


def _node_named(p: Board, name: str) -> str | None:
    """The node of the device ``name`` (``of_device_make_bus_id()``'s
    ``<unit address>.<node name>``), if one has that form."""
    for n in p.nodes:
        base = n.path.rsplit("/", 1)[-1]
        node, _, unit = base.partition("@")
        if unit and f"{unit.split(',')[0]}.{node}" == name:
            return n.path
    return None


def _add_with_ancestors(keep: set[str], path: str | None) -> None:
    while path is not None and path not in keep:
        keep.add(path)
        path = _parent(path)


def _relevant(p: Board) -> set[str]:
    """IOMMU providers, their clients, and every ancestor of those."""
    keep: set[str] = set()
    for n in p.nodes:
        if n.iommu_cells is not None or n.iommus or n.iommu_map:
            _add_with_ancestors(keep, n.path)
    for e in p.extra_devices:
        if e.parent:
            _add_with_ancestors(keep, e.parent)
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
