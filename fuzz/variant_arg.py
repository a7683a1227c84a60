"""Resolve a ``--variant`` argument: a preset name, a variant-space id
(``NEXT+site<op>...``, as ``probefuzz variants --depth N`` lists them) or a
saved variant JSON file."""

from __future__ import annotations

import sys
from pathlib import Path

from corpus.kernel_tree import default_tree_path, find_kernel_root
from harness.inputs import read_json
from harness.variant import PRESETS, Variant, VariantError, make_variant, tree_facts, variant_from_json
from mutators.facts import FactsError, TreeProfile, build_notes, read_profile, tree_variant, warnings_for
from mutators.space import mutate, parse_id, resolve


def tree_for(tree: Path | None, platform: str | None) -> Path | None:
    """The tree whose facts drive the model: ``--tree``, else the kernel tree a
    ``.dts`` sits in when that is not the cached reference tree (whose facts the
    presets already are), else None."""
    if tree is not None:
        return tree
    if platform and platform.endswith(".dts"):
        root = find_kernel_root(platform)
        if root is not None and root.resolve() != default_tree_path().resolve():
            return root
    return None


def uses_tree(arg: str | None, tree: Path | None) -> bool:
    """Whether a variant argument needs a tree profile (``--tree`` or a TREE id)."""
    return tree is not None or (arg is not None and parse_id(arg)[0] == "TREE")


def resolve_variant_on(arg: str, tree: Path | None) -> Variant:
    """:func:`resolve_variant`, with the presets read from ``tree``'s profile:
    ``TREE`` is the tree as it is, ``NEXT``/``V614`` the preset's core sites over
    the tree's drivers, each optionally followed by mutations (``NEXT+site...``)
    applied to those values.  The tree's registration levels travel with the
    variant.  Unmodelled shapes are warned about on stderr."""
    if not uses_tree(arg, tree):
        return resolve_variant(arg)
    t = tree if tree is not None else default_tree_path()
    prof = tree_profile(t)
    base, muts = parse_id(arg)
    if base != "TREE" and base not in PRESETS:
        raise VariantError(f"--tree {t}: the variant must be TREE, V614 or NEXT (optionally "
                           f"+mutations) with a tree, not {arg!r}")
    tv = tree_variant(prof, None if base == "TREE" else base)
    if not muts:
        return tv
    values = tv.as_dict()
    for m in muts:
        values = mutate(values, m)
    return make_variant(f"{tv.name}{arg[len(base):]}", tv.description, values, *tree_facts(tv))


def tree_profile(tree: Path, warn: bool = True, option: str = "--tree") -> TreeProfile:
    """The profile of ``--tree DIR`` (``probefuzz facts``), its unmodelled shapes
    printed as warnings on stderr and the drivers its configuration does not
    build in as notes; VariantError (one line, exit 2) when DIR is
    not a directory or not a kernel tree."""
    try:
        ok = tree.is_dir()
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise VariantError(f"{option} {_short(str(tree))}: no such directory")
    try:
        prof = read_profile(tree)
    except FactsError as e:
        raise VariantError(f"{option} {e}") from None
    if warn:
        for w in [*warnings_for(prof), *build_notes(prof)]:
            print(w, file=sys.stderr)
    return prof


def resolve_variant(arg: str) -> Variant:
    """``V614``, ``NEXT``, ``PRESET+site<op>...``, or a path to a variant JSON;
    VariantError otherwise."""
    if arg in PRESETS:
        return PRESETS[arg]
    if arg.split("+", 1)[0] in PRESETS:
        return resolve(arg).variant
    p = Path(arg)
    if p.suffix == ".json" or _exists(p):
        return variant_from_json(read_json(p, VariantError), arg)
    raise VariantError(f"unknown variant {_short(arg)!r} (known: {', '.join(PRESETS)}, "
                       "PRESET+site<op>..., or a variant .json file)")


def _exists(p: Path) -> bool:
    """``p.exists()``, False for names the OS refuses (too long, NUL)."""
    try:
        return p.exists()
    except (OSError, ValueError):
        return False


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
