"""DT nodes the kernel initialises without a driver, read from a kernel tree.

Some providers are set up before any initcall, straight from the DT, and
never bind a driver through the driver core:

* ``CLK_OF_DECLARE(name, "compat", fn)`` (include/linux/clk-provider.h):
  ``of_clk_init()`` marks the node ``OF_POPULATED`` (drivers/clk/clk.c, so
  ``of_platform_populate()`` makes no device for it) and the macro marks its
  fwnode initialised (``fwnode_dev_initialized(..., true)``);
* ``CLK_OF_DECLARE_DRIVER``: the same, but clears ``OF_POPULATED``: a platform
  device is made and a driver binds it later;
* ``IRQCHIP_DECLARE``: ``of_irq_init()`` marks the node ``OF_POPULATED``
  (drivers/of/irq.c:623) and the irq domain it creates marks the fwnode
  initialised (kernel/irq/irqdomain.c:247);
* a file that registers no driver but calls ``fwnode_dev_initialized(...,
  true)`` for the nodes of its match table from an initcall (rcar-sysc,
  rmobile-sysc: power-domain providers set up at ``early_initcall``).

fw_devlink never waits for such a supplier (``fwnode_init_without_drv()``,
drivers/base/core.c:1949, 2231, 2252).  :func:`scan` maps each compatible to
how it is initialised and the file; :func:`render_table` writes
``harness/of/of_init_table.py``.  Regenerate with
``python -m corpus.of_init TREE > harness/of/of_init_table.py``;
tests/corpus/test_of_init.py checks the checked-in table against the tree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from corpus import hosttools
from corpus.initcalls import file_level, ids, table_main

CLK_OF_DECLARE = "CLK_OF_DECLARE"
CLK_OF_DECLARE_DRIVER = "CLK_OF_DECLARE_DRIVER"
IRQCHIP_DECLARE = "IRQCHIP_DECLARE"
FWNODE_DEV_INITIALIZED = "fwnode_dev_initialized"
# how -> whether of_*_init() leaves the node OF_POPULATED (no platform device)
POPULATED = {CLK_OF_DECLARE: True, IRQCHIP_DECLARE: True, CLK_OF_DECLARE_DRIVER: False,
             FWNODE_DEV_INITIALIZED: False}
# the later entry wins for an ID several files declare: a platform device
# (the _DRIVER variant, an initcall) is made when any declaration asks for one
_RANK = {CLK_OF_DECLARE: 0, IRQCHIP_DECLARE: 0, FWNODE_DEV_INITIALIZED: 1, CLK_OF_DECLARE_DRIVER: 2}

_DECLARE = re.compile(r"^\s*(CLK_OF_DECLARE_DRIVER|CLK_OF_DECLARE|IRQCHIP_DECLARE)\(\s*\w+\s*,\s*"
                      r"\"([^\"]+)\"", re.M)
_INITIALIZED = re.compile(r"fwnode_dev_initialized\([^;]*,\s*true\s*\)")
# the match table an initcall walks: of_find_matching_node*(from, TABLE, ...)
# or for_each_matching_node*(np, TABLE, ...)
_WALKED = re.compile(r"\b(?:of_find_matching_node(?:_and_match)?|for_each_matching_node(?:_and_match)?)"
                     r"\(\s*\w+\s*,\s*(\w+)")
_WALKED_COMPAT = re.compile(r"\b(?:for_each_compatible_node|of_find_compatible_node)\(\s*\w+\s*,\s*\w+\s*,"
                            r"\s*\"([^\"]+)\"")
SUBDIRS = ("drivers", "arch/arm", "arch/arm64")


def file_entries(text: str) -> list[tuple[str, str]]:
    """(compatible, how) for one source file."""
    out = [(m.group(2), m.group(1)) for m in _DECLARE.finditer(text)]
    if file_level(text) is None and "_initcall(" in text:
        for m in _INITIALIZED.finditer(text):
            # the nodes the function calling it walks (its body: from the
            # previous top-level closing brace)
            body = text[text.rfind("\n}", 0, m.start()) + 1:m.start()]
            for table in _WALKED.findall(body):
                t = re.search(r"struct\s+of_device_id\s+" + table + r"\s*\[\s*\][^=]*=\s*\{(.*?)\n\};",
                              text, re.S)
                if t is not None:
                    out += [(c, FWNODE_DEV_INITIALIZED) for c in ids(t.group(1))]
            out += [(c, FWNODE_DEV_INITIALIZED) for c in _WALKED_COMPAT.findall(body)]
    return out


def _files(tree: Path) -> list[str]:
    try:
        out = hosttools.run(["git", "-C", str(tree), "grep", "-l", "-E", "-e",
                             r"(CLK_OF_DECLARE|CLK_OF_DECLARE_DRIVER|IRQCHIP_DECLARE)\(|"
                             r"fwnode_dev_initialized\(",
                             "--", *(f"{d}/*.c" for d in SUBDIRS)],
                            timeout=120, check=False, subject=str(tree))
        if out.returncode in (0, 1):
            return sorted(out.stdout.decode().split())
    except hosttools.ToolError:
        pass
    return sorted(str(p.relative_to(tree)) for d in SUBDIRS for p in (tree / d).rglob("*.c")
                  if re.search(r"OF_DECLARE|IRQCHIP_DECLARE|fwnode_dev_initialized",
                               p.read_text(errors="replace")))


def scan(tree: Path) -> dict[str, tuple[str, str]]:
    """compatible -> (how it is initialised, file)."""
    out: dict[str, tuple[str, str]] = {}
    for rel in _files(tree):
        for compat, how in file_entries((tree / rel).read_text(errors="replace")):
            old = out.get(compat)
            if old is None or (_RANK[how], rel) > (_RANK[old[0]], old[1]):
                out[compat] = (how, rel)
    return out


def render_table(table: dict[str, tuple[str, str]], version: str) -> str:
    """The Python source of ``harness/of/of_init_table.py``."""
    lines = [
        f'"""DT providers initialised without a driver, by compatible (generated from Linux {version}',
        'by corpus/of_init.py: do not edit)."""',
        "",
        "# compatible -> (CLK_OF_DECLARE | CLK_OF_DECLARE_DRIVER | IRQCHIP_DECLARE |",
        "#                fwnode_dev_initialized, file)",
        "OF_INIT: dict[str, tuple[str, str]] = {",
    ]
    lines += [f"    {c!r}: ({how!r}, {f!r})," for c, (how, f) in sorted(table.items())]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return table_main(argv, "corpus.of_init", "drivers", scan, render_table)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
