"""PCI functions a device tree describes, as platform ``extra_devices``.

PCI devices are not DT devices: the host bridge driver enumerates them.
Boards with soldered-down functions describe them anyway (Apple M1 Wi-Fi and
Bluetooth below ``pcie0``'s first root port), with the function's address in
the first cell of ``reg`` (``phys.hi``: ``bus << 16 | devfn << 8``).  This
module turns those nodes into ``bus="pci"`` extra devices behind their host
bridge, so the requester IDs go through the bridge's ``iommu-map`` as for an
enumerated function.  It is opt-in (:func:`with_dt_pci_functions`): the DT
conversion itself keeps reporting only what the DT says.
"""

from __future__ import annotations

import dataclasses

from harness.board import Board, ExtraDevice, Node

_PCI_TYPES = ("pci", "pciex")


def _is_pci(n: Node | None) -> bool:
    return n is not None and n.props.get("device_type") in _PCI_TYPES


def dt_pci_functions(platform: Board) -> list[ExtraDevice]:
    """One extra device per available DT node that is a PCI function.

    A function is a node with ``reg`` whose parent is a PCI bus node (the
    host bridge or a bridge below it); its host bridge is the topmost PCI
    ancestor.  Names are ``DDDD:BB:DD.F`` as ``pci_setup_device()`` sets
    them (domain from the bridge's ``linux,pci-domain``, else 0).
    """
    nodes = platform.node_map()
    out: list[ExtraDevice] = []
    for n in platform.nodes:
        parent = nodes.get(n.parent_path) if n.parent_path else None
        reg = n.props.get("reg")
        if not _is_pci(parent) or not isinstance(reg, list) or not reg:
            continue
        chain = [n]
        p = parent
        while p is not None:
            chain.append(p)
            p = nodes.get(p.parent_path) if p.parent_path else None
        if not all(c.available() for c in chain):
            continue
        host = parent
        assert host is not None
        while _is_pci(nodes.get(host.parent_path or "")):
            host = nodes[host.parent_path]  # type: ignore[index]
        rid = (reg[0] >> 8) & 0xFFFF
        dom = host.props.get("linux,pci-domain")
        domain = dom[0] if isinstance(dom, list) and dom else 0
        name = f"{domain:04x}:{rid >> 8:02x}:{(rid >> 3) & 0x1F:02x}.{rid & 7}"
        compat = n.compatible or (f"pci:{n.name}",)
        out.append(ExtraDevice(name=name, bus="pci", parent=host.path, rid=rid,
                               compatible=tuple(compat)))
    return out


def with_dt_pci_functions(platform: Board) -> Board:
    """A copy of ``platform`` with :func:`dt_pci_functions` added (existing
    extra devices of the same name win)."""
    have = {e.name for e in platform.extra_devices}
    extra = list(platform.extra_devices)
    extra += [e for e in dt_pci_functions(platform) if e.name not in have]
    return dataclasses.replace(platform, extra_devices=extra)
