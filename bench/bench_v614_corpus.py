"""V614 on every arm64 corpus board with IOMMUs: what ``probefuzz repro
--variant V614 BOARD`` reports, board by board.

V614 is the kernel that boots these boards today, so the model must not
report an oops, a deadlock or a warning on any of them; anything else is
either a model divergence from the C or an exception explained in
docs/drivers/ with the C line.  Each board runs as ``repro`` runs it
(``run_scenario`` with the default ``BootConfig``, in-process: 668 process
start-ups would dominate); ``--cli N`` also spawns the real ``probefuzz
repro`` on the first N boards and checks it agrees.

Usage::

    .venv/bin/python bench/bench_v614_corpus.py [--tree DIR] [--corpus DIR] [--fw-devlink MODE]
        [--arch arm64] [--limit N] [--cli N] [--json]

Needs the corpus built (``probefuzz corpus build``).  docs/benchmarks.md
(section "V614 over the corpus") records the figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import kernel_tree  # noqa: E402
from corpus.build import default_out, load_index  # noqa: E402
from harness.base import dd  # noqa: E402
from harness.board import load_board  # noqa: E402
from harness.boot import BootConfig  # noqa: E402
from harness.device import device  # noqa: E402
from harness.run import run_scenario  # noqa: E402
from harness.variant import V614  # noqa: E402

SERIOUS = ("oops", "deadlock", "warning")
EPROBE_DEFER = -517


class HeldProbes:
    """Counts the probes fw_devlink (``device_links_check_suppliers()``) and
    ``pinctrl_bind_pins()`` defer, per reason and per board, by wrapping the
    two calls ``really_probe()`` makes."""

    def __init__(self) -> None:
        self.probes: collections.Counter[str] = collections.Counter()
        self.boards: dict[str, set[str]] = collections.defaultdict(set)
        self.board = ""
        links, pins = dd.devlink.device_links_check_suppliers, dd.pinctrl.pinctrl_bind_pins

        def check(dev: device) -> int:
            ret = int(links(dev))
            if ret == EPROBE_DEFER:
                why = "wait for supplier" if (dev.deferred_probe_reason or "").startswith("wait") \
                    else "supplier not ready"
                self._held(f"fw_devlink: {why}")
            return ret

        def bind(dev: device) -> int:
            ret = int(pins(dev))
            if ret == EPROBE_DEFER:
                self._held("pinctrl_bind_pins")
            return ret

        dd.devlink.device_links_check_suppliers = check
        dd.pinctrl.pinctrl_bind_pins = bind

    def _held(self, why: str) -> None:
        self.probes[why] += 1
        self.boards[why].add(self.board)



def boards(out: Path, arch: str) -> list[tuple[str, Path]]:
    """(source .dts, platform JSON) of the boards whose summary has an IOMMU family."""
    index = load_index(out)
    return sorted((src, out / b["platform"]) for src, b in index.get("boards", {}).items()
                  if b.get("arch") == arch and b.get("platform") and b.get("summary", {}).get("families"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=None, help="kernel tree (default: prepared)")
    ap.add_argument("--corpus", type=Path, default=None,
                    help="built corpus directory (default: the tree's, as `probefuzz corpus build`)")
    ap.add_argument("--fw-devlink", default="rpm", help="fw_devlink= (default: rpm, as 6.12)")
    ap.add_argument("--arch", default="arm64")
    ap.add_argument("--limit", type=int, default=0, help="only the first N boards")
    ap.add_argument("--cli", type=int, default=0, help="also run `probefuzz repro` on the first N")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tree = args.tree or kernel_tree.default_tree_path()
    todo = boards(args.corpus or default_out(tree), args.arch)
    cfg = BootConfig(fw_devlink=args.fw_devlink)
    if args.limit:
        todo = todo[:args.limit]
    kinds: collections.Counter[str] = collections.Counter()
    lints: collections.Counter[str] = collections.Counter()
    by_title: dict[str, list[str]] = collections.defaultdict(list)
    stats: collections.Counter[str] = collections.Counter()
    held = HeldProbes()
    t0 = time.process_time()
    w0 = time.monotonic()
    for src, path in todo:
        held.board = src
        r = run_scenario(load_board(path), V614, cfg)
        for f in r.findings:
            kinds[f.kind] += 1
            by_title[f"{f.kind}: {f.title}"].append(Path(src).stem)
        for f in r.lints:
            lints[f.title] += 1
        for k, v in r.stats.items():
            stats[k] += v
    cpu, wall = time.process_time() - t0, time.monotonic() - w0
    agree = []
    for _src, path in todo[:args.cli]:
        p = subprocess.run([sys.executable, "-m", "fuzz.cli", "repro", "--variant", "V614", "--json",
                            "--fw-devlink", args.fw_devlink, str(path)],
                           capture_output=True, text=True, timeout=300,
                           cwd=Path(__file__).resolve().parent.parent)
        mine = run_scenario(load_board(path), V614, cfg).to_json()
        agree.append(p.returncode in (0, 1) and json.loads(p.stdout) == json.loads(json.dumps(mine)))
    res: dict[str, Any] = {
        "boards": len(todo), "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
        "findings_by_kind": dict(kinds), "serious": sum(kinds[k] for k in SERIOUS),
        "boards_with_serious": len({b for t, bs in by_title.items()
                                    if t.split(":")[0] in SERIOUS for b in bs}),
        "by_title": {t: {"count": len(bs), "boards": sorted(set(bs))[:8]}
                     for t, bs in sorted(by_title.items())},
        "lints": dict(lints), "stats": dict(stats),
        "held_probes": {why: {"probes": n, "boards": len(held.boards[why])}
                        for why, n in sorted(held.probes.items())},
        "cli_checked": len(agree), "cli_agrees": all(agree),
    }
    if args.json:
        json.dump(res, sys.stdout, indent=1)
        print()
    else:
        print(f"{res['boards']} {args.arch} boards with IOMMUs under V614 in {res['cpu_s']} s CPU "
              f"({res['wall_s']} s wall)")
        for k in ("oops", "deadlock", "warning", "group", "isolation", "defer"):
            print(f"  {k:10s} {kinds[k]}")
        print(f"  lints      {sum(lints.values())} ({len(lints)} titles)")
        for t, d in res["by_title"].items():
            print(f"  {d['count']:5d}  {t}  [{', '.join(d['boards'])}{', ...' if d['count'] > 8 else ''}]")
        print(f"  totals: {dict(stats)}")
        for why, d in res["held_probes"].items():
            print(f"  deferred by {why}: {d['probes']} probes on {d['boards']} boards")
        if agree:
            print(f"  probefuzz repro agrees on {sum(agree)}/{len(agree)} boards")
    return 1 if res["serious"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
