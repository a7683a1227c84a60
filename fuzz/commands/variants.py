"""List guard variants: the presets, or the space around a base.

Without ``--depth`` (or with ``--depth 0``) it lists the known variants (V614,
NEXT) with each guard site's value.  With ``--depth N`` it lists every variant
within N mutations of ``--base`` (default NEXT), de-duplicated, each with its
stable id (usable as ``probefuzz apply --variant ID``) and a one-line
description.
"""

from __future__ import annotations

import argparse
import json
import sys

from fuzz.cli import UsageError
from harness.variant import PRESETS, SITES, render_value, variant_to_json
from mutators.space import resolve, space


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default=None, help="base variant for --depth (default NEXT)")
    p.add_argument("--depth", type=int, default=None,
                   help="list variants within N mutations of the base (e.g. 2)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _presets(as_json: bool) -> int:
    if as_json:
        out = {"variants": [dict(variant_to_json(v), id=k, fingerprint=v.fingerprint(),
                                 c={n: render_value(s, v.value(n)) for n, s in SITES.items()})
                            for k, v in PRESETS.items()]}
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    for k, v in PRESETS.items():
        print(f"{k}  ({v.fingerprint()})  {v.description}")
        for n, s in SITES.items():
            print(f"  {n:45} {render_value(s, v.value(n))}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.depth is None and args.base is None:
        return _presets(args.json)
    base = args.base or "NEXT"
    depth = 2 if args.depth is None else args.depth
    if depth < 0:
        raise UsageError("--depth must be >= 0")
    root = resolve(base)
    items = space(base, depth)
    if args.json:
        out = {"base": root.id, "depth": depth, "count": len(items),
               "variants": [{"id": m.id, "description": m.description,
                             "depth": len(m.mutations) - len(root.mutations),
                             "fingerprint": m.variant.fingerprint(),
                             "mutations": [x.token for x in m.mutations]} for m in items]}
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    print(f"{len(items)} variants within {depth} mutation(s) of {root.id}")
    for m in items:
        print(f"{m.id}\n    {m.description}")
    return 0
