"""Link order of device-level drivers, read from a kernel tree.

Built-in initcalls of one level run in link order (init/main.c
``do_initcalls()`` walks ``__initcall6_start``..., filled by the linker in
the order of drivers/Makefile).  drivers/Makefile links ``phy/``,
``pinctrl/``, ``gpio/`` before ``pci/`` and ``clk/``, ``dma/``, ``soc/``,
``pmdomain/``, ``regulator/``, ``reset/`` before ``iommu/``: at
``device_initcall`` a clock, power-domain, reset or PHY driver registers --
and binds its devices -- before the IOMMU drivers and the PCI host bridges,
which most IOMMU clients wait for through fw_devlink.

:func:`scan` maps every match ID of a device-level driver (``corpus.initcalls``
``file_level()``) in a directory linked before ``drivers/iommu/`` to the first
of ``"pci"``/``"iommu"`` it links before; :func:`render_table` writes
``harness/base/link_order_table.py``.  Regenerate with
``python -m corpus.linkorder TREE > harness/base/link_order_table.py``;
tests/corpus/test_linkorder.py checks the checked-in table against the tree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from corpus.initcalls import DEVICE, _match_table_files, file_entry, table_main

BEFORE_PCI = "pci"
BEFORE_IOMMU = "iommu"
_OBJ = re.compile(r"^obj-[^+:=]*\+=\s*(.*)$", re.M)


def link_order(makefile: str) -> list[str]:
    """The subdirectories drivers/Makefile links, in order (first mention)."""
    out: list[str] = []
    for m in _OBJ.finditer(makefile):
        for d in m.group(1).split():
            d = d.rstrip("/")
            if d.endswith(".o") or d in out:
                continue
            out.append(d)
    return out


def bucket(rel: str, order: list[str]) -> str | None:
    """``"pci"``/``"iommu"``: the first of drivers/pci/, drivers/iommu/ that
    the file ``rel`` (drivers/...) links before; None when after both."""
    parts = rel.split("/")[1:-1]
    pos = None
    for k in range(len(parts), 0, -1):  # the deepest directory the Makefile names
        d = "/".join(parts[:k])
        if d in order:
            pos = order.index(d)
            break
    if pos is None:
        return None
    if pos < order.index("pci"):
        return BEFORE_PCI
    if pos < order.index("iommu"):
        return BEFORE_IOMMU
    return None


def scan(tree: Path) -> dict[str, str]:
    """match ID -> ``"pci"``/``"iommu"`` for device-level drivers linked before them."""
    order = link_order((tree / "drivers/Makefile").read_text(errors="replace"))
    out: dict[str, str] = {}
    for rel in _match_table_files(tree, ("drivers",)):
        b = bucket(rel, order)
        if b is None:
            continue
        e = file_entry((tree / rel).read_text(errors="replace"))
        if e is None or e[0] != DEVICE:
            continue
        for i in e[1]:
            if out.get(i) != BEFORE_PCI:
                out[i] = b
    return out


def render_table(table: dict[str, str], version: str) -> str:
    """The Python source of ``harness/base/link_order_table.py``."""
    lines = [
        '"""Device-level drivers linked before drivers/pci/ or drivers/iommu/, by match ID',
        f'(generated from Linux {version} by corpus/linkorder.py: do not edit; IDs not',
        'listed link after drivers/iommu/)."""',
        "",
        "# ID -> 'pci' (linked before drivers/pci/) | 'iommu' (before drivers/iommu/)",
        "LINKED_BEFORE: dict[str, str] = {",
    ]
    lines += [f"    {i!r}: {b!r}," for i, b in sorted(table.items())]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return table_main(argv, "corpus.linkorder", "drivers/Makefile", scan, render_table)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
