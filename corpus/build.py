"""Build a platform corpus from every board of a kernel tree.

For each ``arch/<arch>/boot/dts/**/*.dts`` the builder runs cpp + dtc
(:mod:`corpus.dts`), converts the DTB (:mod:`corpus.dt`) and writes
``<out>/<arch>/<vendor>/<board>.json``.  Boards are compiled in parallel
worker processes; a board that fails is recorded with its error and skipped.

Cache: ``<out>/index.json`` records, per board, every file cpp read and a
key over their content hashes (plus the tool versions and the converter
revision).  A rerun re-hashes only files whose size or mtime changed and
rebuilds only boards whose key changed, so a warm run over the whole arm64
tree takes a second or two.  (A new header that would shadow an included
one earlier on the include path is not noticed; ``--force`` rebuilds.)
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus import dts as dts_mod
from corpus import hosttools
from corpus.dt import dtb_to_platform
from corpus.errors import DtError
from corpus.families import family_of
from corpus.reaper import watch_parent
from harness.board import VERSION as PLATFORM_VERSION
from harness.board import Board, load_board

# Bump when the conversion changes what it writes: invalidates every cache entry.
# 2: keep DMA masters without a compatible; 3: fw_devlink suppliers;
# 4: pinctrl-N and the other of_supplier_bindings[] entries (*-supply, *-gpios...)
BUILDER_REVISION = 4
INDEX_NAME = "index.json"
INDEX_FORMAT = "probefuzz-corpus-index"


@dataclass
class BoardResult:
    """What happened to one board."""

    arch: str
    source: str  # relative to the tree: arch/arm64/boot/dts/rockchip/x.dts
    platform: str | None = None  # relative to the output directory
    error: str | None = None
    stage: str | None = None  # "compile" or "convert" when error is set
    summary: dict[str, Any] = field(default_factory=dict)
    deps: list[str] = field(default_factory=list)
    key: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def name(self) -> str:
        return Path(self.source).stem

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"arch": self.arch, "source": self.source}
        if self.ok:
            d["platform"] = self.platform
            d["summary"] = self.summary
        else:
            d["error"] = self.error
            d["stage"] = self.stage
        d["deps"] = self.deps
        d["key"] = self.key
        return d


@dataclass
class BuildReport:
    """The outcome of a build: per-board results and timing."""

    tree: Path
    out: Path
    archs: tuple[str, ...]
    boards: list[BoardResult]
    elapsed: float
    jobs: int

    def summary(self) -> dict[str, Any]:
        """Counts for the terminal table and ``--json``."""
        built = [b for b in self.boards if b.ok]
        failed = [b for b in self.boards if not b.ok]
        fam: dict[str, Counter[str]] = defaultdict(Counter)
        for b in built:
            for name, counts in b.summary.get("families", {}).items():
                fam[name]["boards"] += 1
                fam[name].update(counts)
        reasons = Counter(_reason(b.error or "") for b in failed)
        return {
            "tree": str(self.tree),
            "out": str(self.out),
            "archs": list(self.archs),
            "boards": len(self.boards),
            "built": len(built),
            "cached": sum(1 for b in built if b.cached),
            "with_iommus": sum(1 for b in built if b.summary.get("families")),
            "families": {k: dict(fam[k]) for k in sorted(fam)},
            "skipped": len(failed),
            "skipped_reasons": dict(reasons.most_common()),
            "skipped_boards": [{"source": b.source, "error": b.error} for b in failed],
            "elapsed_s": round(self.elapsed, 3),
            "jobs": self.jobs,
        }


def default_out(tree: Path) -> Path:
    """``$XDG_CACHE_HOME/probefuzz/corpus/<tree dir>-<hash of its path>``."""
    cache = os.environ.get("XDG_CACHE_HOME") or ""
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    resolved = str(tree.resolve())
    tag = hashlib.sha256(resolved.encode()).hexdigest()[:8]
    return base / "probefuzz" / "corpus" / f"{tree.resolve().name}-{tag}"


def find_boards(tree: Path, archs: Sequence[str], match: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """``(arch, dts)`` for every board of ``archs``, sorted; ``match`` filters
    on the path below ``arch/<arch>/boot/dts`` (``rockchip/rk35*``)."""
    found = []
    for arch in archs:
        base = tree / "arch" / arch / "boot" / "dts"
        for p in sorted(base.rglob("*.dts")):
            rel = p.relative_to(base).as_posix()
            if match and not any(fnmatch.fnmatchcase(rel, m) for m in match):
                continue
            found.append((arch, p))
    return found


def platform_path(arch: str, tree: Path, dts: Path) -> str:
    """Where a board's platform goes, relative to the output directory."""
    rel = dts.relative_to(tree / "arch" / arch / "boot" / "dts").with_suffix(".json")
    return (Path(arch) / rel).as_posix()


