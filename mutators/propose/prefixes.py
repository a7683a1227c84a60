"""Subsystem prefixes for patch subjects (``iommu:``, ``iommu/rockchip:``, ``of:``...).

The tree's own history is the authority: the prefix most used by recent
commits touching the file (``git log --format=%s -- FILE``).  A tree without
that history (e.g. a one-commit import of a release tarball) falls back to a
prefix derived from the path, with a few directory names spelled the way
their subsystems spell them.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePosixPath

import git

#: commits of a file's history looked at
HISTORY_DEPTH = 60

# Path-derived fallback: drivers/<dir>/... -> how that subsystem writes itself.
_DIR_SPELLING = {"acpi": "ACPI", "pci": "PCI", "base": "driver core", "of": "of",
                 "iommu": "iommu", "amba": "amba", "cdx": "cdx", "bus": "bus"}
# files whose subsystem core is the directory itself (no "dir/file:" prefix)
_CORE_STEMS = {"iommu", "core", "bus", "device", "pci-driver", "main"}
# a prefix segment: "iommu/rockchip", "driver core", "ACPI", "bus", "fsl-mc"
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./+-]*(?: [a-z][A-Za-z0-9_-]*)?")


def subject_prefix(subject: str) -> str | None:
    """The ``a: b:`` prefix of a commit subject, or None (``Merge ...``, imports)."""
    segs: list[str] = []
    rest = subject
    while True:
        m = _SEGMENT.match(rest)
        if not m or not rest[m.end():].startswith(": "):
            break
        segs.append(m.group(0))
        rest = rest[m.end() + 2:]
    if not segs or not rest or subject.startswith(("Merge ", "Revert ")):
        return None
    return ": ".join(segs)


def from_history(repo: git.Repo, ref: str, path: str) -> str | None:
    """The prefix most commits touching ``path`` up to ``ref`` used (None: no history)."""
    try:
        out = repo.git.log(f"-n{HISTORY_DEPTH}", "--no-merges", "--format=%s", ref, "--", path)
    except git.GitCommandError:
        return None
    counts = Counter(p for p in map(subject_prefix, out.splitlines()) if p)
    if not counts:
        return None
    best = max(counts.values())
    # ties: the most recent of the most used
    for line in out.splitlines():
        p = subject_prefix(line)
        if p and counts[p] == best:
            return p
    return None


#: drivers/iommu/ subdirectories whose subject prefix is not the file's name
_IOMMU_DIRS = {"intel": "iommu/vt-d", "amd": "iommu/amd", "iommufd": "iommufd"}


def from_path(path: str) -> str:
    """A prefix from the path alone (``drivers/iommu/rockchip-iommu.c`` -> ``iommu/rockchip``)."""
    parts = PurePosixPath(path).parts
    if parts and parts[0] == "drivers":
        parts = parts[1:]
    if not parts:
        return "misc"
    top = _DIR_SPELLING.get(parts[0], parts[0])
    stem = PurePosixPath(path).stem
    if len(parts) == 2:  # drivers/<dir>/<file>
        sub = re.sub(r"[-_]?" + re.escape(parts[0]) + r"$", "", stem)
        if stem in _CORE_STEMS or not sub or sub == parts[0]:
            return top
        if parts[0] == "iommu":
            return f"iommu/{sub}" if sub != "of" else "iommu"
        return f"{top}: {sub}"
    if parts[0] == "iommu":
        # drivers/iommu/<vendor>/...: the kernel's own spellings
        if parts[1] in _IOMMU_DIRS:
            return _IOMMU_DIRS[parts[1]]
        return "iommu/" + re.sub(r"[-_]iommu$", "", stem)  # arm-smmu, arm-smmu-v3, qcom
    # drivers/<dir>/<subdir>/...: name the subdirectory
    return f"{top}: {parts[1]}"


def prefix_for(repo: git.Repo | None, ref: str, path: str) -> str:
    """History first, path second."""
    if repo is not None:
        p = from_history(repo, ref, path)
        if p:
            return p
    return from_path(path)


def unit_prefix(repo: git.Repo | None, ref: str, lines_by_file: dict[str, int]) -> str:
    """The prefix of a multi-file patch: that of the file it changes most."""
    if not lines_by_file:
        return "misc"
    main = max(sorted(lines_by_file), key=lambda f: lines_by_file[f])
    return prefix_for(repo, ref, main)
