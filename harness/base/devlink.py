"""fw_devlink (drivers/base/core.c, drivers/of/property.c): supplier links
from firmware properties hold a consumer's probe until its suppliers bind.

``of_fwnode_add_links()`` walks a DT node's properties with the parsers of
``of_supplier_bindings[]`` (drivers/of/property.c:1434); each phandle found is
a supplier (``of_link_to_phandle()``: none when the supplier or an ancestor
is disabled).  The entries modelled are the ones that matter on the IOMMU
probe path, in table order: ``clocks``, ``interconnects``, ``iommus``,
``iommu-map``, ``dmas``, ``power-domains``, ``phys``, ``resets`` (the corpus
converter keeps them all, ``harness.board.SUPPLIER_BINDINGS``).
``iommus``, ``iommu-map`` and ``dmas`` are ``.optional``: ``of_link_property()``
skips them unless ``fw_devlink_is_strict()`` (``fw_devlink.strict=1`` and not
permissive, core.c:1785), so by default an IOMMU client does *not* wait for
its IOMMU -- its driver's probe reaches ``of_iommu_configure()`` and defers
there.  ``msi-map`` is no supplier binding in 6.12; ``msi-parent`` is, but
its providers never get a link (see ``_CELLS_PROPS``).

``really_probe()`` calls ``device_links_check_suppliers()`` first
(drivers/base/dd.c:679; core.c:1123): with ``fw_devlink=on`` or ``rpm`` (the
kernel's default, ``FW_DEVLINK_FLAGS_RPM``, core.c:1720)

* a supplier node with a device is a device link: the consumer defers
  ("supplier %s not ready") until the supplier is bound; a supplier no driver
  ever matched is relaxed by ``fw_devlink_drivers_done()`` (core.c:1833: at
  ``deferred_probe_initcall`` without modules, at the deferred-probe timeout
  with them);
* a supplier node with no device keeps its fwnode link
  (``fw_devlink_create_devlink()`` -EAGAIN, core.c:2259):
  ``fwnode_links_check_suppliers()`` defers the consumer ("wait for supplier
  %pfwf") until the node's nearest device ancestor binds and picks the link
  up (``fw_devlink_pickup_dangling_consumers()``); nothing relaxes it;
* a supplier initialised without a driver (``FWNODE_FLAG_INITIALIZED``:
  ``CLK_OF_DECLARE``, ``IRQCHIP_DECLARE``, early genpd providers,
  harness.of.of_init), or below one, gets no link at all (core.c:2231, 2252);
* dependency cycles (through supplier links or parents,
  ``__fw_devlink_relax_cycles()``) are ``FWLINK_FLAG_CYCLE``: not enforced.

``permissive`` only makes sync-state links (nothing waits), ``off`` makes
none.
"""

from __future__ import annotations

from typing import Any

from harness.device import device_is_bound
from harness.errno import EPROBE_DEFER
from harness.kernel import kernel, kfunc

FW_DEVLINK_ON = "on"
FW_DEVLINK_RPM = "rpm"  # FW_DEVLINK_FLAGS_ON | DL_FLAG_PM_RUNTIME: the 6.12 default
FW_DEVLINK_PERMISSIVE = "permissive"
FW_DEVLINK_OFF = "off"
FW_DEVLINK_MODES = (FW_DEVLINK_RPM, FW_DEVLINK_ON, FW_DEVLINK_PERMISSIVE, FW_DEVLINK_OFF)
# modes whose links carry DL_FLAG_AUTOPROBE_CONSUMER: the consumer's probe waits
HOLDING_MODES = (FW_DEVLINK_ON, FW_DEVLINK_RPM)

# of_supplier_bindings[] entries with a "#...-cells" provider property
# (drivers/of/property.c DEFINE_SIMPLE_PROP lines), table order, and whether
# the entry is .optional (followed only when fw_devlink_is_strict())
_CELLS_PROPS: tuple[tuple[str, str, bool], ...] = (
    ("clocks", "#clock-cells", False),
    ("interconnects", "#interconnect-cells", False),
    ("iommus", "", True),  # parse_iommus: Node.iommus, already resolved
    ("iommu-map", "", True),  # parse_iommu_maps: Node.iommu_map
    ("dmas", "#dma-cells", True),
    ("power-domains", "#power-domain-cells", False),
    ("phys", "#phy-cells", False),
    ("resets", "#reset-cells", False),
)
_DEFAULT_PROPS = frozenset(p for p, cells, optional in _CELLS_PROPS if cells and not optional)
_STRICT_PROPS = frozenset(p for p, cells, optional in _CELLS_PROPS if cells)
# msi-parent is a binding too, but its providers (GIC ITS, MSI controllers)
# are irq domains set up by of_irq_init() before any initcall: marked
# initialised without a device (irqdomain.c:247, OF_POPULATED in irq.c:623),
# so fw_devlink_create_devlink() links nothing (core.c:2250 "might never
# become dev").  Nothing on the probe path ever waits on one.


