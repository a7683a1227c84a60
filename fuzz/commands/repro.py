"""Run one scenario: a platform (``.dts`` in a kernel tree, ``.dtb``, platform
``.json``) booted under a variant with the default schedule, findings printed
as a kernel log or as JSON.  Exit 0: no finding; 1: findings; 2: bad input."""

from __future__ import annotations

import argparse
import json
import sys

from corpus.dt import load_platform_file
from fuzz.variant_arg import resolve_variant
from harness.klog import render_result
from harness.scenario import run_scenario


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="NEXT",
                   help="V614, NEXT or a variant JSON file (default: NEXT)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("platform", help=".dts inside a kernel tree, .dtb, or platform .json")


def run(args: argparse.Namespace) -> int:
    v = resolve_variant(args.variant)
    platform = load_platform_file(args.platform)
    r = run_scenario(platform, v)
    if args.json:
        json.dump(r.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_result(r, platform.model))
    return 1 if r.findings else 0
