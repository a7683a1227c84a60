"""Replay every stored reproducer (recursively under --crashes) against a
variant: a regression gate.  Scenarios stored under several variants are
replayed once.  Exit 0: none fails; 1: some still produce their finding (or
another one); 2: bad input (unreadable store, unknown variant)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fuzz.cli import UsageError
from fuzz.commands.fuzz import DEFAULT_CRASHES
from fuzz.crashstore import StoreError, load_reproducer
from harness.boot import boot_config_from_json
from harness.run import run_scenario
from mutators.space import resolve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", required=True,
                   help="V614, NEXT, PRESET+site:op..., or a variant JSON file")
    p.add_argument("--crashes", default=DEFAULT_CRASHES,
                   help=f"directory of reproducers, searched recursively (default: {DEFAULT_CRASHES})")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _reproducer_files(root: Path) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*.json")):
        if p.name.startswith("."):
            continue
        try:
            head = p.read_text(errors="replace")[:4096]
        except OSError:
            continue
        if '"probefuzz-reproducer"' in head:
            out.append(p)
    return out


def run(args: argparse.Namespace) -> int:
    v = resolve(args.variant).variant
    root = Path(args.crashes)
    if not root.is_dir():
        raise UsageError(f"{args.crashes}: no such crash directory")
    files = _reproducer_files(root)
    if not files:
        raise UsageError(f"{args.crashes}: no reproducers")
    seen: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for f in files:
        rep = load_reproducer(f)
        key = json.dumps([rep.platform_json, rep.schedule, rep.config], sort_keys=True)
        if key in seen:
            seen[key]["files"].append(str(f))
            continue
        platform = rep.platform()
        try:
            cfg = boot_config_from_json(rep.config, list(rep.schedule))
        except (TypeError, ValueError) as e:
            raise StoreError(f"{f}: config: {e}") from None
        r = run_scenario(platform, v, cfg)
        titles = [x.title for x in r.findings]
        same = any(x.title == rep.title or rep.title in x.alt_titles for x in r.findings)
        row: dict[str, Any] = {"title": rep.title, "platform": platform.name, "files": [str(f)],
               "status": "fails" if same else ("other" if titles else "passes"), "findings": titles}
        seen[key] = row
        rows.append(row)
    failing = [r for r in rows if r["status"] != "passes"]
    if args.json:
        json.dump({"variant": v.name, "scenarios": len(rows), "failing": len(failing), "results": rows},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for row in rows:
            mark = {"fails": "FAIL ", "other": "OTHER", "passes": "ok   "}[row["status"]]
            extra = "" if row["status"] != "other" else f" -> {'; '.join(row['findings'])}"
            print(f"{mark} {row['title']} ({row['platform']}){extra}")
        print(f"{v.name}: {len(failing)} of {len(rows)} stored scenarios still fail "
              f"({len(files)} reproducer files)")
    return 1 if failing else 0