def board_summary(p: Board) -> dict[str, Any]:
    """Per-family IOMMU instances and clients of one platform.

    ``instances``/``clients`` count nodes; the ``enabled_`` variants only those
    ``of_device_is_available()`` (for clients: the IOMMU too).
    """
    nodes = p.node_map()
    fam_of: dict[str, str] = {}
    fams: dict[str, Counter[str]] = defaultdict(Counter)
    for n in p.nodes:
        if n.iommu_cells is None:
            continue
        f = family_of(n.compatible) or f"unknown:{n.compatible[0] if n.compatible else n.path}"
        fam_of[n.path] = f
        fams[f]["instances"] += 1
        fams[f]["enabled_instances"] += n.available()
    for n in p.nodes:
        targets = {r.iommu for r in n.iommus} | {e.iommu for e in n.iommu_map}
        for f in sorted({fam_of[t] for t in targets if t in fam_of}):
            fams[f]["clients"] += 1
            live = n.available() and any(
                fam_of.get(t) == f and nodes[t].available() for t in targets
            )
            fams[f]["enabled_clients"] += live
    out = {}
    for f in sorted(fams):
        c = fams[f]
        out[f] = {k: c[k] for k in ("instances", "enabled_instances", "clients", "enabled_clients")}
    return {"nodes": len(p.nodes), "families": out}


# -- cache ---------------------------------------------------------------------


class FileHashes:
    """Content hashes of files, reusing recorded ones whose size/mtime match."""

    def __init__(self, recorded: dict[str, list[Any]] | None = None) -> None:
        self.recorded = recorded or {}
        self.current: dict[str, list[Any]] = {}

    def get(self, path: str) -> str | None:
        """sha256 of ``path`` now, None if it is gone."""
        cur = self.current.get(path)
        if cur is not None:
            return str(cur[2])
        try:
            st = os.stat(path)
        except OSError:
            return None
        rec = self.recorded.get(path)
        if rec is not None and rec[0] == st.st_mtime_ns and rec[1] == st.st_size:
            digest = str(rec[2])
        else:
            digest = _sha256_file(path)
        self.current[path] = [st.st_mtime_ns, st.st_size, digest]
        return digest

    def add(self, path: str, entry: list[Any]) -> None:
        self.current[path] = entry


def cache_key(tool_id: str, deps: Iterable[tuple[str, str]]) -> str:
    """The key of one board: tools, converter revision and its inputs' hashes."""
    h = hashlib.sha256()
    h.update(f"{BUILDER_REVISION}/{PLATFORM_VERSION}/{tool_id}\n".encode())
    for path, digest in sorted(deps):
        h.update(f"{path}\0{digest}\n".encode())
    return h.hexdigest()


def tool_identity(tree: Path) -> str:
    """cpp and dtc versions and flags: a change rebuilds everything."""
    parts = [" ".join(dts_mod.cpp_argv(Path("x.dts"), tree)),
             " ".join(dts_mod.dtc_argv(Path("x.dts"), tree))]
    for argv in (["cpp", "--version"], [dts_mod.dtc_binary(tree), "--version"]):
        r = hosttools.run(argv, timeout=30, check=False)
        parts.append(r.stdout.decode(errors="replace").splitlines()[0] if r.stdout else "")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def load_index(out: Path) -> dict[str, Any]:
    """The previous build's index, or an empty one."""
    try:
        data = json.loads((out / INDEX_NAME).read_text())
    except (OSError, ValueError):
        return {"boards": {}, "files": {}}
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        return {"boards": {}, "files": {}}
    return data


def write_index(out: Path, tree: Path, tool_id: str, boards: dict[str, dict[str, Any]],
                files: dict[str, list[Any]]) -> None:
    """Write ``index.json`` atomically (temp file + rename)."""
    data = {
        "format": INDEX_FORMAT,
        "version": 1,
        "tree": str(tree),
        "tree_version": dts_mod.tree_version(tree),
        "tree_commit": dts_mod.tree_commit(tree),
        "tools": tool_id,
        "boards": boards,
        "files": files,
    }
    tmp = out / f".{INDEX_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True))
    os.replace(tmp, out / INDEX_NAME)


# -- one board (runs in a worker process) -----------------------------------------