def _cells(props: dict[str, Any], name: str) -> int:
    v = props.get(name)
    return v[0] if isinstance(v, list) and v else 0


def supplier_paths(node: Any, by_phandle: dict[int, Any], *, strict: bool = False) -> list[str]:
    """The supplier node paths of a platform :class:`~harness.board.Node`.

    ``strict`` is ``fw_devlink_is_strict()``: only then are the ``.optional``
    bindings (``iommus``, ``iommu-map``, ``dmas``) followed (property.c:1512).
    """
    out: list[str] = []
    for prop, cells, optional in _CELLS_PROPS:
        if optional and not strict:
            continue
        if prop == "iommus":
            out += [r.iommu for r in node.iommus]
            continue
        if prop == "iommu-map":
            out += [e.iommu for e in node.iommu_map]
            continue
        v = node.props.get(prop)
        i = 0
        while isinstance(v, list) and i < len(v):
            sup = by_phandle.get(v[i])
            if sup is None:
                break
            out.append(sup.path)
            i += 1 + _cells(sup.props, cells)
    return list(dict.fromkeys(out))


class DevlinkState:
    """Per boot: the mode and, per consumer node path, its supplier paths.

    ``suppliers`` are the fwnode links ``of_fwnode_add_links()`` makes
    (``of_link_to_phandle()``: the supplier and its ancestors available),
    minus those ``fw_devlink_create_devlink()`` drops for good when the
    consumer's device is added: a supplier initialised without a driver
    (``initialized``, ``fwnode_init_without_drv()``) and cycles
    (``__fw_devlink_relax_cycles()``: a supplier that depends on its
    consumer through supplier links or its parents is ``FWLINK_FLAG_CYCLE``).
    """

    def __init__(self, mode: str, nodes: list[Any], buses: list[Any], *, strict: bool = False,
                 initialized: frozenset[str] = frozenset(),
                 cache: dict[bool, dict[str, list[str]]] | None = None) -> None:
        self.mode = mode
        # fw_devlink_is_strict(): fw_devlink.strict=1 and not permissive
        self.strict = strict and mode != FW_DEVLINK_PERMISSIVE
        self.drivers_done = False
        self.buses = buses
        # fwnodes with FWNODE_FLAG_INITIALIZED set before any device is added
        # (CLK_OF_DECLARE, IRQCHIP_DECLARE, early genpd providers: harness.of.of_init)
        self.initialized = initialized
        self._by_node: dict[str, Any] = {}
        self._seen = -1
        self.suppliers: dict[str, list[str]] = {}
        # the links depend on the tree alone: a pooled tree keeps them
        # (``cache``: DeviceTree.fw_links, per fw_devlink_is_strict())
        if cache is not None and self.strict in cache:
            self.suppliers = cache[self.strict]
            return
        self._links(nodes)
        if cache is not None:
            cache[self.strict] = self.suppliers

    def _links(self, nodes: list[Any]) -> None:
        initialized = self.initialized
        # only nodes with a followed binding can be consumers; most boards
        # have none by default (the IOMMU ones are optional): skip the rest
        props = _STRICT_PROPS if self.strict else _DEFAULT_PROPS
        consumers = [n for n in nodes if not props.isdisjoint(n.props)
                     or (self.strict and (n.iommus or n.iommu_map))]
        if not consumers:
            return
        by_phandle = {n.phandle: n for n in nodes if n.phandle is not None}
        by_path = {n.path: n for n in nodes}
        for n in consumers:
            sups = [s for s in supplier_paths(n, by_phandle, strict=self.strict)
                    if s != n.path and _of_link_to_phandle(s, by_path)
                    and s not in initialized]
            if sups:
                self.suppliers[n.path] = sups
        # __fw_devlink_relax_cycles(): the supplier, its suppliers or its
        # parents lead back to the consumer -- a cycle, not enforced
        graph = dict(self.suppliers)
        self.suppliers = {c: [s for s in sups if not _reaches(graph, s, c)] for c, sups in graph.items()}
        self.suppliers = {c: sups for c, sups in self.suppliers.items() if sups}

    def devices_by_of_node(self) -> dict[str, Any]:
        """Node path -> its device (rebuilt when devices come or go)."""
        n = sum(len(b.devices) for b in self.buses)
        if n != self._seen:
            self._seen = n
            self._by_node = {d.of_node.full_name: d for b in self.buses for d in b.devices
                             if d.of_node is not None and not d.dead}
        return self._by_node


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _of_link_to_phandle(sup: str, by_path: dict[str, Any]) -> bool:
    """property.c:1144: no fwnode link when the supplier or an ancestor below
    the root is disabled (none of them has a device yet when the fwtree is
    parsed: ``of_platform_populate()`` adds devices in DT order)."""
    p = sup
    while p != "/":
        n = by_path.get(p)
        if n is not None and not n.available():
            return False
        p = _parent(p)
    return True


