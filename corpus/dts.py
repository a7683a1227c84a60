"""Compiling a board ``.dts`` the way Kbuild does (6.12 ``scripts/Makefile.dtbs``).

``cmd_dtc`` in 6.12 is, in substance::

    $(HOSTCC) -E -nostdinc -I scripts/dtc/include-prefixes -undef -D__DTS__ \\
        -x assembler-with-cpp -o tmp.dts board.dts
    $(DTC) -o board.dtb -b 0 -i <dir of board.dts> -i scripts/dtc/include-prefixes \\
        -Wno-unique_unit_address -Wno-unit_address_vs_reg ... tmp.dts

(no ``-I include``: the bindings headers come through the ``dt-bindings``
link in ``include-prefixes``; quoted ``#include "x.dtsi"`` is found next to
the including file by cpp itself.)  We run ``cpp`` with the same flags plus
``-MD`` to learn every file read (the build cache keys on them), and feed its
output to ``dtc`` on stdin.  The tree's own ``scripts/dtc/dtc`` is used when
it has been built, else the host's ``dtc``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from corpus import hosttools, kernel_tree
from corpus.errors import DtError

CPP_TIMEOUT = 60.0
DTC_TIMEOUT = 120.0

# scripts/Makefile.dtbs: DTC_FLAGS without KBUILD_EXTRA_WARN.  -q drops the
# warnings that remain: a corpus build compiles over a thousand boards and
# only errors matter.
DTC_FLAGS = (
    "-Wno-unique_unit_address",
    "-Wno-unit_address_vs_reg",
    "-Wno-avoid_unnecessary_addr_size",
    "-Wno-alias_paths",
    "-Wno-graph_child_address",
    "-Wno-simple_bus_reg",
    "-q",
)


@dataclass
class Compiled:
    """A compiled board: the blob and where it came from."""

    dts: Path
    tree: Path
    dtb: bytes
    deps: list[Path] = field(default_factory=list)  # every file cpp read

    def provenance(self) -> dict[str, Any]:
        """The ``provenance`` block of the platform built from this board."""
        prov: dict[str, Any] = {"source": _relative(self.dts, self.tree)}
        version = tree_version(self.tree)
        if version:
            prov["tree_version"] = version
        commit = tree_commit(self.tree)
        if commit:
            prov["tree_commit"] = commit
        prov["sha256"] = hashlib.sha256(self.dtb).hexdigest()
        return prov


def kernel_root(dts: Path, tree: Path | None = None) -> Path:
    """The kernel tree ``dts`` belongs to (``tree`` if given)."""
    if tree is not None:
        if not kernel_tree.is_kernel_tree(tree):
            raise DtError(f"{tree}: not a kernel tree (no Makefile/scripts/dtc)")
        return Path(tree)
    root = kernel_tree.find_kernel_root(dts)
    if root is None:
        raise DtError(f"{dts}: not inside a kernel tree (no Makefile/scripts/dtc above it)")
    return Path(root)


def include_dir(tree: Path) -> Path:
    """``DTC_INCLUDE``: the include-prefixes directory of the tree."""
    return tree / "scripts" / "dtc" / "include-prefixes"


def dtc_binary(tree: Path) -> str:
    """The tree's built ``scripts/dtc/dtc`` if present, else the host's ``dtc``."""
    own = tree / "scripts" / "dtc" / "dtc"
    if own.is_file() and os.access(own, os.X_OK):
        return str(own)

    return hosttools.which("dtc")  # ToolError naming the Debian package if missing


def cpp_argv(dts: Path, tree: Path, depfile: Path | None = None) -> list[str]:
    """The preprocessor command line for ``dts`` (Kbuild's ``dtc_cpp_flags``)."""
    argv = ["cpp", "-nostdinc", "-I", str(include_dir(tree)), "-undef", "-D__DTS__",
            "-x", "assembler-with-cpp"]
    if depfile is not None:
        argv += ["-MD", "-MF", str(depfile), "-MT", "dtb"]
    return argv + [str(dts)]


def dtc_argv(dts: Path, tree: Path) -> list[str]:
    """The dtc command line; the preprocessed source comes on stdin."""
    return [dtc_binary(tree), "-I", "dts", "-O", "dtb", "-b", "0",
            "-i", str(dts.parent), "-i", str(include_dir(tree)), *DTC_FLAGS, "-o", "-", "-"]


def preprocess(dts: Path, tree: Path) -> tuple[bytes, list[Path]]:
    """Run cpp on ``dts``; return the output and the files it read."""
    with tempfile.TemporaryDirectory(prefix="probefuzz-dts-") as tmp:
        depfile = Path(tmp) / "deps"
        try:
            r = hosttools.run(cpp_argv(dts, tree, depfile), timeout=CPP_TIMEOUT, check=False)
        except hosttools.ToolError as e:  # missing or timed out
            raise DtError(f"{dts}: {e}") from None
        if r.returncode != 0:
            raise DtError(f"{dts}: cpp failed: {_first_line(r.stderr)}")
        deps = parse_depfile(depfile.read_text(errors="replace")) if depfile.exists() else [dts]
    return _bytes(r.stdout), deps


def compile_dts(dts: Path, tree: Path | None = None) -> Compiled:
    """Preprocess and compile a board; :class:`DtError` on any failure."""
    dts = Path(dts)
    if not dts.exists():
        raise DtError(f"{dts}: no such file")
    root = kernel_root(dts.resolve(), tree)
    source = dts.resolve()
    text, deps = preprocess(source, root)
    try:
        r = hosttools.run(dtc_argv(source, root), timeout=DTC_TIMEOUT, input=text, check=False)
    except hosttools.ToolError as e:
        raise DtError(f"{dts}: {e}") from None
    if r.returncode != 0:
        raise DtError(f"{dts}: dtc failed: {_first_line(r.stderr)}")
    return Compiled(dts=source, tree=root, dtb=_bytes(r.stdout), deps=deps)


def parse_depfile(text: str) -> list[Path]:
    """The prerequisites of a make-style dependency file (``-MD`` output)."""
    body = text.replace("\\\n", " ")
    _, _, prereqs = body.partition(":")
    # Paths with spaces are escaped as "\ "; kernel paths have none, but be exact.
    return [Path(p.replace("\\ ", " ")) for p in re.findall(r"(?:\\ |\S)+", prereqs)]


@lru_cache(maxsize=16)
def tree_version(tree: Path) -> str:
    """``VERSION.PATCHLEVEL.SUBLEVEL`` of the tree's top Makefile ("" if unknown)."""
    try:
        return kernel_tree.kernel_version(tree)
    except (OSError, hosttools.ToolError):
        return ""


@lru_cache(maxsize=16)
def tree_commit(tree: Path) -> str:
    """The tree's git HEAD commit, "" if it is not a git work tree."""
    if not (tree / ".git").exists():
        return ""

    try:
        r = hosttools.run(["git", "-C", str(tree), "rev-parse", "HEAD"], timeout=30, check=False)
    except hosttools.ToolError:
        return ""
    out = _bytes(r.stdout).decode(errors="replace").strip()
    return out if r.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", out) else ""


def _relative(path: Path, tree: Path) -> str:
    try:
        return str(path.resolve().relative_to(tree.resolve()))
    except ValueError:
        return str(path)


def _bytes(v: bytes | str | None) -> bytes:
    if v is None:
        return b""
    return v.encode() if isinstance(v, str) else v


def _first_line(stderr: bytes | str | None) -> str:
    for line in _bytes(stderr).decode(errors="replace").splitlines():
        if line.strip():
            return line.strip()
    return "no error message"