def _build_one(task: tuple[str, str, str, str, str]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Compile, convert and save one board; never raises for a bad board."""
    tree_s, arch, dts_s, out_s, rel_out = task
    tree, dts = Path(tree_s), Path(dts_s)
    res = BoardResult(arch=arch, source=dts.relative_to(tree).as_posix())
    files: dict[str, list[Any]] = {}
    try:
        compiled = dts_mod.compile_dts(dts, tree)
    except DtError as e:
        res.error, res.stage = str(e), "compile"
        return res.to_json(), files
    for dep in compiled.deps:
        p = str(dep if dep.is_absolute() else (tree / dep))
        try:
            st = os.stat(p)
            files[p] = [st.st_mtime_ns, st.st_size, _sha256_file(p)]
        except OSError:
            continue
    res.deps = sorted(files)
    try:
        plat = dtb_to_platform(compiled.dtb, dts.stem, compiled.provenance(), label=str(dts))
    except DtError as e:
        res.error, res.stage = str(e), "convert"
        return res.to_json(), files
    plat.save(Path(out_s) / rel_out)
    res.platform = rel_out
    res.summary = board_summary(plat)
    return res.to_json(), files


def _from_json(d: dict[str, Any], cached: bool) -> BoardResult:
    return BoardResult(arch=d["arch"], source=d["source"], platform=d.get("platform"),
                       error=d.get("error"), stage=d.get("stage"), summary=d.get("summary", {}),
                       deps=list(d.get("deps", [])), key=d.get("key", ""), cached=cached)


# -- the whole tree ----------------------------------------------------------------


def build(
    tree: Path,
    out: Path,
    archs: Sequence[str] = ("arm64",),
    *,
    jobs: int | None = None,
    match: Sequence[str] = (),
    force: bool = False,
    progress: Callable[[int], Any] | None = None,
    on_total: Callable[[int], Any] | None = None,
) -> BuildReport:
    """Build (or refresh) the corpus of ``archs`` from ``tree`` into ``out``.

    ``progress(n)`` is called as boards complete (n boards at a time);
    ``on_total(n)`` once with the number of boards to look at.
    """
    t0 = time.monotonic()
    tree = tree.resolve()
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, jobs or os.cpu_count() or 1)
    tool_id = tool_identity(tree)
    boards = find_boards(tree, archs, match)
    if on_total:
        on_total(len(boards))

    index = load_index(out)
    old_boards: dict[str, Any] = index.get("boards", {})
    hashes = FileHashes(index.get("files", {}))
    results: dict[str, BoardResult] = {}
    todo: list[tuple[str, str, str, str, str]] = []
    for arch, dts in boards:
        src = dts.relative_to(tree).as_posix()
        rel_out = platform_path(arch, tree, dts)
        prev = old_boards.get(src)
        if not force and prev and prev.get("deps") and _still_valid(prev, tool_id, hashes, out):
            results[src] = _from_json(prev, cached=True)
            if progress:
                progress(1)
            continue
        todo.append((str(tree), arch, str(dts), str(out), rel_out))

    def record(d: dict[str, Any], files: dict[str, list[Any]]) -> None:
        for p, entry in files.items():
            hashes.add(p, entry)
        r = _from_json(d, cached=False)
        if r.deps:
            r.key = cache_key(tool_id, ((p, str(hashes.current[p][2])) for p in r.deps))
        results[r.source] = r
        if progress:
            progress(1)

    try:
        if jobs == 1 or len(todo) <= 1:
            for task in todo:
                record(*_build_one(task))
        elif todo:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(jobs, len(todo)), initializer=watch_parent) as pool:
                for d, files in pool.imap_unordered(_build_one, todo, chunksize=4):
                    record(d, files)
    finally:
        # Keep what is done even on Ctrl-C: the next run resumes from it.
        merged = dict(old_boards)
        merged.update({k: v.to_json() for k, v in results.items()})
        live = {p for b in merged.values() for p in b.get("deps", [])}
        files = {p: e for p, e in {**index.get("files", {}), **hashes.current}.items() if p in live}
        write_index(out, tree, tool_id, merged, files)

    ordered = [results[dts.relative_to(tree).as_posix()] for _, dts in boards]
    return BuildReport(tree=tree, out=out, archs=tuple(archs), boards=ordered,
                       elapsed=time.monotonic() - t0, jobs=jobs)


def _still_valid(prev: dict[str, Any], tool_id: str, hashes: FileHashes, out: Path) -> bool:
    pairs = []
    for p in prev["deps"]:
        digest = hashes.get(p)
        if digest is None:
            return False
        pairs.append((p, digest))
    if cache_key(tool_id, pairs) != prev.get("key"):
        return False
    return prev.get("platform") is None or (out / prev["platform"]).is_file()


def load_corpus(out: Path, match: Sequence[str] = ()) -> list[Board]:
    """Every platform a build wrote to ``out`` (optionally filtered like ``--match``)."""
    index = load_index(out)
    plats = []
    for b in index.get("boards", {}).values():
        rel = b.get("platform")
        if not rel:
            continue
        below = rel.split("/", 1)[-1].removesuffix(".json") + ".dts"
        if match and not any(fnmatch.fnmatchcase(below, m) for m in match):
            continue
        plats.append(load_board(out / rel))
    return plats


def _reason(error: str) -> str:
    """A short category for a failure: the part after the file name, up to details."""
    _, _, rest = error.partition(": ")
    head = rest.split(":", 1)[0] if rest else error
    return head.strip() or "unknown"


def _sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
