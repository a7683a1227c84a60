"""Resolve a ``--variant`` argument: a preset name or a saved variant JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from harness.variant import PRESETS, Variant, VariantError, variant_from_json


def resolve_variant(arg: str) -> Variant:
    """``V614``, ``NEXT``, or a path to a variant JSON; VariantError otherwise."""
    if arg in PRESETS:
        return PRESETS[arg]
    p = Path(arg)
    if p.suffix == ".json" or p.exists():
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise VariantError(f"{arg}: no such variant file") from None
        except (OSError, ValueError) as e:
            raise VariantError(f"{arg}: not a variant file: {e}") from None
        return variant_from_json(data, arg)
    raise VariantError(f"unknown variant {arg!r} (known: {', '.join(PRESETS)}, or a variant .json file)")
