"""An ``explore`` campaign: every variant of a space x a corpus, on all cores, resumable.

The unit of work is one variant: a worker process fuzzes it over every board
with the in-process engine (each board's plain boot first, then a fixed
number of generated scenarios per board; the same scenarios for every
variant, from the campaign seed, so the ranking compares like with like),
minimises each new bug and stores its
reproducer under ``OUT/crashes/<variant>/``.  Minimised scenarios are shared
through ``OUT/minimised/`` (one per title), so a bug seen by many variants is
minimised once and re-checked in one run elsewhere.

Workers are processes (``multiprocessing``), recycled every few variants.
The parent appends each finished variant's result to ``OUT/state.jsonl``
(flushed and fsynced); a campaign killed at any point and restarted with the
same ``--out`` and parameters skips the variants already there and re-runs
the others deterministically, and since reproducers are written before a
variant's result line, no finding is lost.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from corpus.reaper import watch_parent
from fuzz.crashstore import CrashStore, StoreError, load_reproducer, platform_digest, tool_version
from fuzz.engines import hypothesis_engine, native
from fuzz.engines.session import Found, Session
from fuzz.gen import CorpusBoard, FuzzInput, GenContext
from harness.board import Board
from harness.boot import boot_config_from_json
from harness.findings import KINDS
from harness.variant import PRESETS, SITES, Variant, variant_from_json, variant_to_json
from mutators.ids import id_slug
from mutators.space import resolve, space

STATE = "state.jsonl"
CAMPAIGN = "campaign.json"
RECYCLE_EVERY = 8
DEFAULT_RUNS_PER_BOARD = 3
COUNT_KEYS = {"oops": "oops", "deadlock": "deadlock", "group": "group", "isolation": "isolation",
              "warning": "warn", "defer": "defer"}


class CampaignError(ValueError):
    """The output directory holds a different campaign (one line)."""


@dataclass
class ExploreRequest:
    """What ``probefuzz explore`` was asked to do."""

    base: str
    depth: int
    boards: list[CorpusBoard]
    out: Path
    runs_per_board: int = DEFAULT_RUNS_PER_BOARD
    time_per_variant: float | None = None
    jobs: int = 1
    seed: int = 0
    engine: str = "native"

    def identity(self) -> dict[str, Any]:
        """What must match for a restart to resume this campaign."""
        return {"tool": tool_version(), "sites": sorted(SITES),
                "base": self.base, "depth": self.depth, "runs_per_board": self.runs_per_board,
                "time_per_variant": self.time_per_variant, "seed": self.seed,
                "engine": self.engine,
                "boards": [[b.name, platform_digest(b.platform)] for b in self.boards]}


@dataclass
class Unit:
    """One variant to fuzz."""

    index: int
    id: str
    description: str
    size: int
    variant: dict[str, Any]


@dataclass
class UnitResult:
    """A fuzzed variant (one line of ``state.jsonl``)."""

    id: str
    index: int
    description: str
    size: int
    found: list[dict[str, Any]]
    executions: int
    elapsed: float
    coverage: int
    features: list[str] = field(default_factory=list)
    errors: int = 0

    @property
    def counts(self) -> dict[str, int]:
        c = {v: 0 for v in COUNT_KEYS.values()}
        for f in self.found:
            key = COUNT_KEYS.get(f["kind"])
            if key is not None:
                c[key] += max(1, len(f.get("boards", [])))
        return c


def variant_dirname(v: Variant | str, fingerprint: str) -> str:
    """The crash folder of a variant: its id, spelled as in ``variants`` and in
    its branch name, when the id names it (a preset or a variant-space id);
    for a variant JSON file, whose name is free text, a sanitised name plus
    the fingerprint."""
    name = v if isinstance(v, str) else v.name
    slug = id_slug(name)
    if slug == name and name.split("+", 1)[0] in PRESETS:
        return name
    return f"{slug}-{fingerprint}"


def units_for(base: str, depth: int) -> list[Unit]:
    """The base itself and every variant within ``depth`` mutations of it."""
    root = resolve(base)
    mutants = [root, *space(base, depth)] if depth > 0 else [root]
    return [Unit(i, m.id, m.description, len(m.mutations), variant_to_json(m.variant))
            for i, m in enumerate(mutants)]


# -- the worker side -----------------------------------------------------------------

_W: dict[str, Any] = {}


def _worker_init(boards: list[tuple[str, dict[str, Any]]], cfg: dict[str, Any]) -> None:
    watch_parent()  # a SIGKILLed explore takes its workers with it
    _W["boards"] = [CorpusBoard(name, Board.from_json(pj, name)) for name, pj in boards]
    _W["cfg"] = cfg
    _W["known_files"] = {}


def _known(minimised: Path) -> dict[str, FuzzInput]:
    """Minimised scenarios by title from ``OUT/minimised`` (cached per worker)."""
    cache: dict[str, tuple[str, FuzzInput]] = _W.setdefault("known_files", {})
    out: dict[str, FuzzInput] = {}
    for path in CrashStore(minimised).paths():
        key = str(path)
        if key not in cache:
            try:
                rep = CrashStore(minimised).root / path.name

                r = load_reproducer(rep)
                s = FuzzInput(board=r.platform().name, platform=r.platform(),
                             cfg=boot_config_from_json(r.config, list(r.schedule)))
                cache[key] = (r.title, s)
            except (StoreError, ValueError, TypeError):
                continue
        title, s = cache[key]
        out[title] = s
    return out


def run_unit(u: Unit) -> dict[str, Any]:
    """Fuzz one variant (in a worker); returns its :class:`UnitResult` as JSON."""
    cfg = _W["cfg"]
    boards: list[CorpusBoard] = _W["boards"]
    out = Path(cfg["out"])
    v = variant_from_json(u.variant, u.id)
    v = Variant(u.id, u.description, v.values)
    store = out / "crashes" / variant_dirname(u.id, v.fingerprint())
    minimised = out / "minimised"
    session = Session(v, cfg["engine"], store, known=_known(minimised))
    ctx = GenContext(boards)
    runs = None if cfg["time_per_variant"] else cfg["runs_per_board"] * len(boards)
    seconds = cfg["time_per_variant"]
    if cfg["engine"] == "hypothesis":
        st = hypothesis_engine.fuzz_loop(session, ctx, runs=runs, seconds=seconds, seed=cfg["seed"])
    else:
        # The same scenarios for every variant: a fair comparison for the ranking.
        st = native.fuzz_loop(session, ctx, runs=runs, seconds=seconds, seed=cfg["seed"], guided=False)
    mstore = CrashStore(minimised)
    for title, s in session.known.items():
        f = next((x for x in session.found.values() if x.title == title), None)
        if f is None or mstore.find_title(title):
            continue
        mstore.save(f.finding, platform=s.platform, variant=v, schedule=list(s.cfg.schedule),
                    config=s.config_json())
    found = [_found_json(f, out) for f in session.found.values()]
    res = UnitResult(u.id, u.index, u.description, u.size, found, st.executions, st.elapsed,
                     st.coverage, sorted(session.features), st.errors)
    return asdict(res)


def _found_json(f: Found, out: Path) -> dict[str, Any]:
    d = f.to_json()
    if d.get("reproducer"):
        try:
            d["reproducer"] = str(Path(d["reproducer"]).resolve().relative_to(out.resolve()))
        except ValueError:
            pass
    return d


# -- the parent side -------------------------------------------------------------------


@dataclass
class CampaignResult:
    """Everything the ranking and the reports need."""

    request: ExploreRequest
    results: list[UnitResult]
    elapsed: float
    coverage_timeline: list[tuple[float, int]]
    resumed: int = 0


def _load_state(out: Path) -> list[UnitResult]:
    path = out / STATE
    done: dict[str, UnitResult] = {}
    if not path.exists():
        return []
    for line in path.read_text(errors="replace").splitlines():
        try:
            d = json.loads(line)
            r = UnitResult(**d)
        except (ValueError, TypeError):
            continue  # a line cut short by a kill
        done[r.id] = r
    return list(done.values())


def _check_campaign(req: ExploreRequest) -> None:
    req.out.mkdir(parents=True, exist_ok=True)
    path = req.out / CAMPAIGN
    ident = req.identity()
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = None
        if old != ident:
            raise CampaignError(f"{req.out} holds a different explore campaign (other base, depth, "
                                "budget, seed or corpus); use another --out or remove it")
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ident, indent=1) + "\n")
    os.replace(tmp, path)


def _append(out: Path, res: dict[str, Any]) -> None:
    with open(out / STATE, "a") as fh:
        fh.write(json.dumps(res, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def run_campaign(req: ExploreRequest, progress: bool = True,
                 on_result: Callable[[UnitResult], None] | None = None) -> CampaignResult:
    """Fuzz every pending variant; returns all results (resumed ones included)."""
    _check_campaign(req)
    units = units_for(req.base, req.depth)
    done = {r.id: r for r in _load_state(req.out)}
    resumed = len(done)
    pending = [u for u in units if u.id not in done]
    cfg = {"out": str(req.out), "runs_per_board": req.runs_per_board,
           "time_per_variant": req.time_per_variant, "seed": req.seed, "engine": req.engine}
    boards = [(b.name, b.platform.to_json()) for b in req.boards]
    t0 = time.monotonic()
    union: set[str] = set()
    timeline: list[tuple[float, int]] = [(0.0, 0)]
    for r in done.values():
        union |= set(r.features)
    if union:
        timeline.append((0.0, len(union)))
    bar = _bar(len(units), resumed, progress)

    def take(d: dict[str, Any]) -> None:
        _append(req.out, d)
        r = UnitResult(**d)
        done[r.id] = r
        union.update(r.features)
        timeline.append((time.monotonic() - t0, len(union)))
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{sum(len(x.found) for x in done.values())} findings", refresh=False)
        if on_result is not None:
            on_result(r)

    try:
        if req.jobs <= 1 or len(pending) <= 1:
            _worker_init(boards, cfg)
            for u in pending:
                take(run_unit(u))
        else:
            ctx = mp.get_context("fork") if sys.platform == "linux" else mp.get_context()
            with ctx.Pool(req.jobs, _worker_init, (boards, cfg), maxtasksperchild=RECYCLE_EVERY) as pool:
                for d in pool.imap_unordered(run_unit, pending, chunksize=1):
                    take(d)
    finally:
        if bar is not None:
            bar.close()
    order = {u.id: u.index for u in units}
    results = sorted((r for r in done.values() if r.id in order), key=lambda r: order[r.id])
    return CampaignResult(req, results, time.monotonic() - t0, timeline, resumed)


def _bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None

    return tqdm(total=total, initial=initial, unit="variant", file=sys.stderr, dynamic_ncols=True,
                disable=None)


def known_kinds() -> tuple[str, ...]:
    return KINDS
