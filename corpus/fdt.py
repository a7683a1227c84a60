"""Reading flattened device trees (DTBs) safely with pylibfdt.

libfdt trusts the header of the blob it is handed: a blob whose header
claims more bytes than the buffer holds makes it read past the end of the
Python buffer, which can take the interpreter down.  So every blob goes
through :func:`check_blob` (pure Python, header fields and block layout)
and then ``fdt_check_full`` (libfdt's own validator for untrusted blobs,
which walks the whole structure block) before any other libfdt call.  After
that the walk in :func:`read_nodes` only performs calls that libfdt
guarantees safe on a checked tree.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from dataclasses import dataclass, field

import libfdt

from corpus.errors import DtError

FDT_MAGIC = 0xD00DFEED
HEADER_SIZE = 40  # struct fdt_header for version >= 17
# Versions libfdt reads; dtc has written 17 since 2007.  16 lacks
# size_dt_struct, which fdt_check_full needs, so it is refused.
MIN_VERSION = 17
MAX_COMP_VERSION = 17
# A board DTB is a few hundred KiB; anything claiming more is not one of ours
# (and would make us allocate whatever a corrupted header asks for).
MAX_TOTALSIZE = 64 << 20


@dataclass
class Header:
    """The decoded ``struct fdt_header``."""

    magic: int
    totalsize: int
    off_dt_struct: int
    off_dt_strings: int
    off_mem_rsvmap: int
    version: int
    last_comp_version: int
    boot_cpuid_phys: int
    size_dt_strings: int
    size_dt_struct: int


@dataclass
class RawNode:
    """One node as found in the blob: its path, depth and raw properties."""

    path: str
    depth: int
    parent: int | None  # index of the parent in the list, None for the root
    props: dict[str, bytes] = field(default_factory=dict)


def parse_header(blob: bytes, label: str) -> Header:
    """Decode and sanity-check the header; :class:`DtError` if it is unusable."""
    if len(blob) < HEADER_SIZE:
        raise DtError(
            f"{label}: truncated: {len(blob)} bytes is shorter than the "
            f"{HEADER_SIZE}-byte FDT header"
        )
    h = Header(*struct.unpack_from(">10I", blob, 0))
    if h.magic != FDT_MAGIC:
        raise DtError(f"{label}: not a flattened device tree (bad magic)")
    if h.totalsize > MAX_TOTALSIZE:
        raise DtError(
            f"{label}: header says {h.totalsize} bytes, more than the "
            f"{MAX_TOTALSIZE}-byte limit for a device tree"
        )
    if h.totalsize > len(blob):
        raise DtError(
            f"{label}: truncated: header says {h.totalsize} bytes, file has {len(blob)}"
        )
    if h.totalsize < HEADER_SIZE:
        raise DtError(f"{label}: header says {h.totalsize} bytes, less than the header itself")
    if h.version < MIN_VERSION or h.last_comp_version > MAX_COMP_VERSION:
        raise DtError(
            f"{label}: unsupported FDT version {h.version} "
            f"(last compatible {h.last_comp_version}); need {MIN_VERSION}"
        )
    blocks = (
        ("memory reservation map", h.off_mem_rsvmap, 16),
        ("structure block", h.off_dt_struct, h.size_dt_struct),
        ("strings block", h.off_dt_strings, h.size_dt_strings),
    )
    for what, off, size in blocks:
        if off < HEADER_SIZE:
            raise DtError(f"{label}: {what} at offset {off} overlaps the FDT header")
        if off + size > h.totalsize:
            raise DtError(
                f"{label}: {what} at offset {off} (+{size}) lies outside the "
                f"{h.totalsize}-byte tree"
            )
    if h.off_mem_rsvmap % 8 or h.off_dt_struct % 4:
        raise DtError(f"{label}: misaligned block offsets in the FDT header")
    return h


def check_blob(blob: bytes, label: str) -> bytes:
    """Validate ``blob`` completely; return it cut to ``totalsize``.

    Raises :class:`DtError` for anything libfdt would not read safely.
    """
    h = parse_header(blob, label)
    blob = bytes(blob[: h.totalsize])
    # The SWIG typemap for "const void *fdt" takes a bytearray, not bytes.
    err = libfdt.fdt_check_full(bytearray(blob), len(blob))
    if err < 0:
        raise DtError(f"{label}: malformed flattened device tree: {libfdt.fdt_strerror(err)}")
    return blob


def read_nodes(blob: bytes, label: str, wanted: Collection[str] | None = None) -> list[RawNode]:
    """All nodes of a DTB in blob (depth-first) order with their properties.

    ``wanted`` restricts the properties collected (None: all).  Raises
    :class:`DtError` for malformed blobs, never anything else.
    """
    blob = check_blob(blob, label)
    try:
        return _walk(libfdt.FdtRo(blob), label, wanted)
    except libfdt.FdtException as e:
        raise DtError(f"{label}: malformed flattened device tree: {e}") from None
    except UnicodeDecodeError:
        # SWIG decodes node and property names as UTF-8.
        raise DtError(f"{label}: node or property name is not valid UTF-8") from None
    except SystemError as e:
        # Some SWIG wrappers report that decode failure as a SystemError
        # ("returned a result with an exception set") chained to it.
        if isinstance(e.__cause__, UnicodeDecodeError):
            raise DtError(f"{label}: node or property name is not valid UTF-8") from None
        raise


_NOTFOUND = (libfdt.NOTFOUND,)


def _walk(fdt: libfdt.FdtRo, label: str, wanted: Collection[str] | None) -> list[RawNode]:
    nodes: list[RawNode] = []
    stack: list[int] = []  # indices of the open ancestors, by depth
    seen: set[str] = set()
    offset, depth = 0, 0
    while True:
        name = fdt.get_name(offset)
        del stack[depth:]
        if depth == 0:
            if nodes:
                raise DtError(f"{label}: more than one root node")
            path, parent = "/", None
        else:
            # fdt_check_full does not look at the characters of names; keep
            # paths printable so they can go into one-line messages.
            if not name or "/" in name or not name.isprintable() or " " in name:
                raise DtError(f"{label}: invalid node name {name!r}")
            parent = stack[-1]
            ppath = nodes[parent].path
            path = f"{ppath}{name}" if ppath == "/" else f"{ppath}/{name}"
        if path in seen:
            # dtc merges same-named nodes; a blob with duplicates was not made by it.
            raise DtError(f"{label}: duplicate node {path}")
        seen.add(path)
        node = RawNode(path=path, depth=depth, parent=parent)
        poff = fdt.first_property_offset(offset, _NOTFOUND)
        while poff >= 0:
            prop = fdt.get_property_by_offset(poff)
            if wanted is None or prop.name in wanted:
                node.props[prop.name] = bytes(prop)
            poff = fdt.next_property_offset(poff, _NOTFOUND)
        stack.append(len(nodes))
        nodes.append(node)
        # Returns [offset, depth]; offset is -FDT_ERR_NOTFOUND after the last node.
        res = fdt.next_node(offset, depth, _NOTFOUND)
        if isinstance(res, int):
            raise libfdt.FdtException(res)
        offset, depth = res[0], res[1]
        if offset < 0:
            if offset != -libfdt.NOTFOUND:
                raise libfdt.FdtException(offset)
            break
        if depth < 0:
            break
    return nodes
