"""The evidence a proposal carries: model runs of the seed scenario(s) and ``explore``'s ranking.

For every board, the scenario is booted under the variant, under the
reference it was derived from (where the finding shows) and under v6.14;
the finding the variant avoids becomes the patch's problem statement.  The
``ranking.json`` that ``probefuzz explore`` writes adds the variant's rank,
per-kind counts over the fuzzing budget, titles and reproducer ids.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import inputs
from harness.board import Board
from harness.findings import KINDS, Finding
from harness.inputs import read_json
from harness.run import run_scenario
from harness.variant import V614, Variant
from mutators.space import format_id, parse_id

#: the seed board (bundled, so no kernel tree is needed to boot it)
SEED_BOARD = "rk3568-odroid-m1"
#: frames after which a call trace is the generic boot/probe path of any driver
TRACE_STOP = ("really_probe", "do_one_initcall", "kthread", "worker_thread")
COUNT_KINDS = ("oops", "deadlock", "group", "isolation", "warn", "defer")


def canonical_id(vid: str) -> str:
    """A variant id in the one spelling: a ``ranking.json`` written before the
    bash-safe spelling names variants ``NEXT+site:=value``."""
    base, muts = parse_id(vid)
    return format_id(base, muts) if muts else vid


class EvidenceError(Exception):
    """A ranking file that cannot be read or lacks the variant; one line."""


@dataclass
class Run:
    """One boot: board, variant name, per-kind finding counts and titles."""

    board: str
    variant: str
    counts: dict[str, int]
    titles: list[str]
    stats: dict[str, int]

    @property
    def clean(self) -> bool:
        return not self.titles


@dataclass
class Ranking:
    """The variant's entry of an ``explore`` ranking."""

    path: str
    base: str
    budget: Any
    total: int
    rank: int
    description: str
    counts: dict[str, int]
    titles: list[str]
    reproducers: list[str]


@dataclass
class Problem:
    """The finding the variant avoids, trimmed for a commit message."""

    board: str
    model: str
    title: str
    kind: str
    device: str | None
    message: str
    trace: list[str]
    omitted: int  # frames dropped from the tail


@dataclass
class Evidence:
    variant: str
    reference: str
    runs: list[Run] = field(default_factory=list)
    problem: Problem | None = None
    ranking: Ranking | None = None
    #: per patch of the series: findings when booting with patches 1..k applied
    stages: list[list[Run]] = field(default_factory=list)
    #: whose facts the model ran with: "" for the model's own (the reference
    #: tree's presets), else the commit of the tree profile (``--tree``)
    facts: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def runs_of(self, variant: str) -> list[Run]:
        return [r for r in self.runs if r.variant == variant]


def _count(findings: list[Finding]) -> dict[str, int]:
    out = {k: 0 for k in COUNT_KINDS}
    for f in findings:
        k = "warn" if f.kind == "warning" else f.kind
        out[k] = out.get(k, 0) + 1
    return out


def boot(board: str, platform: Board, v: Variant, label: str | None = None) -> tuple[Run, list[Finding]]:
    """Boot one board under one variant."""
    r = run_scenario(platform, v)
    titles = sorted({f.title for f in r.findings})
    return Run(board, label or v.name, _count(r.findings), titles, dict(r.stats)), r.findings


def trim_trace(trace: list[str]) -> tuple[list[str], int]:
    """The relevant frames: up to the first generic probe/boot entry point."""
    for i, fn in enumerate(trace):
        if fn in TRACE_STOP:
            return trace[:i + 1], len(trace) - i - 1
    return list(trace), 0


def _problem(board: str, platform: Board, avoided: list[Finding]) -> Problem | None:
    if not avoided:
        return None
    rank = {k: i for i, k in enumerate(KINDS)}
    f = sorted(avoided, key=lambda x: rank.get(x.kind, 99))[0]
    trace, omitted = trim_trace(f.trace)
    return Problem(board, platform.model, f.title, f.kind, f.device, f.message, trace, omitted)


def gather(boards: list[tuple[str, Board]], target: Variant, reference: Variant,
           ranking: Ranking | None = None, v614: Variant = V614, facts: str = "") -> Evidence:
    """Boot every board under target, reference and v6.14; find the avoided finding.

    With a tree profile (``facts``: its commit) the three are that tree's
    (:func:`mutators.facts.tree_presets`): ``v614`` is v6.14's core over the
    tree's drivers and registration levels."""
    ev = Evidence(target.name, reference.name, ranking=ranking, facts=facts)
    for name, platform in boards:
        t_run, t_f = boot(name, platform, target)
        r_run, r_f = boot(name, platform, reference)
        ev.runs += [t_run, r_run]
        if reference.fingerprint() != v614.fingerprint():
            ev.runs.append(boot(name, platform, v614, "V614")[0])
        kept = {f.title for f in t_f}
        avoided = [f for f in r_f if f.title not in kept]
        if ev.problem is None:
            ev.problem = _problem(name, platform, avoided)
    return ev


def _want(d: Any, key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(d, dict) or key not in d or not isinstance(d[key], typ):
        raise EvidenceError(f"{where}: missing or malformed {key!r}")
    return d[key]


def _read(p: Path) -> Any:
    """A ranking file's JSON through the one input layer (size, depth, UTF-8 checked)."""
    try:
        p.stat()
    except FileNotFoundError:
        raise EvidenceError(f"{inputs.name(p)}: no such ranking file") from None
    except OSError:
        pass  # read_json says what is wrong with it
    return read_json(p, lambda msg: EvidenceError(f"not a ranking file: {msg}"))


def load_ranking(path: str | Path, variant_id: str, fingerprint: str | None = None) -> Ranking:
    """The entry of ``variant_id`` (or of the variant with ``fingerprint``) in a ranking."""
    p = Path(path)
    data = _read(p)
    variants = _want(data, "variants", list, str(p))
    for i, v in enumerate(variants):
        where = f"{p}: variants[{i}]"
        vid = canonical_id(_want(v, "id", str, where))
        if vid != canonical_id(variant_id) and not (fingerprint and v.get("fingerprint") == fingerprint):
            continue
        counts = _want(v, "counts", dict, where)
        if not all(isinstance(n, int) for n in counts.values()):
            raise EvidenceError(f"{where}: counts must be integers")
        return Ranking(
            path=str(p), base=canonical_id(str(data.get("base", ""))), budget=data.get("budget"),
            total=len(variants), rank=int(_want(v, "rank", int, where)),
            description=str(v.get("description", "")),
            counts={k: int(counts.get(k, 0))
                    for k in (*COUNT_KINDS, *sorted(set(counts) - set(COUNT_KINDS)))},
            titles=[str(t) for t in v.get("titles", [])],
            reproducers=[str(r) for r in v.get("reproducers", [])])
    raise EvidenceError(f"{p}: variant {variant_id} is not in this ranking")


def best_in_ranking(path: str | Path) -> str:
    """The id of the rank-1 variant of a ranking (for ``--variant best``)."""
    p = Path(path)
    data = _read(p)
    variants = _want(data, "variants", list, str(p))
    if not variants:
        raise EvidenceError(f"{p}: the ranking is empty")
    best = min(variants, key=lambda v: _want(v, "rank", int, f"{p}: variants[]"))
    return canonical_id(str(_want(best, "id", str, f"{p}: variants[]")))


def ranking_base_of(path: str | Path) -> str | None:
    """The ``base`` a ranking was explored from (None if unreadable: load_ranking says why)."""
    try:
        base = _read(Path(path)).get("base")
    except (EvidenceError, AttributeError):
        return None
    return canonical_id(base) if isinstance(base, str) else None
