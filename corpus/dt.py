"""Device trees to platforms: DTS/DTB/JSON files in, :class:`Board` out.

The entry points are :func:`load_platform_file` (any of the three formats),
:func:`dts_to_dtb` (cpp + dtc, the way Kbuild does it) and
:func:`dtb_to_platform` (a blob to the normalised description of
``harness.board``).  Every problem with the input is a :class:`DtError`
with a one-line message naming the file; nothing else escapes for bad input.

Which nodes are kept: every node with a ``compatible`` (those are what
``of_platform_populate()`` may turn into devices; the harness decides), every
node with ``iommus``/``iommu-map`` even without a ``compatible`` (drivers make
devices for such firmware subnodes and call ``of_dma_configure()`` on them),
all their ancestors (bus structure, ``dma-ranges``, cell sizes), IOMMU
providers (``#iommu-cells``), whatever ``iommus``/``iommu-map`` point at, and
the targets of the kept nodes' fw_devlink supplier bindings (pin
configuration nodes of ``pinctrl-N``, regulators of ``*-supply``, ...).
Other configuration nodes (OPP tables, ports, endpoints) are dropped.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from corpus import dts as dts_mod
from corpus.errors import DtError
from corpus.fdt import FDT_MAGIC, RawNode, read_nodes
from harness.board import (
    KEPT_PROPERTIES,
    Board,
    BoardError,
    IommuMapEntry,
    IommuRef,
    Node,
    hog_gpios,
    load_board,
    supplier_binding,
)

__all__ = ["DtError", "dtb_to_platform", "dts_to_dtb", "load_platform_file"]

# Properties whose value is a string (everything else in KEPT_PROPERTIES is a
# list of u32 cells, or ``true`` when empty).
_STRING_PROPS = frozenset({"device_type"})



class _Wanted(frozenset[str]):
    """The property names the conversion reads: these, and the suffixed
    supplier bindings (``*-supply``, ``*-gpios``, ``harness.board.SUPPLIER_SUFFIXES``)."""

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or (isinstance(name, str) and supplier_binding(name) is not None)


# Everything the conversion reads; the FDT walk skips the rest.
_WANTED = _Wanted(
    {
        "compatible",
        "status",
        "phandle",
        "linux,phandle",
        "model",
        "#iommu-cells",
        "iommus",
        "iommu-map",
        "iommu-map-mask",
        "dma-ranges",
        "dma-coherent",
        "#address-cells",
        "#size-cells",
        "device_type",
        *KEPT_PROPERTIES,
    }
)

# include/linux/of.h: OF_ROOT_NODE_{ADDR,SIZE}_CELLS_DEFAULT.
_DEFAULT_ADDR_CELLS = 2
_DEFAULT_SIZE_CELLS = 1
# The kernel's address translation handles at most OF_MAX_ADDR_CELLS (4).
_MAX_CELLS = 4
# of_phandle_iterator_args(): MAX_PHANDLE_ARGS.
_MAX_PHANDLE_ARGS = 16
_U64 = (1 << 64) - 1


def dts_to_dtb(dts: Path, tree: Path | None = None) -> bytes:
    """Compile a board ``.dts`` inside a kernel tree to a DTB (cpp + dtc).

    ``tree`` defaults to the kernel root found above ``dts``.  See
    :mod:`corpus.dts` for the exact command lines.
    """
    return dts_mod.compile_dts(Path(dts), Path(tree) if tree is not None else None).dtb


def dtb_to_platform(
    blob: bytes, name: str, provenance: dict[str, Any], *, label: str | None = None
) -> Board:
    """Turn a DTB into a validated :class:`Board` called ``name``.

    Error messages start with ``label`` (default: ``name``), normally the
    file the blob came from.  Raises :class:`DtError` for any malformed blob
    or property, never anything else.
    """
    label = label or name
    raw = read_nodes(blob, label, _WANTED)
    return _Converter(raw, label).platform(name, provenance)


def load_platform_file(path: str | os.PathLike[str], tree: Path | None = None) -> Board:
    """Load a platform from a ``.dts``, ``.dtb`` or ``.json`` file.

    The format is recognised from the content (FDT magic, JSON object) and
    then the suffix.  A ``.dts`` must live inside a kernel tree (or ``tree``
    is given).  The platform is named after the file stem; DT inputs get a
    provenance with the source, tree version/commit and the DTB's sha256.
    JSON files are validated by :func:`harness.board.load_board`
    (raising :class:`harness.board.BoardError`).
    """
    p = Path(path)
    label = str(path)
    try:
        with p.open("rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise DtError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise DtError(f"{label}: is a directory") from None
    except OSError as e:
        raise DtError(f"{label}: cannot read: {e.strerror}") from None

    if len(head) == 4 and int.from_bytes(head, "big") == FDT_MAGIC or p.suffix == ".dtb":
        blob = _read(p, label)
        prov = {"source": label, "sha256": hashlib.sha256(blob).hexdigest()}
        return dtb_to_platform(blob, p.stem, prov, label=label)
    if p.suffix == ".json" or head.lstrip()[:1] == b"{":
        return load_board(p)
    if p.suffix in (".dts", ".dtsi"):
        compiled = dts_mod.compile_dts(p, Path(tree) if tree is not None else None)
        return dtb_to_platform(compiled.dtb, p.stem, compiled.provenance(), label=label)
    raise DtError(f"{label}: unknown format (expected a .dts, .dtb or .json platform)")


def _read(p: Path, label: str) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise DtError(f"{label}: cannot read: {e.strerror}") from None


# -- conversion ---------------------------------------------------------------


class _Converter:
    """One DTB's raw nodes to platform nodes; errors name node and property."""

    def __init__(self, raw: list[RawNode], label: str) -> None:
        self.raw = raw
        self.label = label
        self.by_phandle: dict[int, int] = {}
        for i, n in enumerate(raw):
            for key in ("phandle", "linux,phandle"):
                if key in n.props:
                    ph = self.u32(n, key)
                    # 0 and ~0 are not valid phandles (of_find_node_by_phandle).
                    if ph not in (0, 0xFFFFFFFF):
                        self.by_phandle.setdefault(ph, i)
                    break

    # -- property decoding ---------------------------------------------------

    def fail(self, node: RawNode, prop: str, what: str) -> DtError:
        return DtError(f"{self.label}: {node.path}: {prop}: {what}")

    def cells(self, node: RawNode, prop: str) -> list[int]:
        v = node.props[prop]
        if len(v) % 4:
            raise self.fail(node, prop, f"{len(v)} bytes is not a whole number of cells")
        return [int.from_bytes(v[i : i + 4], "big") for i in range(0, len(v), 4)]

    def u32(self, node: RawNode, prop: str) -> int:
        v = node.props[prop]
        if len(v) != 4:
            raise self.fail(node, prop, f"expected one cell, got {len(v)} bytes")
        return int.from_bytes(v, "big")

    def strings(self, node: RawNode, prop: str) -> list[str]:
        v = node.props[prop]
        if not v.endswith(b"\0"):
            raise self.fail(node, prop, "not a NUL-terminated string list")
        try:
            return v[:-1].decode("utf-8").split("\0")
        except UnicodeDecodeError:
            raise self.fail(node, prop, "string is not valid UTF-8") from None

    def string(self, node: RawNode, prop: str) -> str:
        s = self.strings(node, prop)
        if len(s) != 1:
            raise self.fail(node, prop, "expected a single string")
        return s[0]

    def target(self, node: RawNode, prop: str, ph: int, where: str) -> int:
        idx = self.by_phandle.get(ph)
        if idx is None:
            raise self.fail(node, prop, f"{where}: phandle {ph:#x} does not refer to any node")
        return idx

    def n_cells(self, idx: int | None, prop: str, default: int) -> int:
        """``of_bus_n_{addr,size}_cells``: the node's own, else the nearest ancestor's."""
        while idx is not None:
            n = self.raw[idx]
            if prop in n.props:
                c = self.u32(n, prop)
                if c > _MAX_CELLS:
                    raise self.fail(n, prop, f"{c} cells is more than {_MAX_CELLS}")
                return c
            idx = n.parent
        return default

    # -- the properties the probe path reads ----------------------------------

    def iommus(self, node: RawNode) -> tuple[list[IommuRef], list[int]]:
        cells = self.cells(node, "iommus")
        refs: list[IommuRef] = []
        targets: list[int] = []
        i = 0
        while i < len(cells):
            k = len(refs)
            t = self.target(node, "iommus", cells[i], f"entry {k}")
            provider = self.raw[t]
            if "#iommu-cells" not in provider.props:
                raise self.fail(node, "iommus", f"entry {k}: {provider.path} has no #iommu-cells")
            n = self.u32(provider, "#iommu-cells")
            if n > _MAX_PHANDLE_ARGS:
                raise self.fail(provider, "#iommu-cells", f"{n} is more than {_MAX_PHANDLE_ARGS}")
            args = cells[i + 1 : i + 1 + n]
            if len(args) != n:
                short = f"needs {n} cells, only {len(args)} left"
                raise self.fail(node, "iommus", f"entry {k}: {provider.path} {short}")
            refs.append(IommuRef(provider.path, tuple(args)))
            targets.append(t)
            i += 1 + n
        return refs, targets

    def iommu_map(self, node: RawNode) -> tuple[list[IommuMapEntry], list[int]]:
        # of_map_id(): fixed <rid-base phandle iommu-base length> entries.
        cells = self.cells(node, "iommu-map")
        if not cells or len(cells) % 4:
            raise self.fail(node, "iommu-map", f"{len(cells)} cells is not a multiple of 4")
        out: list[IommuMapEntry] = []
        targets: list[int] = []
        for k in range(0, len(cells), 4):
            rid, ph, base, length = cells[k : k + 4]
            t = self.target(node, "iommu-map", ph, f"entry {k // 4}")
            out.append(IommuMapEntry(rid, self.raw[t].path, base, length))
            targets.append(t)
        return out, targets

    def supplier_targets(self, node: RawNode) -> list[int]:
        """The nodes a kept supplier binding (``clocks``, ``pinctrl-0``,
        ``*-supply``, ...) of ``node`` points at, parsed like
        ``parse_prop_cells()``: the walk stops at the first entry
        ``of_parse_phandle_with_args()`` would reject (unknown phandle, a
        provider without the binding's ``#...-cells``)."""
        out: list[int] = []
        for prop in node.props:
            b = supplier_binding(prop)
            if b is None or len(node.props[prop]) % 4:
                continue
            if hog_gpios(prop, node.props):
                continue
            cells = self.cells(node, prop)
            i = 0
            while i < len(cells):
                t = self.by_phandle.get(cells[i])
                if t is None:
                    break
                n = self.raw[t].props.get(b[1]) if b[1] else b"\0\0\0\0"
                if n is None or len(n) != 4:
                    break
                out.append(t)
                i += 1 + int.from_bytes(n, "big")
        return out

    def dma_ranges(self, idx: int) -> tuple[tuple[int, int, int], ...]:
        """Decode like ``of_pci_range_parser_one``: cell sizes from the node
        (child address, size) and its parent (parent address); a leading flags
        cell of PCI-style buses is skipped; numbers keep their low 64 bits
        (``of_read_number``)."""
        node = self.raw[idx]
        v = node.props["dma-ranges"]
        if not v:
            return ()
        cells = self.cells(node, "dma-ranges")
        na = self.n_cells(idx, "#address-cells", _DEFAULT_ADDR_CELLS)
        ns = self.n_cells(idx, "#size-cells", _DEFAULT_SIZE_CELLS)
        pna = self.n_cells(node.parent, "#address-cells", _DEFAULT_ADDR_CELLS)
        entry = na + pna + ns
        if entry == 0 or len(cells) % entry:
            raise self.fail(
                node, "dma-ranges",
                f"{len(cells)} cells is not a multiple of {na}+{pna}+{ns} (address+parent+size)",
            )
        flag_cells = 1 if na == 3 or self._is_pci_bus(node) else 0
        rows = []
        for k in range(0, len(cells), entry):
            child = _number(cells[k + min(flag_cells, na) : k + na])
            parent = _number(cells[k + na : k + na + pna])
            size = _number(cells[k + na + pna : k + entry])
            rows.append((child, parent, size))
        return tuple(rows)

    def _is_pci_bus(self, node: RawNode) -> bool:
        # of_bus_pci_match(): device_type pci/pciex/vci/ht, or a node named "pcie".
        if "device_type" in node.props:
            try:
                if self.string(node, "device_type") in ("pci", "pciex", "vci", "ht"):
                    return True
            except DtError:
                return False
        return node.path.rsplit("/", 1)[-1].split("@", 1)[0] == "pcie"

    def prop(self, node: RawNode, name: str) -> Any:
        v = node.props[name]
        if not v:
            return True
        if name in _STRING_PROPS:
            return self.string(node, name)
        return self.cells(node, name)

    # -- whole tree ------------------------------------------------------------

    def platform(self, name: str, provenance: dict[str, Any]) -> Board:
        raw = self.raw
        keep = [False] * len(raw)

        def keep_with_ancestors(i: int | None) -> None:
            while i is not None and not keep[i]:
                keep[i] = True
                i = raw[i].parent

        nodes: dict[int, Node] = {}
        for i, rn in enumerate(raw):
            node = Node(path=rn.path)
            p = rn.props
            if "compatible" in p:
                node.compatible = tuple(self.strings(rn, "compatible"))
            if "status" in p:
                node.status = self.string(rn, "status")
            for key in ("phandle", "linux,phandle"):
                if key in p:
                    node.phandle = self.u32(rn, key)
                    break
            if "#iommu-cells" in p:
                node.iommu_cells = self.u32(rn, "#iommu-cells")
            if "iommus" in p:
                refs, targets = self.iommus(rn)
                node.iommus = tuple(refs)
                for t in targets:
                    keep_with_ancestors(t)
            if "iommu-map" in p:
                entries, targets = self.iommu_map(rn)
                node.iommu_map = tuple(entries)
                for t in targets:
                    keep_with_ancestors(t)
            if "iommu-map-mask" in p:
                node.iommu_map_mask = self.u32(rn, "iommu-map-mask")
            if "dma-ranges" in p:
                node.dma_ranges = self.dma_ranges(i)
            node.dma_coherent = "dma-coherent" in p
            node.props = {k: self.prop(rn, k) for k in KEPT_PROPERTIES
                          if k in p and not (len(p[k]) % 4 and supplier_binding(k) is not None)}
            for k in p:
                # *-supply, *-gpios; a supplier binding that is no phandle
                # list (a string "leds", "panel") links nothing: not kept
                if k not in node.props and supplier_binding(k) is not None and p[k] and not len(p[k]) % 4:
                    node.props[k] = self.prop(rn, k)
            nodes[i] = node
            # DMA masters without a compatible stay too: drivers create devices
            # for them by hand and call of_dma_configure() (qcom venus
            # "video-firmware", ath10k "wifi-firmware" subnodes).
            if (node.compatible or node.iommu_cells is not None or node.iommus
                    or node.iommu_map or i == 0):
                keep_with_ancestors(i)

        # fw_devlink suppliers of the kept nodes: a phandle may name a node
        # without a compatible (a power domain below its controller), which
        # links to that node and waits for its nearest device ancestor
        for i, rn in enumerate(raw):
            if keep[i]:
                for t in self.supplier_targets(rn):
                    keep_with_ancestors(t)

        model = ""
        if raw and "model" in raw[0].props:
            model = self.string(raw[0], "model")
        plat = Board(
            name=name,
            model=model,
            firmware="dt",
            nodes=[nodes[i] for i in range(len(raw)) if keep[i]],
            provenance=dict(provenance),
        )
        # The JSON loader is the single definition of "valid"; a blob that
        # converts must also survive a save/load round trip.
        try:
            Board.from_json(plat.to_json(), self.label)
        except BoardError as e:
            raise DtError(str(e)) from None
        return plat


def _number(cells: list[int]) -> int:
    r = 0
    for c in cells:
        r = ((r << 32) | c) & _U64
    return r
