"""Read a kernel tree's guard sites and IOMMU driver facts: the tree profile.

Prints every guard site as the tree has it (and where it differs from the
V614/NEXT presets), per modelled driver its registration and initcall level,
Kconfig/defconfig, probe_type, driver_managed_dma, iommu_ops callbacks and
state publication order, and one ``unmodelled:`` line per shape the model
cannot represent.  Cached under ~/.cache/probefuzz/facts/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from corpus.kernel_tree import default_tree_path as default_tree
from fuzz.cli import UsageError
from harness.variant import NEXT, V614
from mutators.facts import FactsError, TreeProfile, build_notes, read_profile, tree_initcalls


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the verb's options."""
    p.add_argument("--tree", type=Path, metavar="DIR",
                   help="kernel tree (default: the cached reference tree)")
    p.add_argument("--json", action="store_true", help="print the profile as one JSON object")
    p.add_argument("--no-cache", action="store_true", help="read the tree even if cached")


def load(tree: Path | None) -> TreeProfile:
    """The profile of ``tree`` (or of the cached reference tree); UsageError if unreadable."""
    t = tree if tree is not None else default_tree()
    if not t.is_dir():
        raise UsageError(f"--tree {t}: no such directory")
    try:
        return read_profile(t)
    except FactsError as e:
        raise UsageError(str(e)) from None


def render(prof: TreeProfile, console: Console) -> None:
    """The profile as rich tables: sites, drivers, then unmodelled lines."""
    sites = Table(title=f"guard sites of {prof.tree} ({prof.commit[:12] or 'no commit'})")
    for col in ("site", "tree", "V614", "NEXT"):
        sites.add_column(col, overflow="fold")
    v614, nxt = dict((n, a) for n, a, _ in prof.differences(V614)), dict(
        (n, a) for n, a, _ in prof.differences(NEXT))
    for name, f in prof.sites.items():
        sites.add_row(f"{name}\n{f.file}:{f.line}", f.shown,
                      v614.get(name, "=") if f.applicable else "", nxt.get(name, "=")
                      if f.applicable else "")
    console.print(sites)
    drv = Table(title="modelled IOMMU drivers")
    for col in ("driver", "registration (level)", "Kconfig (defconfig line; built: arm64 arm)", "probe_type",
                "managed dma", "register / sysfs_add", "publications", "iommu_ops"):
        drv.add_column(col, overflow="fold")
    for file, d in prof.drivers.items():
        if not d.present:
            drv.add_row(file, "missing", "", "", "", "", "", "")
            continue
        drv.add_row(file, f"{d.registration} ({d.initcall or '-'} {d.level or ''})",
                    f"{d.kconfig} {d.kconfig_type} ({d.defconfig or 'no line'}; "
                    + (" ".join(d.builds.get(a, "?") for a in ("arm64", "arm")) or "not evaluated")
                    + ")",
                    d.probe_type, "yes" if d.driver_managed_dma else "no",
                    f"{d.register_line} / {d.sysfs_add_line}",
                    "\n".join(f"{k.split('.', 1)[1]}: {v}" for k, v in d.publications.items()),
                    " ".join(d.ops_callbacks))
    console.print(drv)
    levels = tree_initcalls(prof)
    console.print(f"registration levels: {len(prof.client_initcalls)} client IDs register "
                  "before device level; " + ("all as the model's tables" if not levels else
                  f"{len(levels)} differ from the model's tables:"))
    for name, lvl in sorted(levels.items()):
        where = prof.client_initcalls.get(name, ("", ""))[1]
        console.print(f"  {name}: {lvl}" + (f" ({where})" if where else ""))
    for line in build_notes(prof):
        console.print(line.removeprefix("note: "), soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    """Print the profile; 0 (unmodelled shapes are reported, not findings)."""
    prof = load(args.tree) if not args.no_cache else _fresh(args.tree)
    if args.json:
        print(json.dumps(prof.to_json(), indent=1, sort_keys=True))
    else:
        render(prof, Console(width=200))
    for u in prof.unmodelled:
        print(u, file=sys.stderr if args.json else sys.stdout)
    return 0


def _fresh(tree: Path | None) -> TreeProfile:
    t = tree if tree is not None else default_tree()
    try:
        return read_profile(t, use_cache=False)
    except FactsError as e:
        raise UsageError(str(e)) from None
