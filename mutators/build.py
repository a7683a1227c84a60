"""Compile the objects an applied variant touched, with the arm64 cross toolchain.

``apply --build`` must answer "does the generated C compile?" quickly and
without touching the user's tree.  A full checkout of a kernel-sized worktree
takes ~18 s and a new source directory makes kbuild redo ``prepare``, so the
build does not happen in the (sparse) apply worktree itself but in a cache
that is reused between runs (``$PROBEFUZZ_BUILD_DIR``, default
``~/.cache/probefuzz/build-arm64/``):

* ``src/`` -- a local clone of the user's repository (hard-linked objects, no
  remote refs written back, the user's repo is only read); each build fetches
  the apply's commit and checks it out, so only the files that differ from
  the last build get new mtimes and only their objects are rebuilt;
* ``out/`` -- the out-of-tree build directory (``make O=out``): ``defconfig``
  once, then ``scripts/config --enable`` for the Kconfig symbols the touched
  files need (read from the kbuild Makefiles: ``obj-$(CONFIG_X) += file.o``)
  and ``olddefconfig`` when that set grows;
* ``.lock`` -- an flock, so two builds never share the directories at once.

The touched ``.c`` files' objects are built in one ``make -k -j<cores>`` run
and reported one by one (``ok``, or ``error`` with the compiler's first error
lines); an object older than its source is deleted first, so "exists after
make" means "compiled from this content" (objects whose source is the same as
in an earlier build are up to date and reported with ``rebuilt: false``).
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus.hosttools import ToolError, run, which
from mutators.gitrepo import cache_root

ARCH = "arm64"
CROSS_COMPILE = "aarch64-linux-gnu-"
#: host tools kbuild itself needs before it compiles anything (kconfig, prepare)
HOST_TOOLS = ("make", f"{CROSS_COMPILE}gcc", "flex", "bison", "bc", "perl")
#: cold builds run defconfig + prepare (minutes on 2 cores); warm ones seconds
MAKE_TIMEOUT = 3600.0
GIT_TIMEOUT = 600.0
_ERROR_LINES = 4


@dataclass
class ObjectBuild:
    """One touched object: ``status`` is ``ok`` or ``error``; ``errors`` are the
    compiler's first error lines for its source (or why it was not built)."""

    object: str
    source: str
    status: str
    config: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: int = 0
    #: False when the object was up to date (same source as an earlier build)
    rebuilt: bool = True

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BuildResult:
    """Per-object results and where the time went (``cold`` when defconfig ran)."""

    objects: list[ObjectBuild]
    build_dir: str
    cold: bool
    seconds: dict[str, float]

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.objects)


def build_root() -> Path:
    env = os.environ.get("PROBEFUZZ_BUILD_DIR")
    return Path(env) if env else cache_root() / f"build-{ARCH}"


def check_host_tools() -> None:
    """Raise :class:`ToolError` naming the first missing tool and its Debian package."""
    for tool in HOST_TOOLS:
        which(tool)


# -- which Kconfig symbols a file needs -------------------------------------------

_ASSIGN = re.compile(r"^([\w.-]+?)-(y|objs|\$\(CONFIG_(\w+)\))\s*[:+]?=\s*(.*)$")


