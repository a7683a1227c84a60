"""An ``explore`` campaign: every variant of a space x a corpus, on a cluster, resumable.

The campaign is cut into work units (:class:`Part`): one variant on a slice
of the corpus and a range of each board's scenarios.  FuzzInput ``j`` of a
board is its plain boot for ``j = 0`` and otherwise generated from bytes
drawn from ``(seed, board name, j)`` alone, so every variant meets the same
scenarios (a fair ranking) and the findings do not depend on how the
campaign was cut, on which worker ran what, or on a resume.

With a run budget and the native engine (the default) the campaign has two
phases.  First every unit fuzzes, without minimising: a finding comes back
with its *witness*, the scenario ``(board, j)`` that showed it first.  A
variant's run that is the base's run (no read of a site it changes would
have gone another way: :mod:`fuzz.baseruns`) is taken from the base's.  Then each
distinct title is minimised once per campaign (:class:`TitleTask`): from its
first witness (in unit order, so the base's when the base meets it) under
that unit's variant, and the reproducer is replayed under every other
variant that met the title -- at most one deterministic boot of a small
scenario, none where the reproducer's recorded run says it is the same.  A
variant under which no reproducer of the title replays has its own witness
minimised, and that reproducer is tried for the next variants too.  So every
finding a variant is charged with has a reproducer that replays under that
variant, and the reproducers do not depend on the workers' timing.  A time
budget or the hypothesis engine fuzzes each variant as one unit that
minimises its own findings (reusing what ``OUT/minimised`` holds).

The client writes the reproducers under ``OUT/crashes/<variant>/`` and the
first reproducer of each title under ``OUT/minimised/``.  Units run on Dask
(:mod:`fuzz.cluster`): a LocalCluster of ``--jobs`` processes, or the
cluster behind ``--scheduler``; the boards and variant definitions go to
each worker once.  The client appends each finished unit's result to
``OUT/state.jsonl`` and each minimisation's to ``OUT/minimise.jsonl``
(flushed and fsynced) after writing its reproducers; a campaign killed at
any point and restarted with the same ``--out`` and parameters skips what
is there and re-runs the rest deterministically, so no finding is lost.  A
dead worker's units are re-run elsewhere by the scheduler.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fuzz.baseruns import BaseRun, alternatives, differing_sites, run_recording, shared
from fuzz.cluster import RunFigures, choose, executor
from fuzz.crashstore import (
    CrashStore,
    SaveResult,
    StoreError,
    atomic_write_json,
    load_reproducer,
    make_reproducer,
    platform_digest,
    title_key,
    tool_version,
)
from fuzz.engines import hypothesis_engine, native
from fuzz.engines.session import Found, Session
from fuzz.gen import CorpusBoard, FuzzInput, GenContext, from_bytes
from fuzz.minimise import DEFAULT_BUDGET, first_match_in, minimise
from fuzz.runcache import RunCache
from harness.boot import boot_config_from_json
from harness.findings import KINDS, Finding
from harness.variant import (
    PRESETS,
    SITES,
    Variant,
    make_variant,
    tree_facts,
    variant_from_json,
    variant_to_json,
)
from mutators.facts import TreeProfile, tree_presets
from mutators.ids import id_slug
from mutators.space import Mutant, parse_id, resolve, space

STATE = "state.jsonl"
MIN_STATE = "minimise.jsonl"  # the minimisations' results (phase two)
CAMPAIGN = "campaign.json"
LAYOUT = "parts-1"  # how a campaign is cut into units; part of its identity
DEFAULT_RUNS_PER_BOARD = 3
# Runs per unit: large enough that a unit's few milliseconds of scheduling and
# transfer vanish against it, small enough to spread a campaign over workers.
PART_RUNS = 256
MAX_LEN = 64  # bytes of a generated input (fuzz.engines.native's bound)
KEPT_INPUTS = 256  # generated scenarios (and the base's runs of them) a worker keeps for the next variants
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
    scheduler: str | None = None  # a running `dask scheduler`; None: a LocalCluster of `jobs`
    executor: str | None = None  # dask, fork or serial (None: dask beyond one job)
    part_runs: int = PART_RUNS
    also: tuple[str, ...] = ()  # further variants ranked beside the space (e.g. V614)
    # --tree: the profile whose facts the space is built on (None: the presets)
    tree: TreeProfile | None = None

    def identity(self) -> dict[str, Any]:
        """What must match for a restart to resume this campaign (not where it runs)."""
        ident = {"tool": tool_version(), "sites": sorted(SITES), "layout": LAYOUT,
                 "base": self.base, "depth": self.depth, "runs_per_board": self.runs_per_board,
                 "time_per_variant": self.time_per_variant, "seed": self.seed,
                 "engine": self.engine, "part_runs": self.part_runs, "also": list(self.also),
                 "boards": [[b.name, platform_digest(b.platform)] for b in self.boards]}
        if self.tree is not None:  # the tree's facts (its profile's cache key), not its path
            ident["tree"] = self.tree.key
        return ident

    @property
    def reproducible(self) -> bool:
        """A run budget with the native engine: units follow the common scenario sequence."""
        return self.time_per_variant is None and self.engine == "native"


@dataclass
class Unit:
    """One variant to fuzz."""

    index: int
    id: str
    description: str
    size: int
    variant: dict[str, Any]


@dataclass(frozen=True)
class Part:
    """A work unit: variant ``unit`` on boards ``[b0, b1)``, each board's scenarios ``[r0, r1)``."""

    unit: int
    b0: int
    b1: int
    r0: int
    r1: int

    @property
    def key(self) -> str:
        return f"{self.unit}:{self.b0}-{self.b1}:{self.r0}-{self.r1}"


