"""Device-tree mutations: vary a real platform the way real boards differ.

Every operation is a pure function ``(Board, ...) -> Board``: the
input is left alone and the result still passes ``Board.from_json``
validation (no dangling ``iommus``/``iommu-map`` references, parents present,
``iommus`` argument counts matching the provider's ``#iommu-cells``).  For
speed the result shares the :class:`Node` objects it did not change with the
input, so treat platforms as immutable (mutate only through this module).

Operations (what they model):

* :func:`disable_iommu` / :func:`enable_node` / :func:`disable_node` -- ``status``
  set by a board file (the RK3568 ``vop_mmu`` is disabled in the SoC dtsi).
* :func:`drop_iommu` -- a board without that IOMMU node (references removed).
* :func:`orphan_iommu` -- an IOMMU whose driver is not built (no match).
* :func:`add_iommus_ref` / :func:`remove_iommus_ref` -- clients gaining or
  losing a master; adding a second IOMMU makes a multi-IOMMU client.
* :func:`share_stream_ids` -- two clients using the same stream IDs (groups
  shared by arm-smmu/apple-dart).
* :func:`add_pci_host` -- a PCIe host bridge with ``iommu-map`` ranges and
  endpoints (requester IDs) behind it.
* :func:`set_dma_ranges` -- ``dma-ranges`` present, empty (1:1) or absent.

:func:`random_mutation` picks one applicable operation with random
arguments (for the fuzzers: seed the ``random.Random`` from fuzzer input).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace

from harness.board import Board, ExtraDevice, IommuMapEntry, IommuRef, Node

NO_DRIVER_COMPATIBLE = "probefuzz,iommu-without-driver"


class MutationError(ValueError):
    """The mutation does not apply to this platform (names the node)."""


# -- queries ---------------------------------------------------------------------


def iommus(p: Board) -> list[Node]:
    """IOMMU providers (nodes with ``#iommu-cells``), in DT order."""
    return [n for n in p.nodes if n.iommu_cells is not None]


def clients(p: Board, iommu: str | None = None) -> list[Node]:
    """Nodes with ``iommus`` (optionally: referencing ``iommu``)."""
    return [n for n in p.nodes if n.iommus and (iommu is None or any(r.iommu == iommu for r in n.iommus))]


def devices(p: Board) -> list[Node]:
    """Non-IOMMU nodes with a ``compatible`` below the root: candidate clients."""
    return [n for n in p.nodes if n.compatible and n.iommu_cells is None and n.path != "/"]


def validate(p: Board) -> Board:
    """``p`` if it survives a JSON round trip with validation (BoardError if not)."""
    Board.from_json(p.to_json(), p.name)
    return p


# -- helpers ---------------------------------------------------------------------


def _node(p: Board, path: str) -> Node:
    for n in p.nodes:
        if n.path == path:
            return n
    raise MutationError(f"{p.name}: no node {path}")


def _iommu(p: Board, path: str) -> Node:
    n = _node(p, path)
    if n.iommu_cells is None:
        raise MutationError(f"{p.name}: {path} is not an IOMMU (no #iommu-cells)")
    return n


def _with(p: Board, changes: dict[str, Node | None], *, add: Sequence[Node] = (),
          extra: Sequence[ExtraDevice] | None = None) -> Board:
    """A new platform: nodes replaced (None: removed), ``add`` appended, extras set."""
    nodes = []
    for n in p.nodes:
        if n.path in changes:
            new = changes[n.path]
            if new is not None:
                nodes.append(new)
        else:
            nodes.append(n)
    nodes.extend(add)
    return replace(p, nodes=nodes,
                   extra_devices=list(p.extra_devices if extra is None else extra),
                   acpi_iommus=list(p.acpi_iommus), provenance=dict(p.provenance))


def _in_subtree(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# -- operations --------------------------------------------------------------------


def set_status(p: Board, path: str, status: str) -> Board:
    """Set a node's ``status`` ("okay", "disabled", "fail", ...)."""
    n = _node(p, path)
    return _with(p, {path: replace(n, status=status)})


def disable_iommu(p: Board, path: str) -> Board:
    """``status = "disabled"`` on an IOMMU: its clients keep their references."""
    _iommu(p, path)
    return set_status(p, path, "disabled")


def enable_node(p: Board, path: str) -> Board:
    """``status = "okay"``."""
    return set_status(p, path, "okay")


def disable_node(p: Board, path: str) -> Board:
    """``status = "disabled"``."""
    return set_status(p, path, "disabled")


def drop_iommu(p: Board, path: str) -> Board:
    """Remove an IOMMU node (and its subtree) and every reference to it."""
    _iommu(p, path)
    changes: dict[str, Node | None] = {}
    for n in p.nodes:
        if _in_subtree(n.path, path):
            changes[n.path] = None
            continue
        refs = tuple(r for r in n.iommus if not _in_subtree(r.iommu, path))
        imap = tuple(e for e in n.iommu_map if not _in_subtree(e.iommu, path))
        if refs != n.iommus or imap != n.iommu_map:
            changes[n.path] = replace(n, iommus=refs, iommu_map=imap,
                                      iommu_map_mask=n.iommu_map_mask if imap else None)
    return _with(p, changes)


def orphan_iommu(p: Board, path: str) -> Board:
    """Give an IOMMU a compatible no driver matches: its driver "is not built",
    the instance never registers and its clients wait for it."""
    n = _iommu(p, path)
    return _with(p, {path: replace(n, compatible=(NO_DRIVER_COMPATIBLE,))})


def fresh_args(p: Board, iommu: str) -> tuple[int, ...]:
    """Specifier cells for a new master of ``iommu``: the next unused first cell."""
    node = _iommu(p, iommu)
    cells = node.iommu_cells or 0
    if cells == 0:
        return ()
    used = [r.args[0] for n in p.nodes for r in n.iommus if r.iommu == iommu and r.args]
    return (max(used, default=-1) + 1,) + (0,) * (cells - 1)


def add_iommus_ref(p: Board, client: str, iommu: str,
                   args: Sequence[int] | None = None) -> Board:
    """Append one ``iommus`` specifier to ``client``.

    ``args`` defaults to :func:`fresh_args`; its length must match the
    provider's ``#iommu-cells``.  A second, different IOMMU makes a
    multi-IOMMU client.
    """
    n = _node(p, client)
    mmu = _iommu(p, iommu)
    a = tuple(fresh_args(p, iommu) if args is None else args)
    if len(a) != mmu.iommu_cells:
        raise MutationError(f"{p.name}: {iommu} takes {mmu.iommu_cells} cells, got {len(a)}")
    if any(not 0 <= x < 1 << 32 for x in a):
        raise MutationError(f"{p.name}: specifier cells are 32-bit: {a}")
    return _with(p, {client: replace(n, iommus=n.iommus + (IommuRef(iommu, a),))})


def remove_iommus_ref(p: Board, client: str, index: int = -1) -> Board:
    """Drop one ``iommus`` specifier (default: the last) from ``client``."""
    n = _node(p, client)
    if not n.iommus:
        raise MutationError(f"{p.name}: {client} has no iommus")
    refs = list(n.iommus)
    try:
        del refs[index]
    except IndexError:
        raise MutationError(f"{p.name}: {client} has no iommus[{index}]") from None
    return _with(p, {client: replace(n, iommus=tuple(refs))})


def share_stream_ids(p: Board, source: str, target: str) -> Board:
    """Make ``target`` use ``source``'s specifiers for every IOMMU ``source``
    uses (added if ``target`` had none for it): duplicate stream IDs."""
    src, dst = _node(p, source), _node(p, target)
    if not src.iommus:
        raise MutationError(f"{p.name}: {source} has no iommus")
    shared = {r.iommu for r in src.iommus}
    refs = tuple(r for r in dst.iommus if r.iommu not in shared) + src.iommus
    return _with(p, {target: replace(dst, iommus=refs)})


def set_dma_ranges(p: Board, path: str,
                   ranges: Sequence[tuple[int, int, int]] | None) -> Board:
    """``dma-ranges`` of ``path``: None removes it, ``()`` is the empty (1:1)
    property, else ``(child, parent, size)`` triples."""
    n = _node(p, path)
    value = None if ranges is None else tuple((int(a), int(b), int(c)) for a, b, c in ranges)
    if value and any(not 0 <= x < 1 << 64 for r in value for x in r):
        raise MutationError(f"{p.name}: dma-ranges values are 64-bit")
    return _with(p, {path: replace(n, dma_ranges=value)})


def add_pci_host(
    p: Board,
    iommu: str,
    ranges: Sequence[tuple[int, int, int]] = ((0x0, 0x0, 0x10000),),
    *,
    mask: int | None = None,
    endpoints: Sequence[int] = (0x0, 0x100),
    address: int | None = None,
) -> Board:
    """Add a PCIe host bridge whose ``iommu-map`` sends requester IDs to ``iommu``.

    ``ranges`` are ``(rid-base, iommu-base, length)``; ``endpoints`` the
    requester IDs of the PCI devices behind it (``extra_devices``).
    """
    _iommu(p, iommu)
    taken = {n.path for n in p.nodes}
    addr = address if address is not None else 0x40000000
    while f"/pcie@{addr:x}" in taken:
        addr += 0x10000000
    path = f"/pcie@{addr:x}"
    # The next PCI domain number after those of the existing host bridges.
    hosts = [n for n in p.nodes if n.props.get("device_type") == "pci"]
    used = [n.props["linux,pci-domain"][0] for n in hosts
            if isinstance(n.props.get("linux,pci-domain"), list) and n.props["linux,pci-domain"]]
    domain = max([len(hosts) - 1, *used]) + 1
    host = Node(
        path=path,
        compatible=("pci-host-ecam-generic",),
        iommu_map=tuple(IommuMapEntry(rb, iommu, ib, ln) for rb, ib, ln in ranges),
        iommu_map_mask=mask,
        props={"device_type": "pci", "#address-cells": [3], "#size-cells": [2],
               "bus-range": [0, 0xFF], "linux,pci-domain": [domain],
               "reg": [addr >> 32, addr & 0xFFFFFFFF, 0, 0x10000000]},
    )
    eps = [ExtraDevice(name=f"{domain:04x}:{rid >> 8:02x}:{(rid >> 3) & 0x1F:02x}.{rid & 7}",
                       bus="pci", parent=path, rid=rid) for rid in endpoints]
    return _with(p, {}, add=[host], extra=[*p.extra_devices, *eps])


# -- random choice -------------------------------------------------------------------


Mutation = Callable[[Board, random.Random], tuple[Board, str]]


def _m_disable_iommu(p: Board, rng: random.Random) -> tuple[Board, str]:
    n = rng.choice(iommus(p))
    return disable_iommu(p, n.path), f"disable IOMMU {n.path}"


def _m_drop_iommu(p: Board, rng: random.Random) -> tuple[Board, str]:
    n = rng.choice(iommus(p))
    return drop_iommu(p, n.path), f"drop IOMMU {n.path}"


def _m_orphan_iommu(p: Board, rng: random.Random) -> tuple[Board, str]:
    n = rng.choice(iommus(p))
    return orphan_iommu(p, n.path), f"no driver for IOMMU {n.path}"


def _m_add_ref(p: Board, rng: random.Random) -> tuple[Board, str]:
    c, m = rng.choice(devices(p)), rng.choice(iommus(p))
    return add_iommus_ref(p, c.path, m.path), f"add iommus {m.path} to {c.path}"


def _m_remove_ref(p: Board, rng: random.Random) -> tuple[Board, str]:
    c = rng.choice(clients(p))
    i = rng.randrange(len(c.iommus))
    return remove_iommus_ref(p, c.path, i), f"remove iommus[{i}] of {c.path}"


def _m_share(p: Board, rng: random.Random) -> tuple[Board, str]:
    src = rng.choice(clients(p))
    dst = rng.choice([n for n in devices(p) if n.path != src.path])
    return share_stream_ids(p, src.path, dst.path), f"{dst.path} shares stream IDs of {src.path}"


def _m_toggle_client(p: Board, rng: random.Random) -> tuple[Board, str]:
    c = rng.choice(clients(p))
    if c.available():
        return disable_node(p, c.path), f"disable {c.path}"
    return enable_node(p, c.path), f"enable {c.path}"


def _m_pci(p: Board, rng: random.Random) -> tuple[Board, str]:
    m = rng.choice(iommus(p))
    n = rng.randint(1, 3)
    bases = sorted(rng.sample(range(0, 0x100), n))
    ranges = [(b << 8, rng.randrange(0x10000) << 4, 0x100) for b in bases]
    eps = [b << 8 | rng.randrange(8) for b in bases]
    mask = rng.choice([None, 0xFFFF, 0xFF00, 0xFFF8])
    return add_pci_host(p, m.path, ranges, mask=mask, endpoints=eps), f"PCI host behind {m.path}"


def _m_dma_ranges(p: Board, rng: random.Random) -> tuple[Board, str]:
    c = rng.choice(clients(p))
    target = c.parent_path or "/"
    choice = rng.choice(["absent", "empty", "offset"])
    if choice == "absent":
        return set_dma_ranges(p, target, None), f"no dma-ranges on {target}"
    if choice == "empty":
        return set_dma_ranges(p, target, ()), f"empty dma-ranges on {target}"
    size = 1 << rng.randint(28, 34)
    return (set_dma_ranges(p, target, [(0, rng.choice([0, 1 << 32, 0x80000000]), size)]),
            f"dma-ranges with offset on {target}")


# (name, mutation, applicability test)
MUTATIONS: tuple[tuple[str, Mutation, Callable[[Board], bool]], ...] = (
    ("disable_iommu", _m_disable_iommu, lambda p: bool(iommus(p))),
    ("drop_iommu", _m_drop_iommu, lambda p: bool(iommus(p))),
    ("orphan_iommu", _m_orphan_iommu, lambda p: bool(iommus(p))),
    ("add_iommus_ref", _m_add_ref, lambda p: bool(iommus(p)) and bool(devices(p))),
    ("remove_iommus_ref", _m_remove_ref, lambda p: bool(clients(p))),
    ("share_stream_ids", _m_share, lambda p: bool(clients(p)) and len(devices(p)) > 1),
    ("toggle_client", _m_toggle_client, lambda p: bool(clients(p))),
    ("add_pci_host", _m_pci, lambda p: bool(iommus(p))),
    ("dma_ranges", _m_dma_ranges, lambda p: bool(clients(p))),
)


def random_mutation(p: Board, rng: random.Random) -> tuple[Board, str]:
    """Apply one randomly chosen applicable mutation; return it and a description.

    Returns ``(p, "no applicable mutation")`` for a platform without IOMMUs
    or devices.
    """
    usable = [m for _, m, ok in MUTATIONS if ok(p)]
    if not usable:
        return p, "no applicable mutation"
    return rng.choice(usable)(p, rng)