def _kbuild_lines(d: Path) -> list[str]:
    """The assignments of a directory's Kbuild/Makefile, continuation lines joined."""
    for name in ("Kbuild", "Makefile"):
        f = d / name
        if f.is_file():
            text = f.read_text(errors="replace").replace("\\\n", " ")
            return [ln.strip() for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return []


def _symbols_for(lines: list[str], obj: str, seen: set[str]) -> list[str] | None:
    """Symbols that put ``obj`` into the build in these lines (None: not found)."""
    if obj in seen:
        return None
    seen.add(obj)
    for ln in lines:
        m = _ASSIGN.match(ln)
        if not m or obj not in m.group(4).split():
            continue
        target, sym = m.group(1), m.group(3)
        if target == "obj":
            return [sym] if sym else []
        # a composite object: foo-y += obj.o / foo-$(CONFIG_Z) += obj.o
        parent = _symbols_for(lines, f"{target}.o", seen)
        if parent is not None:
            return parent + ([sym] if sym else [])
    return None


def needed_symbols(src: Path, rel: str) -> list[str]:
    """Kconfig symbols (without ``CONFIG_``) that make kbuild compile ``rel``
    (a ``.c`` path), from its directory's Makefile up to the top, e.g.
    ``drivers/iommu/rockchip-iommu.c`` -> ``['IOMMU_SUPPORT', 'ROCKCHIP_IOMMU']``."""
    parts = Path(rel).parts
    syms: list[str] = []
    obj = Path(parts[-1]).with_suffix(".o").name
    for depth in range(len(parts) - 1, 0, -1):
        d = src.joinpath(*parts[:depth])
        found = _symbols_for(_kbuild_lines(d), obj, set())
        if found:
            syms = found + syms
        obj = parts[depth - 1] + "/"
    return list(dict.fromkeys(syms))


# -- the cache ------------------------------------------------------------------------

@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the build cache's flock (``apply --build`` and ``validate`` share ``src/``)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _git(src: Path, *args: str, timeout: float = GIT_TIMEOUT) -> str:
    return run(["git", *args], timeout=timeout, cwd=src, subject=str(src)).stdout.decode()


def sync_source(src: Path, repo_dir: str, ref: str, commit: str) -> None:
    """Make ``src`` a checkout of ``commit`` fetched by ``ref`` from the repo at
    ``repo_dir`` (cloned the first time; the user's repository is only read)."""
    if not (src / ".git").is_dir():
        tmp = src.with_name(src.name + ".new")
        if tmp.exists():
            run(["rm", "-rf", str(tmp)], timeout=GIT_TIMEOUT)
        run(["git", "clone", "-q", "--no-checkout", "--local", repo_dir, str(tmp)],
            timeout=GIT_TIMEOUT, subject=repo_dir)
        tmp.rename(src)
    _git(src, "fetch", "-q", "--no-tags", repo_dir, ref)
    got = _git(src, "rev-parse", "FETCH_HEAD").strip()
    if got != commit:
        raise ToolError(f"build cache {src}: fetched {got[:12]} for {ref}, expected {commit[:12]}")
    # -f: a checkout killed midway must not block the next one
    _git(src, "checkout", "-q", "-f", "--detach", commit)


def _make_argv(src: Path, out: Path, *targets: str, jobs: int = 1) -> list[str]:
    return ["make", "-C", str(src), f"O={out}", f"ARCH={ARCH}", f"CROSS_COMPILE={CROSS_COMPILE}",
            f"-j{jobs}", *targets]


def _config_values(out: Path) -> dict[str, str]:
    vals: dict[str, str] = {}
    cfg = out / ".config"
    if cfg.is_file():
        for ln in cfg.read_text().splitlines():
            if ln.startswith("CONFIG_") and "=" in ln:
                k, _, v = ln.partition("=")
                vals[k[len("CONFIG_"):]] = v
    return vals


def configure(src: Path, out: Path, symbols: set[str], jobs: int) -> bool:
    """defconfig once, then enable ``symbols``; True when defconfig ran (cold)."""
    cold = not (out / ".config").is_file()
    if cold:
        out.mkdir(parents=True, exist_ok=True)
        run(_make_argv(src, out, "defconfig", jobs=jobs), timeout=MAKE_TIMEOUT,
            subject="defconfig")
    have = _config_values(out)
    missing = sorted(s for s in symbols if have.get(s) not in ("y", "m"))
    if missing:
        argv = [str(src / "scripts/config"), "--file", str(out / ".config")]
        for s in missing:
            argv += ["--enable", s]
        run(argv, timeout=60, subject="scripts/config")
        run(_make_argv(src, out, "olddefconfig", jobs=jobs), timeout=MAKE_TIMEOUT,
            subject="olddefconfig")
    return cold


def _errors_for(output: str, source: str) -> tuple[list[str], int]:
    """The compiler's error lines about ``source`` and its warning count."""
    errs, warns = [], 0
    for ln in output.splitlines():
        if source not in ln:
            continue
        if ": error:" in ln or ": fatal error:" in ln:
            errs.append(ln[ln.find(source):].strip())  # drop the build's absolute prefix
        elif ": warning:" in ln:
            warns += 1
    return errs[:_ERROR_LINES], warns


def build_objects(repo_dir: str, ref: str, commit: str, files: list[str],
                  jobs: int | None = None) -> BuildResult:
    """Compile the objects of ``files`` (tree-relative) at ``commit`` (reachable
    as ``ref`` in the repository ``repo_dir``) for arm64; report each."""
    check_host_tools()
    jobs = jobs or os.cpu_count() or 1
    root = build_root()
    src, out = root / "src", root / "out"
    t0 = time.monotonic()
    with locked(root):
        sync_source(src, repo_dir, ref, commit)
        t_sync = time.monotonic()
        sources = [f for f in files if f.endswith(".c")]
        need = {f: needed_symbols(src, f) for f in sources}
        cold = configure(src, out, {s for syms in need.values() for s in syms}, jobs)
        t_cfg = time.monotonic()
        have = _config_values(out)
        objects: list[ObjectBuild] = []
        targets = []
        for f in sources:
            obj = f[:-2] + ".o"
            unset = [s for s in need[f] if have.get(s) not in ("y", "m")]
            ob = ObjectBuild(obj, f, "error", [f"CONFIG_{s}" for s in need[f]])
            if unset:
                ob.errors = [f"CONFIG_{s} cannot be enabled on {ARCH} (unmet Kconfig dependencies)"
                             for s in unset]
            else:
                # A stale object must not pass for a compiled one (kbuild does not
                # delete it when the compiler fails): drop it unless it is newer
                # than its source, i.e. built from this very content (checkout
                # keeps the mtime of files that did not change since last build).
                o, c = out / obj, src / f
                if o.is_file() and o.stat().st_mtime >= c.stat().st_mtime:
                    ob.rebuilt = False
                else:
                    o.unlink(missing_ok=True)
                targets.append(obj)
            objects.append(ob)
        output = ""
        if targets:
            proc = run(_make_argv(src, out, "-k", *targets, jobs=jobs), timeout=MAKE_TIMEOUT,
                       check=False, subject=", ".join(targets))
            output = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
            if proc.returncode != 0 and not any((out / t).is_file() for t in targets) \
                    and "error:" not in output:
                # make itself failed (prepare, a broken config): not the objects' fault
                lines = [ln for ln in output.splitlines() if ln.strip()]
                raise ToolError(f"kernel build in {out} failed (exit {proc.returncode}): "
                                + " | ".join(lines[-3:]))
        for ob in objects:
            if ob.object not in targets:
                continue
            errs, ob.warnings = _errors_for(output, ob.source)
            if (out / ob.object).is_file():
                ob.status = "ok"
            else:
                ob.errors = errs or [f"{ob.object} was not built (see make -C {src} O={out})"]
        t_make = time.monotonic()
    return BuildResult(objects, str(out), cold,
                       {"sync": round(t_sync - t0, 3), "config": round(t_cfg - t_sync, 3),
                        "make": round(t_make - t_cfg, 3), "total": round(t_make - t0, 3)})
