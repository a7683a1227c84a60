"""What a tree's generic defconfigs build: ``y``, ``m`` or nothing, per symbol.

The kernel's own Kconfig decides: ``make ARCH=<arch> O=<dir> <defconfig>``
(scripts/kconfig/conf) expands the minimal defconfig with every Kconfig
default, ``depends on`` and ``select`` of the tree, and the resulting
``.config`` is read.  A defconfig omits what equals its default (savedefconfig),
so reading the defconfig file alone would call ``CONFIG_APPLE_DART`` (``default
ARCH_APPLE``) unset on arm64.

arm64 boards take ``arch/arm64/configs/defconfig``, arm boards
``arch/arm/configs/multi_v7_defconfig`` (the generic v7 one; SoC defconfigs
such as ``qcom_defconfig`` are not read).

A tree that cannot run ``make`` (a sparse checkout without its Kconfig files)
gets the evaluation of its commit when one was made before (cached by commit),
with the lines its working defconfig changes applied on top (``CONFIG_X=y``,
``=m``, ``# CONFIG_X is not set``; their dependencies are not re-evaluated);
otherwise :class:`KconfigError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from corpus import hosttools

#: arch -> (make target, file) of the generic defconfig the boards of that arch take
DEFCONFIGS = {"arm64": ("defconfig", "arch/arm64/configs/defconfig"),
              "arm": ("multi_v7_defconfig", "arch/arm/configs/multi_v7_defconfig")}
_LINE = re.compile(r"^(?:(CONFIG_\w+)=(\S+)|# (CONFIG_\w+) is not set)$", re.M)
#: per process: several worktrees of one commit (a test session) evaluate it once
_MEMO: dict[str, dict[str, dict[str, str]]] = {}


class KconfigError(Exception):
    """The tree's configuration could not be evaluated (one line)."""


def parse_config(text: str) -> dict[str, str]:
    """``CONFIG_X`` -> value of a ``.config`` or defconfig; ``n`` for ``is not set``."""
    out = {}
    for m in _LINE.finditer(text):
        if m.group(1):
            out[m.group(1)] = m.group(2)
        else:
            out[m.group(3)] = "n"
    return out


def _git(tree: Path, *args: str, input: bytes | None = None) -> str | None:
    try:
        r = hosttools.run(["git", "-C", str(tree), *args], timeout=120, check=False, input=input,
                          subject=str(tree))
    except hosttools.ToolError:
        return None
    return r.stdout.decode(errors="replace") if r.returncode == 0 else None


def _changed(tree: Path) -> tuple[list[str], list[str]]:
    """(Kconfig and defconfig files changed in the working tree and present,
    those missing from it) against HEAD."""
    out = _git(tree, "diff", "--name-only", "--no-renames", "HEAD", "--",
               ":(glob)**/Kconfig*", ":(glob)arch/*/configs/*")
    names = sorted(out.split()) if out else []
    return [n for n in names if (tree / n).is_file()], [n for n in names if not (tree / n).is_file()]


def changed_files(tree: Path) -> list[str]:
    """Kconfig and defconfig files of the working tree that differ from HEAD
    (present ones; a sparse checkout's missing files count as HEAD's)."""
    return _changed(tree)[0]


def _key(commit: str, tree: Path, files: list[str]) -> str:
    h = hashlib.sha256(commit.encode())
    for f in files:
        h.update(f.encode())
        h.update(hashlib.sha256((tree / f).read_bytes()).digest())
    return h.hexdigest()[:24]


def evaluate(tree: Path, commit: str, cache: Path, use_cache: bool = True) -> dict[str, dict[str, str]]:
    """arch -> ``.config`` values (``CONFIG_X`` -> ``y``/``m``/...) of the
    generic defconfigs of :data:`DEFCONFIGS`, for ``tree`` as it is."""
    changed, missing = _changed(tree) if commit else ([], [])
    key = _key(commit, tree, changed) if commit else ""
    if key and use_cache:
        got = _load(key, cache)
        if got is not None:
            return got
    if not missing and (tree / "scripts/kconfig/conf.c").is_file():
        out = _make(tree, cache)
    elif commit and all(f in {d for _, d in DEFCONFIGS.values()} for f in changed):
        base = _load(_key(commit, tree, []), cache)
        if base is None:
            raise KconfigError(f"{tree}: cannot run make defconfig here (a sparse checkout?) and "
                               f"commit {commit[:12]} was not evaluated before")
        out = {arch: dict(vals) for arch, vals in base.items()}
        for arch, (_, file) in DEFCONFIGS.items():
            if file in changed:
                out[arch].update(_overrides(tree, commit, file))
    else:
        raise KconfigError(f"{tree}: cannot run make defconfig here (Kconfig files missing: "
                           f"{', '.join(missing[:3]) or 'scripts/kconfig'})")
    if key:
        _store(key, out, cache)
    return out


def _overrides(tree: Path, commit: str, file: str) -> dict[str, str]:
    """The values the working defconfig sets differently from HEAD's."""
    head = parse_config(_git(tree, "show", f"{commit}:{file}") or "")
    now = parse_config((tree / file).read_text(errors="replace"))
    out = {k: v for k, v in now.items() if head.get(k) != v}
    out.update({k: "n" for k in head if k not in now})
    return out


def _make(tree: Path, cache: Path) -> dict[str, dict[str, str]]:
    """``make ARCH=arch O=... target`` for each arch of :data:`DEFCONFIGS`,
    in one scratch directory (scripts/kconfig/conf is built once), with the
    host compiler (Kconfig only asks it for feature probes; no IOMMU symbol
    depends on one)."""
    cache.mkdir(parents=True, exist_ok=True)
    _reap(cache)
    out = cache / f"kbuild-{os.getpid()}"
    got = {}
    try:
        for arch, (target, _) in DEFCONFIGS.items():
            hosttools.run(["make", "-s", "-C", str(tree), f"ARCH={arch}", "CROSS_COMPILE=",
                           f"O={out}", target], timeout=600, subject=str(tree))
            got[arch] = {k: v for k, v in parse_config((out / ".config").read_text()).items()
                         if v != "n"}
        return got
    except hosttools.ToolError as e:
        raise KconfigError(str(e).splitlines()[0] if str(e) else "make defconfig failed") from None
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _reap(cache: Path) -> None:
    """Remove build directories of runs that died (SIGKILL leaves them)."""
    for d in cache.glob("kbuild-*"):
        try:
            os.kill(int(d.name.split("-", 1)[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def _load(key: str, cache: Path) -> dict[str, dict[str, str]] | None:
    if key in _MEMO:
        return _MEMO[key]
    p = cache / f"kconfig-{key}.json"
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) != set(DEFCONFIGS):
        return None
    _MEMO[key] = data
    return data


def _store(key: str, data: dict[str, dict[str, str]], cache: Path) -> None:
    _MEMO[key] = data
    cache.mkdir(parents=True, exist_ok=True)
    p = cache / f"kconfig-{key}.json"
    tmp = p.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    tmp.replace(p)
