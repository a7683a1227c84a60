"""``struct device_node`` and the OF helpers the probe path uses
(drivers/of/base.c, property.c, address.c)."""

from __future__ import annotations

import weakref
from operator import attrgetter
from typing import Any

from harness.board import Board, Node
from harness.errno import ENODEV
from harness.kernel import kfunc


class fwnode_handle:  # noqa: N801
    """``struct fwnode_handle``: ``kind`` "of" (with ``np``) or "acpi"."""

    __slots__ = ("kind", "np", "name", "acpi", "dev")

    def __init__(self, kind: str, np: device_node | None = None, name: str = "",
                 acpi: Any = None) -> None:
        self.kind = kind
        self.np = np
        self.name = name
        self.acpi = acpi
        # the first device added for this fwnode (device_add(), core.c:3755;
        # get_dev_from_fwnode())
        self.dev: Any = None

    def __repr__(self) -> str:
        return f"<fwnode {self.kind} {self.name}>"


class device_node:  # noqa: N801
    """A DT node of the booted platform."""

    def __init__(self, node: Node, parent: device_node | None) -> None:
        self.desc = node
        self.full_name = node.path
        name, _, unit = node.name.partition("@")
        self.name = name
        self.unit = unit
        self.parent = parent
        self.children: list[device_node] = []
        self.compatible = node.compatible
        self.fwnode = fwnode_handle("of", self, node.path)
        self.populated = False  # OF_POPULATED
        self.populated_bus = False  # OF_POPULATED_BUS
        # model only: of_device_make_bus_id()'s result, which depends on the
        # tree alone (harness.of.platform; kept while a pooled tree is reused)
        self.bus_id: str | None = None

    def __repr__(self) -> str:
        return f"<device_node {self.full_name}>"


class of_phandle_args:  # noqa: N801
    __slots__ = ("np", "args")

    def __init__(self, np: device_node, args: tuple[int, ...]) -> None:
        self.np = np
        self.args = args

    @property
    def args_count(self) -> int:
        return len(self.args)


class DeviceTree:
    """The unflattened tree of one boot (``of_root``)."""

    def __init__(self, platform: Board) -> None:
        self.by_path: dict[str, device_node] = {}
        self.root: device_node | None = None
        # facts of the tree alone, kept while a pooled tree is reused:
        # harness.of.of_init's (initialised, OF_POPULATED) paths, and the
        # fw_devlink links per fw_devlink_is_strict() (harness.base.devlink)
        self.of_init: tuple[frozenset[str], frozenset[str]] | None = None
        self.fw_links: dict[bool, dict[str, list[str]]] = {}
        # of_find_node_by_phandle()'s phandle_cache, filled on first use
        self.phandles: dict[int, device_node] | None = None
        # the available DT PCI host bridges (harness.boot), on first use
        self.pci_hosts: list[device_node] | None = None
        # the nodes' generic client drivers (harness.boot), on first use
        self.client_compatibles: list[tuple[str, bool, tuple[str, ...]]] | None = None
        # of_tree_get(): the board's nodes it was built from (_tree_signature)
        self.signature: tuple[Any, ...] | None = None
        for n in platform.nodes:
            pp = n.parent_path  # a property: computed once per node
            parent = self.by_path.get(pp) if pp else None
            dn = device_node(n, parent)
            if parent is not None:
                parent.children.append(dn)
            elif n.path == "/":
                self.root = dn
            self.by_path[n.path] = dn

    def find(self, path: str) -> device_node:
        return self.by_path[path]

    def reset(self) -> None:
        """The tree as unflattening leaves it: no node populated yet."""
        for np in self.by_path.values():
            np.populated = False
            np.populated_bus = False
            np.fwnode.dev = None


_NODE_FACTS = attrgetter("path", "compatible", "phandle", "status", "iommu_cells")


def _tree_signature(board: Board) -> tuple[tuple[Node, ...], tuple[tuple[Any, ...], ...]]:
    # Which Node objects make the tree, what a device_node copies from its
    # Node (path, compatible) and what the tree caches (phandles; which
    # nodes are available IOMMUs or client devices, harness.boot):
    # everything else is read through ``desc``.  (Taken once per boot, at
    # of_tree_get(): the nodes themselves, compared by identity first, and
    # their facts through attrgetter, without a Python loop.)
    nodes = tuple(board.nodes)
    return nodes, tuple(map(_NODE_FACTS, nodes))


# Unflattened trees of boards booted before in this process, for the next boot
# of the same board: id(board) -> (board, its nodes when the tree was built,
# the tree).  One holder at a time: a tree leaves the pool while a boot uses
# it and comes back (of_tree_put) when that boot's results are taken.
_TREE_POOL: dict[int, tuple[weakref.ref[Board], tuple[Any, ...], DeviceTree]] = {}


def of_tree_get(board: Board) -> DeviceTree:
    """The unflattened tree of ``board`` for a boot: the one an earlier boot of
    the same, unchanged board gave back (reset: nothing populated), else a new
    one.  Building it is ~10 % of a plain boot of the seed board."""
    e = _TREE_POOL.pop(id(board), None)
    sig = _tree_signature(board)
    if e is not None and e[0]() is board and e[1] == sig:
        e[2].reset()
        return e[2]
    tree = DeviceTree(board)
    tree.signature = sig
    return tree


