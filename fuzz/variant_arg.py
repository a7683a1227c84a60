"""Resolve a ``--variant`` argument: a preset name, a variant-space id
(``NEXT+site<op>...``, as ``probefuzz variants --depth N`` lists them) or a
saved variant JSON file."""

from __future__ import annotations

from pathlib import Path

from harness.inputs import read_json
from harness.variant import PRESETS, Variant, VariantError, variant_from_json
from mutators.space import resolve


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
