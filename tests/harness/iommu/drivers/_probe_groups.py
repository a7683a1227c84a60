"""Shared by the driver-model tests: boot a real board and record, for every
IOMMU client, the group it is in when its driver's ``probe()`` is entered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from corpus.dt import load_platform_file
from harness import trace
from harness.board import Board
from harness.boot import BootConfig
from harness.run import Result, run_scenario
from harness.variant import Variant


@dataclass
class Boot:
    result: Result
    #: client device name -> group number (first come, first numbered) or None,
    #: as seen when drv->probe() was entered for the last time
    group_at_probe: dict[str, int | None]
    #: client device name -> fwspec IDs at that moment
    ids_at_probe: dict[str, list[int] | None]
    #: client device name -> dev->iommu->priv at that moment
    priv_at_probe: dict[str, Any]


def load(kernel_tree: Path, dts: str) -> Board:
    return load_platform_file(kernel_tree / dts)


def clients(p: Board, iommu_compat: tuple[str, ...]) -> dict[str, list[str]]:
    """Enabled nodes with an ``iommus`` entry naming an enabled IOMMU of the
    driver -> the IOMMU node paths they name."""
    _learn_names(p)
    nodes = p.node_map()
    out: dict[str, list[str]] = {}
    for n in p.nodes:
        if not n.available() or not n.compatible or not _populated(n, nodes):
            continue
        refs = [r.iommu for r in n.iommus
                if nodes[r.iommu].available() and any(c in iommu_compat for c in nodes[r.iommu].compatible)]
        if refs:
            out[n.path] = refs
    return out


def _populated(n: Any, nodes: dict[str, Any]) -> bool:
    """of_platform_populate() reaches the node: every ancestor below the root
    is a bus it descends into."""
    from harness.of.platform import of_default_bus_match_table

    parent = n.parent_path
    while parent not in (None, "/"):
        pn = nodes[parent]
        if not pn.available() or not any(c in of_default_bus_match_table for c in pn.compatible):
            return False
        parent = pn.parent_path
    return True


def boot(p: Board, v: Variant, monkeypatch: pytest.MonkeyPatch,
         cfg: BootConfig | None = None) -> Boot:
    numbers: dict[int, int] = {}
    at_probe: dict[str, int | None] = {}
    ids: dict[str, list[int] | None] = {}
    privs: dict[str, Any] = {}
    orig = trace.driver_probe_entry

    def hook(dev: Any) -> None:
        g = dev.iommu_group
        at_probe[dev.init_name] = None if g is None else numbers.setdefault(id(g), len(numbers))
        fw = dev.iommu.fwspec if dev.iommu is not None else None
        ids[dev.init_name] = list(fw.ids) if fw is not None else None
        privs[dev.init_name] = dev.iommu.priv if dev.iommu is not None else None
        orig(dev)

    monkeypatch.setattr(trace, "driver_probe_entry", hook)
    r = run_scenario(p, v, cfg)
    monkeypatch.setattr(trace, "driver_probe_entry", orig)
    return Boot(r, at_probe, ids, privs)


#: node path -> device name, for the platforms clients() has seen
_NAMES: dict[str, str] = {}


def _learn_names(p: Board) -> None:
    from harness.of.node import DeviceTree
    from harness.of.platform import of_device_make_bus_id

    tree = DeviceTree(p)
    for path, np in tree.by_path.items():
        _NAMES[path] = of_device_make_bus_id(np)


def dev_name(path: str, p: Board | None = None) -> str:
    """The platform device name of_device_make_bus_id() gives a node (reg
    translated through the parents' ranges) of ``p``, or of a platform
    clients() saw (in this process: under xdist a test may run first)."""
    if p is not None and path not in _NAMES:
        _learn_names(p)
    return _NAMES[path]