def of_tree_put(board: Board, tree: DeviceTree) -> None:
    """Give ``tree`` back for the next boot of ``board`` (the boot is over and
    nothing reads its devices any more)."""
    key = id(board)
    sig = tree.signature if tree.signature is not None else _tree_signature(board)
    _TREE_POOL[key] = (weakref.ref(board, lambda _r: _TREE_POOL.pop(key, None)), sig, tree)


def of_device_is_available(np: device_node | None) -> bool:
    return np is not None and np.desc.available()


def of_device_is_compatible(np: device_node, compat: str) -> bool:
    return compat in np.compatible


def of_fwnode_handle(np: device_node) -> fwnode_handle:
    return np.fwnode


def of_property_read_bool(np: device_node, prop: str) -> bool:
    return prop in np.desc.props


@kfunc
def of_parse_phandle_with_args(np: device_node | None, tree: DeviceTree,
                               index: int) -> of_phandle_args | None:
    """The index-th ``iommus`` specifier, None past the end (-ENOENT)."""
    refs = np.desc.iommus
    if index >= len(refs):
        return None
    r = refs[index]
    return of_phandle_args(tree.find(r.iommu), r.args)


@kfunc
def of_map_id(np: device_node, tree: DeviceTree, id_: int) -> tuple[int, of_phandle_args | None]:
    """``of_map_id(np, id, "iommu-map", "iommu-map-mask", &target, &id_out)``.

    Returns (err, spec).  No "iommu-map": the ID passes through untranslated
    and there is no target (``-ENODEV`` for of_iommu: "not behind an IOMMU").
    """
    desc = np.desc
    if not desc.iommu_map:
        return -ENODEV, None
    masked = id_ & desc.iommu_map_mask if desc.iommu_map_mask is not None else id_
    for e in desc.iommu_map:
        if e.rid_base <= masked < e.rid_base + e.length:
            return 0, of_phandle_args(tree.find(e.iommu), (masked - e.rid_base + e.iommu_base,))
    # "no iommu-map translation for id 0x%x on %pOF": not behind an IOMMU
    return -ENODEV, None


def __of_get_dma_parent(np: device_node) -> device_node | None:  # noqa: N807
    """The DMA parent: the "dma-parent"-less case, i.e. the tree parent."""
    return np.parent


class bus_dma_region:  # noqa: N801
    """``struct bus_dma_region`` array parsed from "dma-ranges"."""

    __slots__ = ("ranges", "freed")

    def __init__(self, ranges: tuple[tuple[int, int, int], ...]) -> None:
        self.ranges = ranges
        self.freed = False

    def max(self) -> int:
        return max((c + s - 1 for c, _p, s in self.ranges), default=0)


@kfunc
def of_dma_get_range(np: device_node | None) -> tuple[int, bus_dma_region | None]:
    """(ret, map) as drivers/of/address.c computes it.

    Empty "dma-ranges" mean no translation and the walk goes on upwards;
    once one node had the property (even empty), a parent without it ends
    the walk with -ENODEV; so does reaching the root.
    """
    node = np
    found_dma_ranges = False
    ranges = None
    while node is not None:
        ranges = node.desc.dma_ranges
        # Ignore empty ranges, they imply no translation required
        if ranges:
            break
        # Once we find 'dma-ranges', then a missing one is an error
        if found_dma_ranges and ranges is None:
            return -ENODEV, None
        found_dma_ranges = True
        node = node.parent
    if node is None or not ranges:
        return -ENODEV, None
    return 0, bus_dma_region(ranges)


def of_dma_is_coherent(np: device_node) -> bool:
    node: device_node | None = np
    while node is not None:
        if node.desc.dma_coherent:
            return True
        node = node.parent
    return False


# -- phandle-valued driver properties (drivers/of/base.c) ---------------------------


def of_find_node_by_phandle(tree: DeviceTree, phandle: int) -> device_node | None:
    """The node whose "phandle" is ``phandle`` (None for 0 and unknown ones)."""
    if not phandle:
        return None
    if tree.phandles is None:
        tree.phandles = {}
        for np in tree.by_path.values():
            if np.desc.phandle is not None:
                tree.phandles.setdefault(np.desc.phandle, np)
    return tree.phandles.get(phandle)


def of_count_phandle_with_args(np: device_node | None, prop: str) -> int:
    """``of_count_phandle_with_args(np, prop, NULL)``: -ENOENT if absent."""
    v = np.desc.props.get(prop)
    if not isinstance(v, list):
        return -2  # -ENOENT
    return len(v)


@kfunc
def of_parse_phandle(np: device_node | None, tree: DeviceTree, prop: str, index: int) -> device_node | None:
    """``of_parse_phandle(np, prop, index)`` for a list of bare phandles."""
    v = np.desc.props.get(prop)
    if not isinstance(v, list) or not 0 <= index < len(v):
        return None
    return of_find_node_by_phandle(tree, v[index])


def of_property_read_u32(np: device_node, prop: str) -> int | None:
    """The first cell of ``prop``, None when absent (-EINVAL in C)."""
    v = np.desc.props.get(prop)
    return v[0] if isinstance(v, list) and v else None


def of_property_present(np: device_node, prop: str) -> bool:
    return prop in np.desc.props
