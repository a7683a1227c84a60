"""Run one scenario: a platform (``.dts`` in a kernel tree, ``.dtb``, platform
``.json``) booted under a variant with the default schedule, or a stored
reproducer replayed bit for bit (its schedule and boot configuration), findings
printed as a kernel log or as JSON.  Exit 0: no finding; 1: findings; 2: bad
input."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from corpus.dt import load_platform_file
from fuzz.crashstore import StoreError, load_reproducer
from fuzz.variant_arg import resolve_variant, resolve_variant_on, tree_for
from harness.base.devlink import FW_DEVLINK_MODES
from harness.boot import BootConfig, boot_config_from_json
from harness.bus.pci_spec import parse_pci_spec
from harness.klog import render_result
from harness.run import run_scenario
from harness.variant import variant_from_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default=None,
                   help="V614, NEXT or a variant JSON file (default: NEXT, or the "
                   "reproducer's own variant)")
    p.add_argument("--tree", type=Path, default=None, metavar="DIR",
                   help="kernel tree whose guard sites and driver facts drive the model "
                   "(see `probefuzz facts`); NEXT/V614 then overlay the series' core sites "
                   "on its drivers, TREE runs it as it is (default: the .dts's tree, "
                   "else the cached reference tree's presets)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--pci", action="append", default=[], type=_pci_arg, metavar="[DDDD:]BB:DD.F[=ID]",
                   help="a PCI function the host bridge's bus scan finds besides the DT's "
                   "(repeatable; prefix hotplug: for one that appears at a rescan event)")
    p.add_argument("--fw-devlink", choices=FW_DEVLINK_MODES, default=None,
                   help="fw_devlink= (default rpm, as 6.12; rpm and on: a supplier not bound yet "
                   "holds its consumers' probe)")
    p.add_argument("--fw-devlink-strict", action="store_true",
                   help="fw_devlink.strict=1: the optional iommus/iommu-map/dmas links hold too")
    p.add_argument("platform", help=".dts inside a kernel tree, .dtb, platform .json, "
                   "or a stored reproducer .json")


def _pci_arg(s: str) -> str:
    try:
        parse_pci_spec(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return s


def _is_reproducer(path: str) -> bool:
    """A stored crash reproducer (``"format": "probefuzz-reproducer"``)?"""
    if not path.endswith(".json"):
        return False
    try:
        return '"probefuzz-reproducer"' in Path(path).read_text(errors="replace")[:4096]
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    if _is_reproducer(args.platform):
        # Replay bit for bit: its platform, variant, schedule and boot config
        # (--variant only overrides when given explicitly).
        rep = load_reproducer(args.platform)
        platform = rep.platform()
        v = resolve_variant(args.variant) if args.variant is not None else variant_from_json(rep.variant)
        try:
            cfg = boot_config_from_json(rep.config, list(rep.schedule))
        except (TypeError, ValueError) as e:
            raise StoreError(f"{rep.source}: config: {e}") from None
    else:
        v = resolve_variant_on(args.variant or "NEXT", tree_for(args.tree, args.platform))
        platform = load_platform_file(args.platform)
        cfg = BootConfig()
    if args.pci:
        cfg = dataclasses.replace(cfg, pci=(*cfg.pci, *args.pci))
    if args.fw_devlink is not None:
        cfg = dataclasses.replace(cfg, fw_devlink=args.fw_devlink)
    if args.fw_devlink_strict:
        cfg = dataclasses.replace(cfg, fw_devlink_strict=True)
    r = run_scenario(platform, v, cfg)
    if args.json:
        json.dump(r.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_result(r, platform.model))
    return 1 if r.findings else 0
