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

from corpus.store import StoreError, load_reproducer
from fuzz.cli import UsageError
from fuzz.cluster import ClusterError, add_cluster_arguments, check_cluster_arguments
from fuzz.commands.fuzz import DEFAULT_CRASHES
from fuzz.replay import Replay, replay_all
from harness.boot import boot_config_from_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", required=True,
                   help="V614, NEXT, PRESET+site:op..., or a variant JSON file")
    p.add_argument("--crashes", default=DEFAULT_CRASHES,
                   help=f"directory of reproducers, searched recursively (default: {DEFAULT_CRASHES})")
    p.add_argument("--jobs", type=int, default=1,
                   help="replay in batches on a local Dask cluster of N processes (default: 1, here)")
    add_cluster_arguments(p)
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
    from mutators.space import resolve

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    check_cluster_arguments(args)
    v = resolve(args.variant).variant
    root = Path(args.crashes)
    if not root.is_dir():
        raise UsageError(f"{args.crashes}: no such crash directory")
    files = _reproducer_files(root)
    if not files:
        raise UsageError(f"{args.crashes}: no reproducers")
    seen: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    replays: list[Replay] = []
    for f in files:
        rep = load_reproducer(f)
        key = json.dumps([rep.platform_json, rep.schedule, rep.config], sort_keys=True)
        if key in seen:
            seen[key]["files"].append(str(f))
            continue
        platform = rep.platform()
        try:
            boot_config_from_json(rep.config, list(rep.schedule))
        except (TypeError, ValueError) as e:
            raise StoreError(f"{f}: config: {e}") from None
        row: dict[str, Any] = {"title": rep.title, "platform": platform.name, "files": [str(f)]}
        seen[key] = row
        rows.append(row)
        replays.append(Replay(platform, rep.config, list(rep.schedule)))
    try:
        outcomes, _run = replay_all(v, replays, jobs=args.jobs, scheduler=args.scheduler,
                                    kind=args.executor)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    for row, found in zip(rows, outcomes, strict=True):
        titles = [x.title for x in found]
        same = any(x.title == row["title"] or row["title"] in x.alt_titles for x in found)
        row["status"] = "fails" if same else ("other" if titles else "passes")
        row["findings"] = titles
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