def _reaches(graph: dict[str, list[str]], start: str, goal: str) -> bool:
    """Whether ``start`` depends on ``goal`` through supplier links or
    parents (``__fw_devlink_relax_cycles()`` follows both)."""
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        if n == goal:
            return True
        if n not in seen:
            seen.add(n)
            todo.extend(graph.get(n, ()))
            if n != "/":
                todo.append(_parent(n))
    return False


def state() -> DevlinkState | None:
    st: DevlinkState | None = kernel().globals.get("fw_devlink")
    return st


def _supplier_device(path: str, by_node: dict[str, Any]) -> tuple[Any, bool]:
    """The supplier's device, or its nearest ancestor's (and whether it is
    the ancestor's)."""
    p = path
    while p:
        dev = by_node.get(p)
        if dev is not None:
            return dev, p != path
        p = p.rsplit("/", 1)[0]
    return None, True


def _ancestor_init_without_drv(path: str, st: DevlinkState, by_node: dict[str, Any]) -> bool:
    """core.c:1949 ``fwnode_init_without_drv()`` of an ancestor: initialised,
    and no device or none bound (true at link time: no driver has bound when
    ``of_platform_populate()`` adds the consumer)."""
    p = _parent(path)
    while True:
        if p in st.initialized:
            dev = by_node.get(p)
            return dev is None or not device_is_bound(dev)
        if p == "/":
            return False
        p = _parent(p)


@kfunc
def device_links_check_suppliers(dev: Any) -> int:
    """core.c:1123: -EPROBE_DEFER while a supplier link is not satisfied.

    A supplier node with a device: a device link, satisfied once the
    supplier is bound, relaxed by ``fw_devlink_drivers_done()`` when no
    driver ever matched it ("supplier %s not ready").  A supplier node with
    no device: its fwnode link stays (``fw_devlink_create_devlink()`` returns
    -EAGAIN) and ``fwnode_links_check_suppliers()`` defers the consumer
    ("wait for supplier %pfwf") until the node's nearest device ancestor
    binds (``fw_devlink_pickup_dangling_consumers()`` moves the link to it,
    core.c:238), unless an ancestor was initialised without a driver
    (dropped, core.c:2252).  Nothing relaxes a fwnode link.
    """
    st = state()
    np = dev.of_node
    if st is None or st.mode not in HOLDING_MODES or np is None:
        return 0
    sups = st.suppliers.get(np.full_name)
    if not sups:
        return 0
    by_node = st.devices_by_of_node()
    for path in sups:
        sup, absent = _supplier_device(path, by_node)
        if sup is dev:
            continue
        if sup is not None and device_is_bound(sup):
            continue  # bound supplier, or the bound ancestor that picked the link up
        if absent:
            if _ancestor_init_without_drv(path, st, by_node):
                continue
            dev.deferred_probe_reason = f"wait for supplier {path}"
            return -EPROBE_DEFER
        if st.drivers_done and not sup.can_match:
            continue  # fw_devlink_relax_link(): no driver will ever bind it
        dev.deferred_probe_reason = f"supplier {sup.init_name} not ready"
        return -EPROBE_DEFER
    return 0


@kfunc
def fw_devlink_drivers_done() -> None:
    """core.c:1833: links to suppliers no driver matched are relaxed."""
    st = state()
    if st is not None:
        st.drivers_done = True