@dataclass
class UnitResult:
    """A fuzzed variant: the merge of its parts (what the ranking reads)."""

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


def units_for(base: str, depth: int, also: tuple[str, ...] = (),
              tree: TreeProfile | None = None) -> list[Unit]:
    """The base itself, every variant within ``depth`` mutations of it, and ``also``.

    With ``tree`` the ids name the tree's presets (:func:`mutators.facts.tree_presets`):
    ``NEXT`` is the series over the tree's drivers and registration levels,
    and the space is built from the tree's site values around it."""
    presets = tree_presets(tree) if tree is not None else None
    root = resolve(base, presets)
    if presets is not None and parse_id(base)[0] not in presets:
        # a variant file: its own site values, on the tree's levels and builds
        v = root.variant
        root = Mutant(root.id, root.description,
                      make_variant(v.name, v.description, v.as_dict(), *tree_facts(presets["TREE"])),
                      ())
    mutants = [root, *space(root, depth)] if depth > 0 else [root]
    ids = {m.id for m in mutants}
    mutants += [m for m in (resolve(a, presets) for a in also) if m.id not in ids]
    return [Unit(i, m.id, m.description, len(m.mutations), variant_to_json(m.variant))
            for i, m in enumerate(mutants)]


def parts_for(req: ExploreRequest, units: list[Unit]) -> list[Part]:
    """Cut the campaign into work units of about ``req.part_runs`` runs each.

    A time budget or the hypothesis engine fuzzes a variant as a whole (one
    unit per variant, every board)."""
    nb = len(req.boards)
    if not req.reproducible:
        return [Part(u.index, 0, nb, 0, req.runs_per_board) for u in units]
    rpb = req.runs_per_board
    if rpb >= req.part_runs:  # a board's scenarios in several seed ranges
        ranges = [(r, min(r + req.part_runs, rpb)) for r in range(0, rpb, req.part_runs)]
        return [Part(u.index, b, b + 1, r0, r1) for u in units for b in range(nb) for r0, r1 in ranges]
    per = max(1, req.part_runs // rpb)
    # Equal slices: 13 boards at 3 runs make one unit, not one of 13 and a remainder.
    nslices = -(-nb // per)
    size = -(-nb // nslices)
    return [Part(u.index, b, min(b + size, nb), 0, rpb) for u in units for b in range(0, nb, size)]


def common_input(seed: int, board: str, j: int) -> bytes:
    """The bytes of scenario ``j`` of ``board``: its plain boot for ``j = 0``,
    otherwise random bytes drawn from ``(seed, board, j)`` only."""
    if j == 0:
        return bytes([0])
    h = hashlib.sha256(f"{seed}:common:{board}:{j}".encode()).digest()
    rng = random.Random(int.from_bytes(h[:8], "big"))
    return rng.randbytes(rng.randint(1, MAX_LEN))


# -- the worker side -----------------------------------------------------------------


class MemoryStore(CrashStore):
    """A crash store that keeps reproducers in memory: the worker may be on
    another host, so the client writes them into ``OUT``."""

    def __init__(self) -> None:
        super().__init__(Path("."))
        self.files: dict[str, dict[str, Any]] = {}

    def save(self, finding: Any, *, platform: Any, variant: Any, schedule: list[int],
             config: dict[str, Any] | None = None, platform_ref: Any = None) -> SaveResult:
        rep = make_reproducer(finding, platform=platform, variant=variant, schedule=schedule,
                              config=config, platform_ref=platform_ref)
        data = rep.to_json()
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        name = f"{title_key(rep.title)}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.json"
        self.files[name] = data
        return SaveResult("new", Path(name))


def setup_worker(ctx: dict[str, Any]) -> dict[str, Any]:
    """A worker's state for one campaign, built once from what the client shipped."""
    variants = {}
    for u in ctx["units"]:
        v = variant_from_json(u.variant, u.id)
        # the tree's registration levels travel with the values (explore --tree)
        variants[u.index] = Variant(u.id, u.description, v.values, v.initcalls, v.builds)
    return {"boards": ctx["boards"], "units": {u.index: u for u in ctx["units"]},
            "variants": variants, "cfg": ctx["cfg"], "known": {}, "known_files": {},
            # every site value of the campaign, evaluated beside the recorded runs' own
            "alternatives": alternatives(list(variants.values()))}


def _known(st: dict[str, Any], minimised: Path) -> dict[str, FuzzInput]:
    """Minimised scenarios by title: this worker's own, and ``OUT/minimised`` when
    the worker shares the client's file system (cached per worker)."""
    out: dict[str, FuzzInput] = dict(st["known"])
    if st["cfg"]["host"] != socket.gethostname():
        return out
    cache: dict[str, tuple[str, FuzzInput]] = st["known_files"]
    for path in CrashStore(minimised).paths():
        key = str(path)
        if key not in cache:
            try:
                r = load_reproducer(path)
                s = FuzzInput(board=r.platform().name, platform=r.platform(),
                             cfg=boot_config_from_json(r.config, list(r.schedule)))
                cache[key] = (r.title, s)
            except (StoreError, ValueError, TypeError):
                continue
        title, s = cache[key]
        out.setdefault(title, s)
    return out


def scenario(st: dict[str, Any], i: int, j: int) -> FuzzInput:
    """Common scenario ``j`` of board ``i`` (:func:`common_input`).

    Every variant meets the same scenarios: a worker generates each once and
    keeps it, and a kept (mutated) board's unflattened tree is reused by its
    next boot (harness.of.node.of_tree_get)."""
    inputs: dict[tuple[int, int], FuzzInput] = st.setdefault("inputs", {})
    s = inputs.get((i, j))
    if s is None:
        b: CorpusBoard = st["boards"][i]
        s = from_bytes(common_input(st["cfg"]["seed"], b.name, j), GenContext([b]))
        if len(inputs) < KEPT_INPUTS:
            inputs[i, j] = s
    return s


def _base_run(st: dict[str, Any], i: int, j: int, s: FuzzInput) -> BaseRun | None:
    """The base's (unit 0's) run of scenario ``(i, j)``, booted once per worker
    while there is room to keep it (None: not kept, and no room)."""
    runs: dict[tuple[int, int], BaseRun] = st.setdefault("base_runs", {})
    run = runs.get((i, j))
    if run is None and len(runs) < KEPT_INPUTS:
        run = runs[i, j] = run_recording(s, st["variants"][0], st["alternatives"])
    return run


def _diff(st: dict[str, Any], unit: int) -> frozenset[str] | None:
    diffs: dict[int, frozenset[str] | None] = st.setdefault("diffs", {})
    if unit not in diffs:
        diffs[unit] = differing_sites(st["variants"][0], st["variants"][unit])
    return diffs[unit]


def run_part(st: dict[str, Any], part: Part) -> dict[str, Any]:
    """Fuzz one work unit (in a worker): its state line plus ``files``, the
    reproducers by path relative to ``OUT`` (none with a run budget: its
    findings carry their ``witness``, minimised later by :func:`run_titles`)."""
    cfg = st["cfg"]
    u: Unit = st["units"][part.unit]
    v: Variant = st["variants"][part.unit]
    boards: list[CorpusBoard] = st["boards"][part.b0:part.b1]
    out = Path(cfg["out"])
    mem = MemoryStore()
    witness: dict[str, list[int]] = {}
    if cfg["reproducible"]:
        session = Session(v, cfg["engine"], None, minimise_findings=False)
        here = [0, 0]

        def met(f: Found) -> None:
            witness.setdefault(f.title, list(here))

        session.on_found = met
        session.start()
        diff = _diff(st, part.unit)
        for i in range(part.b0, part.b1):
            for j in range(part.r0, part.r1):
                here[:] = i, j
                s = scenario(st, i, j)
                if part.unit == 0 or diff is not None:
                    base = _base_run(st, i, j, s)
                    r = None if base is None else shared(base, v, frozenset() if part.unit == 0 else diff)
                    if r is not None:
                        session.observe(s, r)
                        continue
                session.run(s)
        stats = session.finish()
    else:
        session = Session(v, cfg["engine"], None, known=_known(st, out / "minimised"))
        session.store = mem
        ctx = GenContext(boards)
        runs = None if cfg["time_per_variant"] else cfg["runs_per_board"] * len(boards)
        seconds = cfg["time_per_variant"]
        if cfg["engine"] == "hypothesis":
            stats = hypothesis_engine.fuzz_loop(session, ctx, runs=runs, seconds=seconds, seed=cfg["seed"])
        else:
            stats = native.fuzz_loop(session, ctx, runs=runs, seconds=seconds, seed=cfg["seed"],
                                     guided=False)
        for title, s in session.known.items():
            st["known"].setdefault(title, s)
    vdir = variant_dirname(u.id, v.fingerprint())
    found, files = [], {}
    for f in session.found.values():
        d = f.to_json()
        if f.reproducer:
            rel = f"crashes/{vdir}/{f.reproducer}"
            files[rel] = mem.files[f.reproducer]
            d["reproducer"] = rel
        if f.title in witness:
            i, j = d["witness"] = witness[f.title]
            # (its description waits for the minimised one: an unminimised
            # schedule may be a pattern repeated to 24,000 entries)
            d["scenario"] = f"{st['boards'][i].name}: common scenario {j} of seed {cfg['seed']}"
        found.append(d)
    return {"part": part.key, "id": u.id, "index": u.index, "found": found,
            "executions": stats.executions, "elapsed": round(stats.elapsed, 4),
            "features": sorted(session.features), "errors": stats.errors, "files": files}


@dataclass(frozen=True)
class TitleTask:
    """Minimise ``titles``, first shown together by scenario ``(board, j)`` of
    variant ``unit``, then give each ``(title, unit, board, j)`` of ``others``
    (every other variant that met one of them, with its own witness) a
    reproducer that replays under that variant."""

    key: str
    unit: int
    board: int
    j: int
    titles: tuple[str, ...]
    others: tuple[tuple[str, int, int, int], ...]


def title_tasks(units: list[Unit], parts_of: dict[int, list[Part]],
                done: dict[str, dict[str, Any]]) -> list[TitleTask]:
    """The minimisations a fuzzed campaign needs, from its units' results: each
    title's first witness in unit order (the base's first), grouped by witness."""
    met: dict[str, list[tuple[int, int, int]]] = {}
    for u in units:
        seen: set[str] = set()
        for p in parts_of.get(u.index, []):
            for f in done[p.key]["found"]:
                if f["title"] in seen or "witness" not in f:
                    continue
                seen.add(f["title"])
                i, j = f["witness"]
                met.setdefault(f["title"], []).append((u.index, i, j))
    groups: dict[tuple[int, int, int], list[str]] = {}
    for title, where in met.items():
        groups.setdefault(where[0], []).append(title)
    tasks = []
    for (unit, i, j), titles in groups.items():
        others = tuple((t, *w) for t in titles for w in met[t][1:])
        tasks.append(TitleTask(f"{unit}:{i}:{j}", unit, i, j, tuple(titles), others))
    # the largest first: the workers start on them while the small ones fill in
    return sorted(tasks, key=lambda t: -(len(t.titles) + len(t.others)))


def _found_fields(s: FuzzInput, finding: Finding, runs: int) -> dict[str, Any]:
    devices = sum(1 for n in s.platform.nodes if n.compatible and n.path != "/") \
        + len(s.platform.extra_devices)
    return {"finding": finding.to_json(), "scenario": s.describe(), "devices": devices,
            "minimise_runs": runs}


def run_titles(st: dict[str, Any], task: TitleTask) -> dict[str, Any]:
    """Minimise a task's titles once and give every variant that met them a
    reproducer that replays under it (in a worker): its state line plus ``files``.

    The variants' runs are peers (:class:`fuzz.runcache.RunCache`): replaying
    a reproducer under a variant whose changed sites its run never read, or
    minimising a witness along candidates another variant booted without
    reading them, costs no boot."""
    t0 = time.monotonic()
    peers: list[RunCache] = []
    caches: dict[int, RunCache] = {}  # by unit: its runs in this task
    # each title's reproducers so far, oldest first, with a run of each under
    # the variant it was minimised for that evaluated the campaign's other
    # site values beside it: a replay under a variant that would not have
    # gone another way anywhere is that run (fuzz.baseruns)
    pool: dict[str, list[tuple[FuzzInput, BaseRun]]] = {}
    entries: list[dict[str, Any]] = []
    files: dict[str, dict[str, Any]] = {}
    extra = [0, 0]  # the pool's recorded boots, replays taken from them

    def cache_of(unit: int) -> RunCache:
        c = caches.get(unit)
        if c is None:
            # (no alternatives evaluated beside these runs: that doubles a boot's
            # cost, and a minimisation's candidates are mostly one variant's)
            c = caches[unit] = RunCache(st["variants"][unit], peers=peers)
            peers.append(c)
        return c

    def replay(cand: FuzzInput, run: BaseRun, v: Variant, cache: RunCache) -> list[Finding] | None:
        r = shared(run, v, differing_sites(run.variant, v))
        if r is not None:
            extra[1] += 1
            return r.findings
        return cache.findings(cand)

    def reproduce(title: str, unit: int, i: int, j: int) -> None:
        v: Variant = st["variants"][unit]
        cache = cache_of(unit)
        best: FuzzInput | None = None
        finding: Finding | None = None
        runs = 0
        for cand, run in pool.get(title, []):
            runs += 1
            found = replay(cand, run, v, cache)
            finding = None if found is None else first_match_in(found, title)
            if finding is not None:
                best = cand
                break
        if best is None:  # no reproducer of the title shows it under v: minimise v's witness
            s = scenario(st, i, j)
            try:
                m = minimise(s, v, title, DEFAULT_BUDGET, cache)
                best, finding = m.scenario, m.finding
                runs += m.runs
            except ValueError:  # cannot happen with a deterministic model; keep the witness
                runs += 1
                found = cache.findings(s)
                best, finding = s, None if found is None else first_match_in(found, title)
            if finding is None:
                return
            extra[0] += 1
            pool.setdefault(title, []).append((best, run_recording(best, v, st["alternatives"])))
        assert finding is not None
        u: Unit = st["units"][unit]
        mem = MemoryStore()
        saved = mem.save(finding, platform=best.platform, variant=v, schedule=list(best.cfg.schedule),
                         config=best.config_json())
        rel = f"crashes/{variant_dirname(u.id, v.fingerprint())}/{saved.path}"
        files[rel] = mem.files[str(saved.path)]
        entries.append(dict(_found_fields(best, finding, runs), unit=unit, title=title, reproducer=rel))

    for title in task.titles:
        reproduce(title, task.unit, task.board, task.j)
    for title, unit, i, j in task.others:
        reproduce(title, unit, i, j)
    return {"task": task.key, "entries": entries,
            "boots": sum(c.misses for c in peers) + extra[0],
            "shared": sum(c.shared for c in peers) + extra[1],
            "elapsed": round(time.monotonic() - t0, 4), "files": files}


# -- the client side -------------------------------------------------------------------


@dataclass
class CampaignResult:
    """Everything the ranking and the reports need."""

    request: ExploreRequest
    results: list[UnitResult]
    elapsed: float
    coverage_timeline: list[tuple[float, int]]
    resumed: int = 0  # units done by an earlier run of the campaign
    run: RunFigures | None = None  # where and how fast the units ran
    minimisations: int = 0  # of those units, minimisation tasks (TitleTask) run now


def _load_state(out: Path, name: str = STATE, key: str = "part") -> dict[str, dict[str, Any]]:
    path = out / name
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text(errors="replace").splitlines():
        try:
            d = json.loads(line)
            k = d[key]
        except (ValueError, TypeError, KeyError):
            continue  # a line cut short by a kill
        done[k] = d
    return done


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


def _append(out: Path, res: dict[str, Any], name: str = STATE) -> None:
    with open(out / name, "a") as fh:
        fh.write(json.dumps(res, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)


def merge_parts(u: Unit, parts: list[dict[str, Any]],
                reproducers: dict[tuple[int, str], dict[str, Any]] | None = None) -> UnitResult:
    """A variant's result from its units' results, in unit order: a title's first
    unit gives its reproducer (or ``reproducers[unit index, title]``, the
    minimisations' entries: reproducer, finding, scenario, devices,
    minimise_runs); hits add up and boards (and default-boot boards) are united."""
    found: dict[str, dict[str, Any]] = {}
    feats: set[str] = set()
    execs = errors = 0
    elapsed = 0.0
    for p in parts:
        execs += p["executions"]
        errors += p["errors"]
        elapsed += p["elapsed"]
        feats.update(p["features"])
        for f in p["found"]:
            old = found.get(f["title"])
            if old is None:
                found[f["title"]] = dict(f, boards=list(f.get("boards", [])),
                                         plain_boards=list(f.get("plain_boards", [])))
                found[f["title"]].pop("witness", None)
            else:
                old["hits"] = old.get("hits", 1) + f.get("hits", 1)
                old["boards"] = sorted(set(old["boards"]) | set(f.get("boards", [])))
                old["plain_boards"] = sorted(set(old["plain_boards"]) | set(f.get("plain_boards", [])))
    for title, f in found.items():
        e = (reproducers or {}).get((u.index, title))
        if e is not None:
            f.update({k: e[k] for k in ("reproducer", "finding", "scenario", "devices", "minimise_runs")})
    return UnitResult(u.id, u.index, u.description, u.size, list(found.values()), execs,
                      round(elapsed, 4), len(feats), sorted(feats), errors)


def run_campaign(req: ExploreRequest, progress: bool = True,
                 on_result: Callable[[UnitResult], None] | None = None) -> CampaignResult:
    """Fuzz every pending unit, then minimise (see the module doc); returns all
    variants' results (resumed ones included).

    ``on_result`` is called with a variant's merged result when it is complete
    (its last unit landed; with a run budget, after the minimisations)."""
    _check_campaign(req)
    units = units_for(req.base, req.depth, req.also, req.tree)
    parts = parts_for(req, units)
    done = _load_state(req.out)
    mins = _load_state(req.out, MIN_STATE, "task")
    keys = {p.key for p in parts}
    resumed = sum(1 for k in done if k in keys)
    pending = [p for p in parts if p.key not in done]
    left: dict[int, int] = {}
    for p in pending:
        left[p.unit] = left.get(p.unit, 0) + 1
    cfg = {"out": str(req.out.resolve()), "runs_per_board": req.runs_per_board,
           "time_per_variant": req.time_per_variant, "seed": req.seed, "engine": req.engine,
           "reproducible": req.reproducible, "host": socket.gethostname()}
    ctx = {"boards": req.boards, "units": units, "cfg": cfg}
    minimised = req.out / "minimised"
    have_min = {t for path in CrashStore(minimised).paths() for t in _titles(path)}
    t0 = time.monotonic()
    union: set[str] = set()
    timeline: list[tuple[float, int]] = [(0.0, 0)]
    for d in done.values():
        union |= set(d["features"])
    if union:
        timeline.append((0.0, len(union)))
    bar = _bar(len(parts), resumed, progress)
    by_unit = {u.index: u for u in units}
    parts_of: dict[int, list[Part]] = {}
    for p in parts:
        parts_of.setdefault(p.unit, []).append(p)
    reproducers: dict[tuple[int, str], dict[str, Any]] = {}

    def write(files: dict[str, dict[str, Any]]) -> None:
        for rel, data in files.items():  # reproducers before the state line: none is lost
            path = req.out / rel
            if not path.exists():
                _write_json(path, data)
            if data["title"] not in have_min:
                _write_json(minimised / Path(rel).name, data)
                have_min.add(data["title"])

    def take(part: Part, d: dict[str, Any]) -> None:
        write(d.pop("files", {}))
        _append(req.out, d)
        done[d["part"]] = d
        union.update(d["features"])
        timeline.append((time.monotonic() - t0, len(union)))
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{sum(len(x['found']) for x in done.values())} findings", refresh=False)
        left[part.unit] -= 1
        if on_result is not None and left[part.unit] == 0 and not req.reproducible:
            on_result(_merged(by_unit[part.unit]))

    def take_titles(task: TitleTask, d: dict[str, Any]) -> None:
        write(d.pop("files", {}))
        _append(req.out, d, MIN_STATE)
        mins[d["task"]] = d
        if bar is not None:
            bar.update(1)

    def _merged(u: Unit) -> UnitResult:
        return merge_parts(u, [done[p.key] for p in parts_of[u.index] if p.key in done], reproducers)

    # a resumed campaign with every unit fuzzed has only minimisations left
    later = len(title_tasks(units, parts_of, done)) if req.reproducible and not pending else 0
    kind = choose(req.executor, req.scheduler, req.jobs, len(pending) or later)
    figures = None
    ran_tasks = 0
    try:
        with executor(kind, ctx, setup_worker, jobs=req.jobs, scheduler=req.scheduler) as ex:
            if ex.figures.dashboard and progress:
                print(f"probefuzz: Dask dashboard at {ex.figures.dashboard}", file=sys.stderr)
            t_run = time.monotonic()
            for part, d in ex.run(run_part, pending):
                take(part, d)
            if req.reproducible and all(p.key in done for p in parts):
                tasks = [t for t in title_tasks(units, parts_of, done) if t.key not in mins]
                if bar is not None and tasks:
                    bar.total += len(tasks)
                    bar.set_description_str("minimising", refresh=True)
                for task, d in ex.run(run_titles, tasks):
                    take_titles(task, d)
                    ran_tasks += 1
            figures = ex.figures
            figures.elapsed_s = time.monotonic() - t_run
    finally:
        if bar is not None:
            bar.close()
    for d in mins.values():
        for e in d["entries"]:
            reproducers[e["unit"], e["title"]] = e
    results = [_merged(u) for u in units if any(p.key in done for p in parts_of[u.index])]
    if on_result is not None and req.reproducible:
        for r in results:
            on_result(r)
    return CampaignResult(req, results, time.monotonic() - t0, timeline, resumed, figures, ran_tasks)


def _titles(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [data["title"]] if isinstance(data, dict) and isinstance(data.get("title"), str) else []


def _bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    return tqdm(total=total, initial=initial, unit="unit", file=sys.stderr, dynamic_ncols=True,
                disable=None)


def known_kinds() -> tuple[str, ...]:
    return KINDS
