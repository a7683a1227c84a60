"""Replay every stored reproducer (recursively under --crashes) against a
variant: a regression gate, in KTAP (Documentation/dev-tools/ktap.rst), one
test case per stored scenario (scenarios stored under several variants are
replayed once).

With ``--base B`` each scenario also runs under B, and a case is a regression
only when the variant shows a finding B does not show on that scenario (a
scenario that passes on B and fails on the variant; or a new finding on top
of B's): ``not ok``.  A scenario that fails on B as well with nothing new is
not the variant's doing: ``ok ... # SKIP``.  Without ``--base`` every
scenario that still shows a finding is ``not ok``.

Exit 0: no case is ``not ok``; 1: some are (regressions, with --base); 2: bad
input (unreadable store, unknown variant)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fuzz.cli import UsageError
from fuzz.cluster import ClusterError, add_cluster_arguments, check_cluster_arguments
from fuzz.commands.fuzz import DEFAULT_CRASHES
from fuzz.crashstore import StoreError, load_reproducer
from fuzz.replay import Outcome, Replay, replay_all
from fuzz.variant_arg import resolve_variant_on, uses_tree
from harness.boot import boot_config_from_json
from mutators.space import resolve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", required=True,
                   help="V614, NEXT, PRESET+site<op>..., or a variant JSON file")
    p.add_argument("--tree", type=Path, default=None, metavar="DIR",
                   help="kernel tree whose facts drive the model (`probefuzz facts`): "
                   "--variant/--base NEXT or V614 overlay the series' core sites on its "
                   "drivers, TREE runs it as it is")
    p.add_argument("--base", default=None, metavar="VARIANT",
                   help="judge against this variant (e.g. NEXT): only findings the base does not show "
                   "on a scenario count (default: every finding counts)")
    p.add_argument("--crashes", default=DEFAULT_CRASHES,
                   help=f"directory of reproducers, searched recursively (default: {DEFAULT_CRASHES})")
    p.add_argument("--jobs", type=int, default=1,
                   help="replay in batches on a local Dask cluster of N processes (default: 1, here)")
    add_cluster_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of KTAP")


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


def _titles(findings: list[Outcome]) -> dict[str, set[str]]:
    """Title -> the title and its alternative titles (a finding matches across variants by any)."""
    return {f.title: {f.title, *f.alt_titles} for f in findings}


def _new(variant: dict[str, set[str]], base: dict[str, set[str]]) -> list[str]:
    """The variant's titles that match none of the base's."""
    seen = set().union(*base.values()) if base else set()
    return [t for t, names in variant.items() if not names & seen]


def ktap_name(text: str) -> str:
    """A KTAP test description: any characters but '#' and newlines."""
    return " ".join(text.replace("#", "").split())


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    check_cluster_arguments(args)
    if uses_tree(args.variant, args.tree) or uses_tree(args.base, None):
        v = resolve_variant_on(args.variant, args.tree)
        base = resolve_variant_on(args.base, args.tree) if args.base else None
    else:
        v = resolve(args.variant).variant
        base = resolve(args.base).variant if args.base else None
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
        outcomes, _run = replay_all([v] if base is None else [v, base], replays, jobs=args.jobs,
                                    scheduler=args.scheduler, kind=args.executor)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    for row, per in zip(rows, outcomes, strict=True):
        found = _titles(per[0])
        row["findings"] = list(found)
        if base is None:
            row["status"] = "passes" if not found else "fails"
        else:
            on_base = _titles(per[1])
            row["base_findings"] = list(on_base)
            row["new"] = _new(found, on_base)
            row["status"] = ("regression" if row["new"] else "passes" if not found
                             else "fails on the base too")
    failing = [r for r in rows if r["status"] in ("fails", "regression")]
    if args.json:
        json.dump({"variant": v.name, "base": base.name if base else None, "scenarios": len(rows),
                   "failing": len(failing), "results": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(ktap(v.name, base.name if base else None, rows, len(files)))
    return 1 if failing else 0


def ktap(variant: str, base: str | None, rows: list[dict[str, Any]], files: int) -> str:
    """The replay as a KTAP version 1 document: one test case per stored scenario."""
    out = ["KTAP version 1",
           f"# probefuzz regress: {len(rows)} stored scenarios ({files} reproducer files) under "
           f"{ktap_name(variant)}" + (f", against {ktap_name(base)}" if base else ""),
           f"1..{len(rows)}"]
    for i, row in enumerate(rows, 1):
        name = ktap_name(f"{row['platform']}: {row['title']}")
        st = row["status"]
        if st == "passes":
            out.append(f"ok {i} {name}")
        elif st == "fails on the base too":
            out.append(f"ok {i} {name} # SKIP not a regression: fails on {ktap_name(str(base))} too")
        else:
            shown = row["new"] if st == "regression" else row["findings"]
            for t in shown:
                out.append(f"# {ktap_name(t)}")
            why = (f"regression: passes on {ktap_name(str(base))}" if st == "regression"
                   and not row["base_findings"] else
                   f"regression: new against {ktap_name(str(base))}" if st == "regression" else "still fails")
            out.append(f"not ok {i} {name} # {why}")
    n = sum(1 for r in rows if r["status"] in ("fails", "regression"))
    skips = sum(1 for r in rows if r["status"] == "fails on the base too")
    out.append(f"# {ktap_name(variant)}: {n} of {len(rows)} " + ("regressions" if base else "still fail")
               + (f", {skips} fail on {ktap_name(base)} too (skipped)" if base else ""))
    return "\n".join(out) + "\n"
