"""Initcall levels of the kernel's drivers, read from a kernel tree.

A driver registers at the initcall level of the function that calls its
``*_driver_register()``: ``module_platform_driver()`` and friends expand to
``module_init()`` (``device_initcall`` when built in, include/linux/module.h),
``builtin_platform_driver()`` to ``device_initcall()``
(include/linux/platform_device.h), and a hand-written init function to the
level its ``*_initcall()`` names (include/linux/init.h: core, postcore, arch,
subsys, fs, rootfs, device, late; ``_sync`` variants right after their level).

:func:`scan` maps every compatible (``of_device_id``) and ACPI ID
(``acpi_device_id``) of a driver that registers *before* device level to that
level and its file; :func:`render_table` writes the table the model boots
with (``harness/base/initcall_table.py``).  Regenerate with
``python -m corpus.initcalls TREE > harness/base/initcall_table.py``;
tests/corpus/test_initcalls.py checks the checked-in table against the tree.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus import hosttools

EARLY_LEVELS = ("core", "postcore", "arch", "subsys", "fs", "rootfs")
DEVICE = "device"

_EARLY = re.compile(r"^\s*(" + "|".join(EARLY_LEVELS) + r")_initcall(_sync)?\(\s*(\w+)\s*\)", re.M)
# registration macros that expand to module_init()/device_initcall()
_DEVICE_MACRO = re.compile(r"^\s*(?:module_\w+_driver|builtin_\w+_driver(?:_probe)?|module_init"
                           r"|device_initcall(?:_sync)?|module_driver)\(", re.M)
_OF_COMPAT = re.compile(r"\.compatible\s*=\s*\"([^\"]+)\"")
_ACPI_TABLE = re.compile(r"struct\s+acpi_device_id\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\n\};", re.S)
_ACPI_ID = re.compile(r"\{\s*\"([A-Z0-9_]{4,9})\"")
_REGISTERS = re.compile(r"\b\w*driver_register\s*\(|\bplatform_driver_probe\s*\(|"
                        r"\bplatform_register_drivers\s*\(")


@dataclass(frozen=True, order=True)
class DriverLevel:
    """Where a driver registers: ``level`` (an early initcall level, with
    ``_sync`` when the C uses the sync variant) and the file that says so."""

    level: str
    file: str


def _body(text: str, fn: str) -> str:
    """The body of ``fn``'s definition in ``text`` (empty if not found)."""
    m = re.search(r"\b" + re.escape(fn) + r"\s*\([^)]*\)\s*\{", text)
    if m is None:
        return ""
    depth, i = 1, m.end()
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end():i]


def file_level(text: str) -> str | None:
    """The level a driver file registers its driver at: an early level,
    ``"device"`` (also for a file that does both), or None when the file
    registers no driver (a match table used for something else)."""
    levels = set()
    if "_initcall" in text:
        levels = {m.group(1) + (m.group(2) or "") for m in _EARLY.finditer(text)
                  if _REGISTERS.search(_body(text, m.group(3)))}
    maybe_device = any(w in text for w in ("module_", "builtin_", "device_initcall"))
    if (maybe_device and _DEVICE_MACRO.search(text)) or len(levels) > 1:
        return DEVICE
    return levels.pop() if levels else None


def ids(text: str) -> list[str]:
    """The OF compatibles and ACPI IDs a file's match tables list."""
    out = _OF_COMPAT.findall(text)
    for table in _ACPI_TABLE.findall(text):
        out.extend(_ACPI_ID.findall(table))
    return out


def _match_table_files(tree: Path, subdirs: tuple[str, ...]) -> list[str]:
    """The .c files below ``subdirs`` with a match table (``git grep``, or a
    walk when the tree is not a git checkout)."""
    try:
        out = hosttools.run(["git", "-C", str(tree), "grep", "-l", "-F", "-e", ".compatible",
                             "-e", "acpi_device_id", "--", *(f"{d}/*.c" for d in subdirs)],
                            timeout=120, check=False, subject=str(tree))
        if out.returncode in (0, 1):
            return sorted(out.stdout.decode().split())
    except hosttools.ToolError:
        pass
    return sorted(str(p.relative_to(tree)) for d in subdirs for p in (tree / d).rglob("*.c")
                  if ".compatible" in (t := p.read_text(errors="replace")) or "acpi_device_id" in t)


def file_entry(text: str) -> tuple[str, list[str]] | None:
    """(level, IDs) of one driver file; None when it registers no driver."""
    lvl = file_level(text)
    return None if lvl is None else (lvl, ids(text))


def table(entries: Mapping[str, tuple[str, list[str]]]) -> dict[str, DriverLevel]:
    """compatible/ACPI ID -> early level, from each file's :func:`file_entry`.

    An ID listed by files at different levels (or by a device-level file as
    well) is left out: the model then registers its driver at device level."""
    found: dict[str, set[DriverLevel]] = {}
    for rel, (lvl, file_ids) in entries.items():
        for i in file_ids:
            found.setdefault(i, set()).add(DriverLevel(lvl, rel))
    out: dict[str, DriverLevel] = {}
    for i, where in found.items():
        if len({w.level for w in where}) == 1 and min(where).level != DEVICE:
            out[i] = min(where)
    return out


def scan(tree: Path, subdirs: tuple[str, ...] = ("drivers",)) -> dict[str, DriverLevel]:
    """compatible/ACPI ID -> early level, for the driver files below ``subdirs``
    (:func:`table` of every file's :func:`file_entry`)."""
    entries = {}
    for rel in _match_table_files(tree, subdirs):
        e = file_entry((tree / rel).read_text(errors="replace"))
        if e is not None:
            entries[rel] = e
    return table(entries)


def render_table(levels: dict[str, DriverLevel], tree_version: str) -> str:
    """The Python source of ``harness/base/initcall_table.py``."""
    lines = [
        f'"""Early initcall levels of drivers, by match ID (generated from Linux {tree_version}',
        'by corpus/initcalls.py: do not edit; IDs not listed register at device level)."""',
        "",
        "# ID -> (level, file whose *_initcall() registers the driver)",
        "CLIENT_INITCALLS: dict[str, tuple[str, str]] = {",
    ]
    lines += [f"    {i!r}: ({d.level!r}, {d.file!r})," for i, d in sorted(levels.items())]
    lines.append("}")
    return "\n".join(lines) + "\n"


def tree_version(tree: Path) -> str:
    """``VERSION.PATCHLEVEL.SUBLEVEL`` from the tree's top Makefile."""
    head = (tree / "Makefile").read_text(errors="replace")[:2000]
    parts = [re.search(rf"^{k}\s*=\s*(\d*)", head, re.M) for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL")]
    return ".".join(m.group(1) for m in parts if m and m.group(1))


def table_main(argv: list[str], module: str, needs: str, scan: Callable[[Path], Any],
               render: Callable[[Any, str], str]) -> int:
    """``python -m MODULE KERNEL_TREE``: print the checked-in table the tree
    gives (``needs`` is a path the tree must have); one usage line and exit 2
    otherwise.  Shared by the table generators of ``corpus/``."""
    if len(argv) != 1 or not (Path(argv[0]) / needs).exists():
        print(f"usage: python -m {module} KERNEL_TREE", file=sys.stderr)
        return 2
    tree = Path(argv[0])
    sys.stdout.write(render(scan(tree), tree_version(tree)))
    return 0


def main(argv: list[str]) -> int:
    return table_main(argv, "corpus.initcalls", "drivers", scan, render_table)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
