"""The bundled QEMU ``virt`` board: an SMMUv3 in front of the PCIe host
bridge (``iommu-map``), and four PCI functions the DT does not name.

QEMU builds the DT itself; ``dumpdtb=`` writes it and exits.  The ``-device``
lines put functions on the root bus at fixed slots (``addr=``); the DT never
lists them (the guest finds them by scanning), so the platform declares them
in its ``pci`` field, with the IDs QEMU gives them.  The exact command is the
board's provenance; :func:`build` reruns it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

from corpus import hosttools
from corpus.dt import load_platform_file
from harness.board import Board

NAME = "qemu-virt-smmuv3"

# -device -> the function it adds: slot (addr=) and vendor/device ID
# (hw/net/virtio-net, hw/virtio/virtio-rng-pci: modern-only 1af4:1040+id;
# hw/net/e1000e.c 8086:10d3; hw/usb/hcd-xhci-pci.c qemu-xhci 1b36:000d)
DEVICES: tuple[tuple[str, str], ...] = (
    ("virtio-net-pci,addr=01.0,disable-legacy=on,romfile=", "00:01.0=pci1af4,1041"),
    ("virtio-rng-pci,addr=02.0,disable-legacy=on", "00:02.0=pci1af4,1044"),
    ("e1000e,addr=03.0,romfile=", "00:03.0=pci8086,10d3"),
    ("qemu-xhci,addr=04.0", "00:04.0=pci1b36,000d"),
)


def command(dtb: str) -> list[str]:
    """The qemu-system-aarch64 argument list that dumps the board's DTB to ``dtb``."""
    argv = ["qemu-system-aarch64", "-machine", f"virt,iommu=smmuv3,dumpdtb={dtb}",
            "-cpu", "cortex-a57", "-m", "1024", "-nographic", "-nodefaults"]
    for dev, _ in DEVICES:
        argv += ["-device", dev]
    return argv


def qemu_version() -> str:
    """``qemu-system-aarch64 --version``'s version number."""
    out = hosttools.run(["qemu-system-aarch64", "--version"], timeout=30).stdout.decode()
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else out.strip().splitlines()[0]


def build() -> Board:
    """Run QEMU, load the DTB it dumps, declare the PCI functions."""
    with tempfile.TemporaryDirectory(prefix="probefuzz-qemu-") as d:
        dtb = str(Path(d) / "virt.dtb")
        hosttools.run(command(dtb), timeout=60, subject="the virt machine")
        p = load_platform_file(dtb)
    p.name = NAME
    p.model = "QEMU virt, SMMUv3 (iommu=smmuv3), 4 PCI functions"
    p.pci = tuple(spec for _, spec in DEVICES)
    # the DTB itself differs per run (/chosen rng-seed, kaslr-seed): hash
    # the nodes the platform keeps instead
    nodes = json.dumps(p.to_json()["nodes"], sort_keys=True).encode()
    p.provenance = {"source": "qemu", "command": " ".join(command("virt.dtb")),
                    "qemu_version": qemu_version(), "nodes_sha256": hashlib.sha256(nodes).hexdigest()}
    return p


def main(argv: list[str]) -> int:
    """``python -m corpus.qemu_virt OUT.json``: regenerate the bundled board."""
    if len(argv) != 1:
        print("usage: python -m corpus.qemu_virt OUT.json", file=sys.stderr)
        return 2
    build().save(argv[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
