"""Resolve a ``--variant`` argument: a preset name, a variant-space id
(``NEXT+site:op...``, as ``probefuzz variants --depth N`` lists them) or a
saved variant JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from harness.variant import PRESETS, Variant, VariantError, variant_from_json
from mutators.space import resolve


def resolve_variant(arg: str) -> Variant:
    """``V614``, ``NEXT``, ``PRESET+site:op...``, or a path to a variant JSON;
    VariantError otherwise."""
    if arg in PRESETS:
        return PRESETS[arg]
    if arg.split("+", 1)[0] in PRESETS:
        return resolve(arg).variant
    p = Path(arg)
    if p.suffix == ".json" or p.exists():
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise VariantError(f"{arg}: no such variant file") from None
        except (OSError, ValueError) as e:
            raise VariantError(f"{arg}: not a variant file: {e}") from None
        return variant_from_json(data, arg)
    raise VariantError(f"unknown variant {arg!r} (known: {', '.join(PRESETS)}, PRESET+site:op..., "
                       "or a variant .json file)")
