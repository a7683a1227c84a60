"""drivers/of/platform.c: ``of_platform_populate()`` creates the devices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.base.core import device_add
from harness.base.platform import platform_device
from harness.bus.amba import amba_device, amba_device_add
from harness.kernel import kfunc
from harness.of.node import DeviceTree, device_node, of_device_is_available

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device

# of_default_bus_match_table (CONFIG_ARM_AMBA=y on arm64)
of_default_bus_match_table = ("simple-bus", "simple-mfd", "isa", "arm,amba-bus")
# of_skipped_node_table
of_skipped_node_table = ("operating-points-v2",)
# of_match_node() against a table: does any of the node's compatibles
# appear in it (~300 nodes a boot, the tables as sets)
_SKIPPED = frozenset(of_skipped_node_table)
_MATCH_SETS: dict[tuple[str, ...], frozenset[str]] = {}


def _match_set(matches: tuple[str, ...]) -> frozenset[str]:
    s = _MATCH_SETS.get(matches)
    if s is None:
        s = _MATCH_SETS[matches] = frozenset(matches)
    return s


def of_device_make_bus_id(np: device_node) -> str:
    """The device name drivers/of/device.c ``of_device_make_bus_id()`` gives.

    ``%llx.<name>`` with "reg" translated through the parents' "ranges"
    (``of_translate_address()``); where that fails, ``kbasename(full_name)``
    joined with ``:`` to the first ancestor that translates.  Platforms that
    recorded no "ranges" at all (older JSON) use the node's unit address,
    which is the translated address in well-formed trees.
    """
    # the name depends on the tree alone: computed once per node of a tree
    if np.bus_id is None:
        np.bus_id = _of_device_make_bus_id(np)
    return np.bus_id


def _of_device_make_bus_id(np: device_node) -> str:
    if not _tree_has_ranges(np):
        if np.unit:
            return f"{np.unit.split(',')[0]}.{np.name}"
        return np.name
    name: str | None = None
    node: device_node | None = np
    while node is not None and node.parent is not None:
        addr = of_translate_address(node)
        if addr is not None:
            return f"{addr:x}.{node.name}" + (f":{name}" if name else "")
        base = node.full_name.rsplit("/", 1)[-1]
        name = f"{base}:{name}" if name else base
        node = node.parent
    return name or np.name


def _tree_has_ranges(np: device_node) -> bool:
    root = np
    while root.parent is not None:
        root = root.parent
    cached = getattr(root, "_has_ranges", None)
    if cached is None:
        stack, cached = [root], False
        while stack and not cached:
            n = stack.pop()
            cached = "ranges" in n.desc.props
            stack.extend(n.children)
        root._has_ranges = cached  # type: ignore[attr-defined]
    return bool(cached)


def _n_cells(np: device_node, prop: str, default: int) -> int:
    """``of_n_addr_cells()``/``of_n_size_cells()``: from the parent upwards."""
    node = np
    while True:
        if node.parent is not None:
            node = node.parent
        v = node.desc.props.get(prop)
        if isinstance(v, list) and v:
            return int(v[0])
        if node.parent is None:
            return default


def _number(cells: list[int]) -> int:
    n = 0
    for c in cells:
        n = (n << 32) | c
    return n & ((1 << 64) - 1)


def _is_pci_bus(np: device_node) -> bool:
    return np.desc.props.get("device_type") in ("pci", "pciex")


def of_translate_address(np: device_node) -> int | None:
    """drivers/of/address.c ``of_translate_address(np, reg)`` of the first
    "reg" entry; None for OF_BAD_ADDR.  PCI parents are not translated."""
    reg = np.desc.props.get("reg")
    na = _n_cells(np, "#address-cells", 2)
    ns = _n_cells(np, "#size-cells", 1)
    if not isinstance(reg, list) or len(reg) < na or np.parent is None or _is_pci_bus(np.parent):
        return None
    addr = _number(reg[:na])
    dev = np.parent
    while dev.parent is not None:
        pna = _n_cells(dev, "#address-cells", 2)
        pns = _n_cells(dev, "#size-cells", 1)
        if _is_pci_bus(dev.parent):
            return None
        ranges = dev.desc.props.get("ranges")
        if ranges is None:
            return None  # "no ranges; cannot translate"
        if ranges is True or not ranges:
            pass  # "empty ranges; 1:1 translation"
        else:
            rone = na + pna + ns
            for i in range(0, len(ranges) - rone + 1, rone):
                cp = _number(ranges[i:i + na])
                pp = _number(ranges[i + na:i + na + pna])
                size = _number(ranges[i + na + pna:i + rone])
                if cp <= addr < cp + size:
                    addr = pp + addr - cp
                    break
            else:
                return None
        na, ns = pna, pns
        dev = dev.parent
    return addr


@kfunc
def of_device_alloc(np: device_node, bus_id: str | None, parent: device | None) -> platform_device:
    pdev = platform_device(bus_id or of_device_make_bus_id(np))
    pdev.dev.of_node = np
    pdev.dev.parent = parent
    return pdev


@kfunc
def of_platform_device_create_pdata(np: device_node, bus_id: str | None, parent: device | None,
                                    names: set[str]) -> platform_device | None:
    if not of_device_is_available(np) or np.populated:
        return None
    np.populated = True
    pdev = of_device_alloc(np, bus_id, parent)
    # Names must be unique on the bus (sysfs); the kernel would fail the
    # second device_add with -EEXIST.
    if pdev.dev.init_name in names:
        return None
    names.add(pdev.dev.init_name)
    pdev.dev.coherent_dma_mask = (1 << 32) - 1
    pdev.dev.dma_mask = pdev.dev.coherent_dma_mask
    if device_add(pdev.dev):
        return None
    return pdev


@kfunc
def of_amba_device_create(np: device_node, bus_id: str | None, parent: device | None,
                          names: set[str]) -> Any:
    if not of_device_is_available(np) or np.populated:
        return None
    np.populated = True
    name = bus_id or of_device_make_bus_id(np)
    if name in names:
        return None
    names.add(name)
    adev = amba_device(name)
    adev.dev.of_node = np
    adev.dev.parent = parent
    adev.dev.coherent_dma_mask = (1 << 32) - 1
    adev.dev.dma_mask = adev.dev.coherent_dma_mask
    amba_device_add(adev)
    return adev


@kfunc
def of_platform_bus_create(bus: device_node, matches: tuple[str, ...], parent: device | None,
                           strict: bool, names: set[str]) -> int:
    # Make sure it has a compatible property
    if strict and not bus.compatible:
        return 0
    # Skip nodes for which we don't want to create devices
    if not _SKIPPED.isdisjoint(bus.compatible):
        return 0
    if bus.populated_bus:
        return 0
    if "arm,primecell" in bus.compatible:
        of_amba_device_create(bus, None, parent, names)
        return 0
    dev = of_platform_device_create_pdata(bus, None, parent, names)
    if dev is None or _match_set(matches).isdisjoint(bus.compatible):
        return 0
    for child in bus.children:
        rc = of_platform_bus_create(child, matches, dev.dev, strict, names)
        if rc:
            break
    bus.populated_bus = True
    return 0


@kfunc
def of_platform_populate(tree: DeviceTree, matches: tuple[str, ...] = of_default_bus_match_table,
                         root: device_node | None = None) -> int:
    if root is None:
        root = tree.root
    if root is None:
        return 0
    names: set[str] = set()
    for child in root.children:
        # /chosen, /aliases, /cpus, /memory have no compatible (or are not
        # populated by this path); reserved-memory is handled elsewhere.
        if child.name in ("chosen", "aliases", "cpus", "reserved-memory"):
            continue
        rc = of_platform_bus_create(child, matches, None, True, names)
        if rc:
            break
    root.populated_bus = True
    return 0


@kfunc
def of_platform_default_populate_init(tree: DeviceTree) -> int:
    # /firmware first (drivers/of/platform.c:571): SCMI, SCM, OP-TEE nodes,
    # providers of clocks and power domains on many boards
    fw = tree.by_path.get("/firmware")
    if fw is not None:
        of_platform_populate(tree, of_default_bus_match_table, fw)
    return of_platform_populate(tree)
