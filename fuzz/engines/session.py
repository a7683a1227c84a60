"""What every engine does with a run: deduplicate, minimise, store, count.

An engine generates scenarios its own way and hands each run to
:meth:`Session.observe`.  The session deduplicates the findings by title
(:mod:`fuzz.dedup`), and for each new bug minimises the scenario
(:mod:`fuzz.minimise`) and saves it as a reproducer in the crash store
(:mod:`fuzz.crashstore`), which ``probefuzz repro FILE`` replays.  It also keeps
the engine statistics: executions, executions per second, time to the first
finding, and the coverage curve (features for the in-process engines, see
:mod:`fuzz.features`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fuzz.crashstore import CrashStore
from fuzz.dedup import Deduper
from fuzz.features import features
from fuzz.gen import FuzzInput
from fuzz.minimise import DEFAULT_BUDGET, first_match, minimise
from fuzz.runcache import RunCache
from harness.findings import Finding
from harness.run import Result, run_scenario
from harness.schedules import lower_preemptions
from harness.variant import Variant

#: seconds between progress reports (``fuzz`` on a terminal)
PROGRESS_EVERY = 5.0


@dataclass
class Found:
    """A deduplicated finding with its (minimised) reproducer."""

    title: str
    kind: str
    finding: dict[str, Any]
    board: str
    scenario: str  # human description of the minimised scenario
    at: float  # seconds from the start of fuzzing to the first hit
    execution: int  # 1-based index of the run that hit it first
    reproducer: str | None = None
    minimise_runs: int = 0
    devices: int = 0
    hits: int = 1
    boards: list[str] = field(default_factory=list)
    # boards whose default boot (FuzzInput.plain) shows it: it happens on every
    # boot of those boards, not only under some schedule or configuration
    plain_boards: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "kind": self.kind, "board": self.board,
                "boards": sorted(set(self.boards)), "hits": self.hits,
                "plain_boards": sorted(set(self.plain_boards)),
                "first_seconds": round(self.at, 4), "first_execution": self.execution,
                "scenario": self.scenario, "reproducer": self.reproducer,
                "minimise_runs": self.minimise_runs, "devices": self.devices,
                "finding": self.finding}


@dataclass
class EngineStats:
    """Engine statistics (the ``engine`` object of ``fuzz --json``)."""

    engine: str
    executions: int = 0
    elapsed: float = 0.0
    time_to_first_finding: float | None = None
    coverage: int = 0
    coverage_timeline: list[tuple[float, int]] = field(default_factory=list)
    errors: int = 0
    # the boots and seconds of minimising new findings (inside ``elapsed``:
    # the session minimises each new title when it is found)
    minimise_runs: int = 0
    minimise_boots: int = 0  # the runs the minimiser's cache did not answer
    minimise_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exec_per_s(self) -> float:
        """Fuzzing executions per second of the whole run (minimising included)."""
        return self.executions / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        d = {"name": self.engine, "executions": self.executions,
             "elapsed_seconds": round(self.elapsed, 3),
             "executions_per_second": round(self.exec_per_s, 1),
             "time_to_first_finding": (None if self.time_to_first_finding is None
                                       else round(self.time_to_first_finding, 4)),
             "coverage": self.coverage,
             "coverage_timeline": [[round(t, 3), c] for t, c in self.coverage_timeline],
             "harness_errors": self.errors}
        if self.minimise_runs:
            # libFuzzer's split (fuzzing, then minimising) beside the whole:
            # executions_per_second above stays fuzzing executions / all seconds
            fuzz_s = max(self.elapsed - self.minimise_seconds, 0.0)
            boots = self.executions + self.minimise_boots
            d.update({"minimise_runs": self.minimise_runs, "minimise_boots": self.minimise_boots,
                      "minimise_seconds": round(self.minimise_seconds, 3),
                      "fuzzing_seconds": round(fuzz_s, 3),
                      "fuzzing_executions_per_second": round(self.executions / fuzz_s, 1) if fuzz_s else 0.0,
                      "boots": boots,
                      "boots_per_second": round(boots / self.elapsed, 1) if self.elapsed else 0.0})
        d.update(self.extra)
        return d


class Session:
    """One variant's fuzzing state, shared by the engines."""

    def __init__(self, variant: Variant, engine: str, store: Path | None = None, *,
                 minimise_findings: bool = True, minimise_budget: int = DEFAULT_BUDGET,
                 known: dict[str, FuzzInput] | None = None,
                 on_found: Callable[[Found], None] | None = None,
                 shrinker: Callable[[str], FuzzInput | None] | None = None) -> None:
        self.variant = variant
        self.store = CrashStore(store) if store is not None else None
        self.minimise_findings = minimise_findings
        self.minimise_budget = minimise_budget
        self.known = dict(known or {})  # title -> minimised scenario from elsewhere
        self.on_found = on_found
        # An engine's own shrinker (title -> simpler scenario), run before minimising.
        self.shrinker = shrinker
        self.dedup = Deduper()
        # the minimiser's runs, shared between the titles of one run
        self.minimise_cache = RunCache(variant)
        self.found: dict[str, Found] = {}
        self.features: set[str] = set()
        self.stats = EngineStats(engine)
        self.t0 = time.monotonic()
        self._last_cov = -1.0
        # Engines that want more behaviour features (atheris): record each
        # run's scheduling decisions, add features from ``extra_features()``;
        # the last run's features are kept for them in ``last_features``.
        self.record = False
        self.extra_features: Callable[[], set[str]] | None = None
        self.last_features: set[str] = set()
        # progress(stats, findings) every PROGRESS_EVERY seconds of fuzzing, if set
        self.progress: Callable[[EngineStats, int], None] | None = None
        self._next_progress = PROGRESS_EVERY

    def start(self) -> None:
        """Reset the clock (call when the engine's fuzzing loop begins)."""
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def run(self, s: FuzzInput) -> Result | None:
        """Run ``s`` under the session's variant and observe it (None: harness error)."""
        try:
            r = run_scenario(s.platform, self.variant, s.cfg, record=self.record)
        except Exception:  # noqa: BLE001 - a model bug must not stop a campaign; it is counted
            self.stats.executions += 1
            self.stats.errors += 1
            if self.extra_features is not None:
                self.extra_features()  # drop what the failed run recorded
            return None
        self.observe(s, r)
        return r

    def observe(self, s: FuzzInput, r: Result) -> bool:
        """Account one run; returns whether it showed new coverage."""
        st = self.stats
        st.executions += 1
        feats = features(r)
        if self.extra_features is not None:
            feats |= self.extra_features()
        self.last_features = feats
        new_cov = not feats <= self.features
        if new_cov:
            self.features |= feats
            st.coverage = len(self.features)
            t = self.now()
            if t - self._last_cov >= 0.05 or not st.coverage_timeline:
                st.coverage_timeline.append((t, st.coverage))
                self._last_cov = t
        for f in r.findings:
            bucket, new = self.dedup.add(f)
            if not new:
                old = self.found.get(bucket.title)
                if old is not None:
                    old.hits += 1
                    old.boards.append(s.board)
                    if s.plain:
                        old.plain_boards.append(s.board)
                continue
            self._new_bug(s, f)
        if self.progress is not None:
            t = self.now()
            if t >= self._next_progress:
                self._next_progress = t + PROGRESS_EVERY
                st.elapsed = t
                self.progress(st, len(self.found))
        return new_cov

    def _new_bug(self, s: FuzzInput, f: Finding) -> None:
        at = self.now()
        if self.stats.time_to_first_finding is None:
            self.stats.time_to_first_finding = at
        found = Found(title=f.title, kind=f.kind, finding=f.to_json(), board=s.board,
                      scenario=s.describe(), at=at, execution=self.stats.executions,
                      boards=[s.board], plain_boards=[s.board] if s.plain else [])
        best, finding = s, f
        t_min = time.monotonic()
        hits0 = self.minimise_cache.hits
        reused = self.known.get(f.title)
        if reused is not None:
            try:
                rr = run_scenario(reused.platform, self.variant, reused.cfg)
                hit = first_match(rr, f.title)
            except Exception:  # noqa: BLE001
                hit = None
            if hit is not None:
                best, finding = reused, hit
                found.minimise_runs = 1
                reused = None
        if reused is not None or (best is s and self.minimise_findings):
            start = s
            if self.shrinker is not None:
                shrunk = self.shrinker(f.title)
                if shrunk is not None:
                    start = shrunk
            # device-aimed preemptions as the absolute ones they took: the
            # minimiser drops and re-anchors those
            start = replace(start, cfg=lower_preemptions(start.platform, self.variant, start.cfg))
            try:
                m = minimise(start, self.variant, f.title, self.minimise_budget, self.minimise_cache)
                best, finding = m.scenario, m.finding
                found.minimise_runs += m.runs
            except ValueError:
                pass
        self.stats.minimise_runs += found.minimise_runs
        self.stats.minimise_boots += found.minimise_runs - (self.minimise_cache.hits - hits0)
        self.stats.minimise_seconds += time.monotonic() - t_min
        found.scenario = best.describe()
        found.devices = sum(1 for n in best.platform.nodes if n.compatible and n.path != "/") \
            + len(best.platform.extra_devices)
        found.finding = finding.to_json()
        if self.store is not None:
            res = self.store.save(finding, platform=best.platform, variant=self.variant,
                                  schedule=list(best.cfg.schedule), config=best.config_json())
            found.reproducer = str(res.path)
        self.found[self.dedup.canonical(f.title)] = found
        self.known.setdefault(f.title, best)
        if self.on_found is not None:
            self.on_found(found)

    def finish(self) -> EngineStats:
        self.stats.elapsed = self.now()
        if self.stats.coverage_timeline and self.stats.coverage_timeline[-1][1] != self.stats.coverage:
            self.stats.coverage_timeline.append((self.stats.elapsed, self.stats.coverage))
        return self.stats
