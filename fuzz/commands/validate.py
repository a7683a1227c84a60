"""Check the model against a real boot of the same kernel and device tree.

Applies the variant to the kernel tree (in a worktree, removed afterwards),
builds an arm64 Image with a small config for QEMU's virt machine (build
cache ~/.cache/probefuzz/build-arm64, ccache), boots it under
qemu-system-aarch64 (TCG) with an SMMUv3 or a virtio-iommu and the given
virtio/PCI devices, and has the initramfs list the IOMMU groups.  The model
boots the DTB QEMU dumped, with the same PCI functions.  Prints an
agreement table: per device, grouped or not and with whom; per finding
title (oops, WARN), present or not.  Exit 0: agree; 1: disagree; 2: bad
input or a missing tool (named with its Debian package).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from corpus.kernel_tree import default_tree_path
from fuzz.cli import UsageError
from fuzz.validate import qemu
from fuzz.validate.compare import render
from fuzz.validate.run import ValidateRequest, validate
from mutators.gitrepo import RepoError
from mutators.rules import RuleError
from mutators.space import resolve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", required=True,
                   help="variant id (V614, NEXT, NEXT+site:op..., or a variant JSON file)")
    p.add_argument("--tree", default=None,
                   help="the kernel git tree (default: the cached tree, probefuzz kernel-tree)")
    p.add_argument("--base-ref", default="HEAD", help="commit to apply on (default HEAD)")
    p.add_argument("--machine", choices=qemu.MACHINES, default=qemu.SMMUV3,
                   help="virt with an SMMUv3 (default) or a virtio-iommu-pci")
    p.add_argument("--device", action="append", default=None, metavar="QDEV",
                   help="a QEMU PCI device, repeatable, in slot order (known: "
                   f"{', '.join(qemu.DEVICES)}; default: {', '.join(qemu.DEFAULT_DEVICES)})")
    p.add_argument("--image", default=None,
                   help="boot this prebuilt arm64 Image (of this variant) instead of building")
    p.add_argument("--console-log", default=None, help="save the boot's console to this file")
    p.add_argument("--timeout", type=float, default=qemu.BOOT_TIMEOUT,
                   help=f"seconds the boot may take (default {qemu.BOOT_TIMEOUT:g})")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    mutant = resolve(args.variant)
    try:
        m = qemu.machine(args.machine, args.device or list(qemu.DEFAULT_DEVICES))
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {args.timeout:g}")
    image = Path(args.image) if args.image else None
    if image is not None and not image.is_file():
        raise UsageError(f"{image}: no such Image")
    tree = Path(args.tree) if args.tree else default_tree_path()
    if image is None and not tree.is_dir():
        raise UsageError(f"{tree}: no kernel tree (run probefuzz kernel-tree, or give --tree)")
    req = ValidateRequest(mutant.variant, mutant.id, m, tree, args.base_ref, image,
                          Path(args.console_log) if args.console_log else None, args.timeout)
    try:
        res = validate(req)
    except (RepoError, RuleError) as e:
        raise UsageError(str(e)) from None
    if args.json:
        json.dump(res.as_json(), sys.stdout, indent=1)
        print()
    else:
        b = res.boot
        what = ("timed out" if b.timed_out else "reached init" if res.real.complete
                else "panicked" if res.real.panicked else "ended before init")
        print(f"variant {mutant.id} on virt+{m.iommu}, "
              f"{', '.join(f.qdev + '@' + f.name for f in m.functions)}")
        if res.build is not None:
            print(f"kernel {res.commit[:12]}: built in {res.build.seconds['total']:.1f} s"
                  f"{' (cold config)' if res.build.cold else ''}")
        print(f"boot: {what} in {b.seconds:.1f} s ({res.real.version or 'no Linux banner'})")
        print(render(res.comparison), end="")
    return 0 if res.comparison.agree else 1
