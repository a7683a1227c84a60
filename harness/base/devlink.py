"""fw_devlink (drivers/base/core.c, drivers/of/property.c): supplier links
from firmware properties hold a consumer's probe until its suppliers bind.

``of_fwnode_add_links()`` walks a DT node's properties with the parsers of
``of_supplier_bindings[]`` (drivers/of/property.c:1434); each phandle found is
a supplier (``of_link_to_phandle()``: none when the supplier or an ancestor
is disabled).  Modelled, in table order: ``clocks``, ``interconnects``,
``iommus``, ``iommu-map``, ``mboxes``, ``io-channels``, ``io-backends``,
``dmas``, ``power-domains``, ``hwlocks``, ``extcon``, ``nvmem-cells``,
``phys``, ``wakeup-parent``, ``pinctrl-0``..``pinctrl-8``, ``pwms``,
``resets``, ``leds``, ``backlight``, ``panel``, ``msi-parent``, ``pses``,
``power-supplies``, ``gpio``/``gpios``, ``access-controllers``, then by
suffix ``*-supply``, ``*-gpio``, ``*-gpios`` (the corpus converter keeps
them, ``harness.board.SUPPLIER_BINDINGS``).  Not modelled:
``remote-endpoint`` (graph endpoints are not kept), ``interrupts``,
``interrupts-extended``, ``interrupt-map`` and ``post-init-providers``
(docs/boot.md says why).
``iommus``, ``iommu-map`` and ``dmas`` are ``.optional``: ``of_link_property()``
skips them unless ``fw_devlink_is_strict()`` (``fw_devlink.strict=1`` and not
permissive, core.c:1785), so by default an IOMMU client does *not* wait for
its IOMMU -- its driver's probe reaches ``of_iommu_configure()`` and defers
there.  ``msi-map`` is no supplier binding in 6.12.

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

from harness.board import SUPPLIER_BINDINGS, hog_gpios, supplier_binding
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

# of_supplier_bindings[] entries (drivers/of/property.c:1434), table order:
# (property, provider's "#...-cells" -- "" for a NULL cells name, a plain
# phandle list --, whether the entry is .optional: followed only when
# fw_devlink_is_strict()).  iommus and iommu-map come from Node.iommus and
# Node.iommu_map, already resolved by the converter.
_CELLS_PROPS: tuple[tuple[str, str, bool], ...] = (
    ("clocks", "#clock-cells", False),
    ("interconnects", "#interconnect-cells", False),
    ("iommus", "#iommu-cells", True),
    ("iommu-map", "", True),
    *((p, c, p == "dmas") for p, c in SUPPLIER_BINDINGS[2:]),
)
_EXACT = frozenset(p for p, _, _ in _CELLS_PROPS)
_ORDER = {p: i for i, (p, _, _) in enumerate(_CELLS_PROPS)}
_CELLS = {p: (cells, optional) for p, cells, optional in _CELLS_PROPS}
_DEFAULT_PROPS = frozenset(p for p, cells, optional in _CELLS_PROPS
                           if not optional and p not in ("iommus", "iommu-map"))
_STRICT_PROPS = frozenset(p for p, cells, optional in _CELLS_PROPS if p not in ("iommus", "iommu-map"))
# msi-parent is followed like any other binding; its usual providers (GIC
# ITS, v2m frames) are irq domains of_irq_init() sets up before any
# initcall (irqdomain.c:247, OF_POPULATED in irq.c:623), so
# fw_devlink_create_devlink() drops the link (core.c:2250 "might never
# become dev"), and a v2m frame without "#msi-cells" stops the parse.


def _has_supplier_prop(props: dict[str, Any], names: frozenset[str]) -> bool:
    if not names.isdisjoint(props):
        return True
    return any(k not in _EXACT and supplier_binding(k) is not None for k in props)


def _phandles(node: Any, prop: str, cells: str, by_phandle: dict[int, Any]) -> list[str]:
    """``parse_prop_cells()`` for every index: the supplier paths of ``prop``
    up to the first entry ``of_parse_phandle_with_args()`` rejects (unknown
    phandle; a provider without ``cells`` when the binding names one)."""
    out: list[str] = []
    v = node.props.get(prop)
    i = 0
    while isinstance(v, list) and i < len(v):
        sup = by_phandle.get(v[i])
        if sup is None:
            break
        if cells:
            n = sup.props.get(cells)
            if not isinstance(n, list) or len(n) != 1:
                break
            count = n[0]
        else:
            count = 0
        out.append(sup.path)
        i += 1 + count
    return out


def supplier_paths(node: Any, by_phandle: dict[int, Any], *, strict: bool = False) -> list[str]:
    """The supplier node paths of a platform :class:`~harness.board.Node`.

    ``strict`` is ``fw_devlink_is_strict()``: only then are the ``.optional``
    bindings (``iommus``, ``iommu-map``, ``dmas``) followed (property.c:1512).
    Exact property names in table order, then the suffixed ones
    (``*-supply``, ``*-gpio``, ``*-gpios``) in property order.
    """
    props = node.props
    # the node's bindings in of_supplier_bindings[] order (a node has a
    # handful of properties; the table has 34 entries)
    present = [(_ORDER[k], k) for k in props if k in _ORDER]
    if strict and node.iommus:
        present.append((_ORDER["iommus"], "iommus"))
    if strict and node.iommu_map:
        present.append((_ORDER["iommu-map"], "iommu-map"))
    out: list[str] = []
    for _, prop in sorted(present):
        cells, optional = _CELLS[prop]
        if optional and not strict:
            continue
        if prop == "iommus":
            out += [r.iommu for r in node.iommus]
        elif prop == "iommu-map":
            out += [e.iommu for e in node.iommu_map]
        elif hog_gpios(prop, props):
            continue
        else:
            out += _phandles(node, prop, cells, by_phandle)
    for prop in props:
        if prop not in _EXACT:
            b = supplier_binding(prop)
            if b is not None:
                out += _phandles(node, prop, b[1], by_phandle)
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
        consumers = [n for n in nodes if _has_supplier_prop(n.props, props)
                     or (self.strict and (n.iommus or n.iommu_map))]
        if not consumers:
            return
        by_phandle = {n.phandle: n for n in nodes if n.phandle is not None}
        by_path = {n.path: n for n in nodes}
        linkable: dict[str, bool] = {}  # _of_link_to_phandle() per supplier
        for n in consumers:
            sups = []
            for s in supplier_paths(n, by_phandle, strict=self.strict):
                if s == n.path or s in initialized:
                    continue
                ok = linkable.get(s)
                if ok is None:
                    ok = linkable[s] = _of_link_to_phandle(s, by_path)
                if ok:
                    sups.append(s)
            if sups:
                self.suppliers[n.path] = sups
        # __fw_devlink_relax_cycles(): the supplier, its suppliers or its
        # parents lead back to the consumer -- a cycle, not enforced
        # (a link c -> s is on a cycle iff s reaches c: both in one strongly
        # connected component of the links and the child -> parent edges)
        comp = _components(self.suppliers)
        self.suppliers = {c: kept for c, sups in self.suppliers.items()
                          if (kept := [s for s in sups if comp[s] != comp[c]])}

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


def _components(graph: dict[str, list[str]]) -> dict[str, int]:
    """Strongly connected components (Tarjan, iterative) of the supplier
    links plus every node's edge to its parent: ``comp[a] == comp[b]`` iff
    each depends on the other through links or parents -- what
    ``__fw_devlink_relax_cycles()`` follows (supplier links and parents)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    comp: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def succ(n: str) -> list[str]:
        out = list(graph.get(n, ()))
        if n != "/":
            out.append(_parent(n))
        return out

    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, succ(root)))
        while work:
            n, todo = work[-1]
            if todo:
                m = todo.pop()
                if m not in index:
                    index[m] = low[m] = counter
                    counter += 1
                    stack.append(m)
                    on_stack.add(m)
                    work.append((m, succ(m)))
                elif m in on_stack:
                    low[n] = min(low[n], index[m])
                continue
            work.pop()
            if work:
                p = work[-1][0]
                low[p] = min(low[p], low[n])
            if low[n] == index[n]:
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp[m] = index[n]
                    if m == n:
                        break
    return comp


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
