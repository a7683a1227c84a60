"""The crash corpus: findings saved as structured, replayable reproducers.

A reproducer is JSON, not fuzzer bytes (which lose their meaning as soon as
the harness changes how it decodes them): the platform (embedded, or a
reference checked by hash), the variant, the schedule and other boot
configuration, the finding, and the probefuzz version that found it::

    {"format": "probefuzz-reproducer", "version": 1, "tool_version": "0.1.0",
     "title": "BUG: unable to handle kernel NULL pointer ... in rk_iommu_of_xlate",
     "finding": {...}, "platform": {"embedded": {...}} | {"ref": {...}},
     "variant": {...}, "schedule": [3, 0, 1], "config": {...}}

Files are named ``<title hash>-<content hash>.json``: the content hash makes
names content-addressed (saving the same reproducer twice is a no-op), the
title hash prefix makes de-duplication by title a directory lookup.  A new
finding whose title (or one of its ``alt_titles``) is already stored is a
duplicate; it replaces the stored one only if its schedule is shorter (the
smaller reproducer is the better one).  Writes are atomic (temp file +
rename) and serialised by a lock file, so several fuzzer processes can share
a store.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from harness.board import Board, BoardError, load_board
from harness.inputs import clip, name, read_json
from harness.variant import variant_to_json

FORMAT = "probefuzz-reproducer"
VERSION = 1
_LOCK = ".lock"


class StoreError(ValueError):
    """A reproducer file is malformed or its platform cannot be found; one line."""


def tool_version() -> str:
    """The installed probefuzz version."""
    try:
        return version("probefuzz")
    except PackageNotFoundError:
        return "0+unknown"


def platform_digest(p: Board) -> str:
    """sha256 of the canonical JSON of a platform (key order and spacing fixed)."""
    return _digest(p.to_json())


def title_key(title: str) -> str:
    """The file-name prefix of a title."""
    return hashlib.sha256(title.encode()).hexdigest()[:12]


@dataclass
class Reproducer:
    """One stored finding and everything needed to replay it."""

    title: str
    finding: dict[str, Any]
    platform_json: dict[str, Any]  # {"embedded": {...}} or {"ref": {...}}
    variant: dict[str, Any]
    schedule: list[int]
    config: dict[str, Any] = field(default_factory=dict)
    tool_version: str = ""
    source: str = "<reproducer>"  # the file it was read from

    @property
    def alt_titles(self) -> list[str]:
        return [t for t in self.finding.get("alt_titles", []) if isinstance(t, str)]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "tool_version": self.tool_version,
            "title": self.title,
            "finding": self.finding,
            "platform": self.platform_json,
            "variant": self.variant,
            "schedule": list(self.schedule),
            "config": self.config,
        }

    def platform(self, search: tuple[Path, ...] = ()) -> Board:
        """The platform to replay on.

        A reference's ``path`` is tried as given, then relative to the
        reproducer's directory and to each of ``search``; its content must
        still hash to the recorded ``sha256``.
        """
        if "embedded" in self.platform_json:
            try:
                return Board.from_json(self.platform_json["embedded"], f"{self.source}: platform")
            except BoardError as e:
                raise StoreError(str(e)) from None
        ref = self.platform_json["ref"]
        rel = Path(ref["path"])
        candidates = [rel, Path(self.source).parent / rel, *(Path(s) / rel for s in search)]
        for cand in candidates:
            if cand.is_file():
                try:
                    p = load_board(cand)
                except BoardError as e:
                    raise StoreError(f"{self.source}: platform.ref: {e}") from None
                if platform_digest(p) != ref["sha256"]:
                    raise StoreError(f"{self.source}: platform.ref: {cand} changed since the "
                                     "reproducer was saved (sha256 differs)")
                return p
        raise StoreError(f"{self.source}: platform.ref: {rel} not found")


@dataclass
class SaveResult:
    """What :meth:`CrashStore.save` did: ``new``, ``duplicate`` or ``replaced``."""

    status: str
    path: Path
    replaced: list[Path] = field(default_factory=list)


class CrashStore:
    """A directory of reproducers, de-duplicated by finding title."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading ----------------------------------------------------------------

    def paths(self) -> list[Path]:
        """Every reproducer file, sorted by name."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*.json") if not p.name.startswith("."))

    def __iter__(self) -> Iterator[Reproducer]:
        for p in self.paths():
            yield load_reproducer(p)

    def find_title(self, *titles: str) -> list[Path]:
        """Stored reproducers whose title, or one of whose alt titles, is in ``titles``."""
        if not self.root.is_dir():
            return []
        want = set(titles)
        hits = {p for t in want for p in self.root.glob(f"{title_key(t)}-*.json")}
        # Alt titles are not in file names, so look inside the others.  Saves
        # are rare (fuzzers de-duplicate in memory first), so a scan is fine.
        for p in self.paths():
            if p not in hits and want & set(_safe_titles(p)):
                hits.add(p)
        return sorted(hits)

    # -- writing ----------------------------------------------------------------

    def save(
        self,
        finding: Any,
        *,
        platform: Board,
        variant: Any,
        schedule: list[int],
        config: dict[str, Any] | None = None,
        platform_ref: str | os.PathLike[str] | None = None,
    ) -> SaveResult:
        """Store a finding's reproducer unless its title is already there.

        ``finding`` is a ``harness.findings.Finding`` (or its JSON dict);
        ``variant`` a ``harness.variant.Variant`` (or its JSON dict).  With
        ``platform_ref`` the platform is stored as a reference to that file
        (checked by hash on replay) instead of embedded.
        """
        rep = make_reproducer(finding, platform=platform, variant=variant, schedule=schedule,
                              config=config, platform_ref=platform_ref)
        data = rep.to_json()
        name = f"{title_key(rep.title)}-{_digest(data)[:16]}.json"
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            target = self.root / name
            if target.exists():
                return SaveResult("duplicate", target)
            existing = self.find_title(rep.title, *rep.alt_titles)
            if existing:
                best = min(existing, key=_schedule_len)
                if len(rep.schedule) >= _schedule_len(best):
                    return SaveResult("duplicate", best)
            atomic_write_json(target, data)
            for old in existing:
                old.unlink(missing_ok=True)
            return SaveResult("replaced" if existing else "new", target, existing)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / _LOCK, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def make_reproducer(
    finding: Any,
    *,
    platform: Board,
    variant: Any,
    schedule: list[int],
    config: dict[str, Any] | None = None,
    platform_ref: str | os.PathLike[str] | None = None,
) -> Reproducer:
    """Build a :class:`Reproducer` from harness objects (or their JSON)."""
    fj = finding.to_json() if hasattr(finding, "to_json") else dict(finding)
    if not isinstance(fj.get("title"), str) or not fj["title"]:
        raise StoreError("finding has no title")
    if isinstance(variant, dict):
        vj = variant
    else:
        vj = variant_to_json(variant)
    if platform_ref is not None:
        pj: dict[str, Any] = {"ref": {"path": str(platform_ref), "name": platform.name,
                                      "sha256": platform_digest(platform)}}
    else:
        pj = {"embedded": platform.to_json()}
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in schedule):
        raise StoreError("schedule must be a list of integers")
    return Reproducer(title=fj["title"], finding=fj, platform_json=pj, variant=vj,
                      schedule=list(schedule), config=dict(config or {}),
                      tool_version=tool_version())


def load_reproducer(path: str | os.PathLike[str]) -> Reproducer:
    """Read and validate a reproducer; :class:`StoreError` names file and field."""
    p = Path(path)
    src = str(p)
    data = read_json(p, StoreError)
    return reproducer_from_json(data, src)


def reproducer_from_json(data: Any, src: str = "<reproducer>") -> Reproducer:
    """Validate the JSON form of a reproducer."""

    def fail(where: str, what: str) -> StoreError:
        return StoreError(f"{name(src)}: {where}: {clip(what, 160)}")

    if not isinstance(data, dict):
        raise fail("top level", "expected an object")
    if data.get("format") != FORMAT:
        raise fail("format", f"expected {FORMAT!r}, got {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise fail("version", f"unsupported version {data.get('version')!r} "
                              f"(this probefuzz reads {VERSION})")
    title = data.get("title")
    if not isinstance(title, str) or not title:
        raise fail("title", "expected a non-empty string")
    finding = data.get("finding")
    if not isinstance(finding, dict) or finding.get("title") != title:
        raise fail("finding", "expected an object with the same title")
    plat = data.get("platform")
    if not isinstance(plat, dict) or len(plat) != 1 or not ({"embedded", "ref"} & set(plat)):
        raise fail("platform", 'expected {"embedded": {...}} or {"ref": {...}}')
    if "ref" in plat:
        ref = plat["ref"]
        if not isinstance(ref, dict) or not isinstance(ref.get("path"), str) \
                or not isinstance(ref.get("sha256"), str):
            raise fail("platform.ref", "expected {path, sha256}")
    elif not isinstance(plat["embedded"], dict):
        raise fail("platform.embedded", "expected a platform object")
    variant = data.get("variant")
    if not isinstance(variant, dict):
        raise fail("variant", "expected an object")
    schedule = data.get("schedule", [])
    if not isinstance(schedule, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in schedule):
        raise fail("schedule", "expected a list of integers")
    config = data.get("config", {})
    if not isinstance(config, dict):
        raise fail("config", "expected an object")
    tv = data.get("tool_version", "")
    if not isinstance(tv, str):
        raise fail("tool_version", "expected a string")
    return Reproducer(title=title, finding=finding, platform_json=plat, variant=variant,
                      schedule=schedule, config=config, tool_version=tv, source=src)


# -- helpers ---------------------------------------------------------------------


def _digest(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a fsynced temporary and a rename:
    a reader (or a killed writer) never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _safe_titles(path: Path) -> list[str]:
    try:
        rep = load_reproducer(path)
    except StoreError:
        return []
    return [rep.title, *rep.alt_titles]


def _schedule_len(path: Path) -> int:
    try:
        return len(load_reproducer(path).schedule)
    except StoreError:
        return 1 << 30  # an unreadable entry is always worth replacing
