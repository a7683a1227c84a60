"""Prepare the cached Debian linux-source kernel tree and print where it is.

The first run extracts /usr/src/linux-source-6.12.tar.xz (Debian package
linux-source-6.12) into ~/.cache/probefuzz/linux-source-6.12 and commits it to a
fresh git repository (about a minute); later runs return at once.

Output: the tree's path alone on the first line (so scripts can use
`probefuzz kernel-tree | head -n1`), then its kernel version and commit;
with --json, one JSON object.  Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from corpus import kernel_tree
from fuzz.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options."""
    parser.add_argument(
        "--dest",
        type=Path,
        metavar="DIR",
        help="where to prepare the tree (default: $PROBEFUZZ_KERNEL_TREE or "
        "~/.cache/probefuzz/linux-source-6.12)",
    )
    parser.add_argument(
        "--tarball",
        type=Path,
        metavar="FILE",
        help="kernel source tarball (default: /usr/src/linux-source-6.12.tar.xz)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--check",
        action="store_true",
        help="also check the C facts the model relies on; exit 1 if one does not hold",
    )


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so prepare() removes its half-made temp dir.
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    """Prepare the tree and report it; 0 on success, 1 if --check finds a mismatch."""
    if args.tarball is not None and not args.tarball.is_file():
        raise UsageError(f"--tarball {args.tarball}: no such file")
    if args.dest is not None and args.dest.exists() and not args.dest.is_dir():
        raise UsageError(f"--dest {args.dest}: exists and is not a directory")

    def log(msg: str) -> None:
        print(f"probefuzz kernel-tree: {msg}", file=sys.stderr, flush=True)

    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        tree = kernel_tree.prepare(args.dest, args.tarball, log=log)
    finally:
        signal.signal(signal.SIGTERM, old)

    marker = kernel_tree.read_marker(tree) or {}
    markers = kernel_tree.semantic_markers(tree) if args.check else {}
    failed = [k for k, ok in markers.items() if not ok]
    if args.json:
        out = {
            "path": str(tree),
            "version": marker.get("version"),
            "commit": marker.get("commit"),
            "tarball": marker.get("tarball"),
        }
        if args.check:
            out["markers"] = markers
        print(json.dumps(out, indent=2))
    else:
        print(tree)
        print(f"  version  {marker.get('version', '?')}")
        print(f"  commit   {marker.get('commit', '?')}")
        for key, ok in markers.items():
            desc = kernel_tree.MARKER_DESCRIPTIONS[key]
            print(f"  {'ok  ' if ok else 'FAIL'}     {desc}")
    return 1 if failed else 0
