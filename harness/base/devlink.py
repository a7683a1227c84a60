"""fw_devlink (drivers/base/core.c, drivers/of/property.c): supplier links
from firmware properties hold a consumer's probe until its suppliers bind.

``of_fwnode_add_links()`` walks a DT node's properties with the parsers of
``of_supplier_bindings[]`` (drivers/of/property.c); each phandle found is a
supplier the consumer waits for.  The properties modelled are the ones that
matter on the IOMMU probe path: ``iommus``, ``iommu-map``, ``msi-map``,
``clocks``, ``power-domains``, ``resets``, ``interconnects``, ``phys`` (the
last five only when the platform keeps them: the corpus converter keeps
the IOMMU ones).

``really_probe()`` calls ``device_links_check_suppliers()`` first
(drivers/base/dd.c; core.c:1123): with ``fw_devlink=on`` (the DT default)
a consumer whose supplier device is not bound yet returns -EPROBE_DEFER
("supplier %s not ready") before ``dma_configure``; a supplier node with no
device waits until the nearest ancestor device binds (core.c
``fw_devlink_purge_absent_suppliers``).  ``permissive`` only makes
sync-state links (nothing waits), ``off`` makes none.  Links to a supplier
no driver can match are relaxed by ``fw_devlink_drivers_done()``
(core.c:1833: at ``deferred_probe_initcall`` without modules, at the
deferred-probe timeout with them).  Two-way dependencies are cycles the
kernel detects and does not enforce (``FWLINK_FLAG_CYCLE``).
"""

from __future__ import annotations

from typing import Any

from harness.errno import EPROBE_DEFER
from harness.kernel import kernel, kfunc

FW_DEVLINK_ON = "on"
FW_DEVLINK_PERMISSIVE = "permissive"
FW_DEVLINK_OFF = "off"
FW_DEVLINK_MODES = (FW_DEVLINK_ON, FW_DEVLINK_PERMISSIVE, FW_DEVLINK_OFF)

# of_supplier_bindings[] entries with a "#...-cells" provider property
# (drivers/of/property.c DEFINE_SIMPLE_PROP lines)
_CELLS_PROPS = {"clocks": "#clock-cells", "power-domains": "#power-domain-cells",
                "resets": "#reset-cells", "interconnects": "#interconnect-cells",
                "phys": "#phy-cells"}


def _cells(props: dict[str, Any], name: str) -> int:
    v = props.get(name)
    return v[0] if isinstance(v, list) and v else 0


def supplier_paths(node: Any, by_phandle: dict[int, Any]) -> list[str]:
    """The supplier node paths of a platform :class:`~harness.board.Node`."""
    out = [r.iommu for r in node.iommus] + [e.iommu for e in node.iommu_map]
    msi = node.props.get("msi-map")  # <rid-base phandle msi-base length>...
    if isinstance(msi, list):
        out += [by_phandle[msi[i + 1]].path for i in range(0, len(msi) - 3, 4)
                if msi[i + 1] in by_phandle]
    for prop, cells in _CELLS_PROPS.items():
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
    """Per boot: the mode and, per consumer node path, its supplier paths."""

    def __init__(self, mode: str, nodes: list[Any], buses: list[Any]) -> None:
        self.mode = mode
        self.drivers_done = False
        self.buses = buses
        self._by_node: dict[str, Any] = {}
        self._seen = -1
        by_phandle = {n.phandle: n for n in nodes if n.phandle is not None}
        avail = {n.path for n in nodes if n.available()}
        self.suppliers: dict[str, list[str]] = {}
        for n in nodes:
            # of_link_to_phandle(): no link to a disabled supplier, to the
            # node itself or to one of its ancestors
            sups = [s for s in supplier_paths(n, by_phandle)
                    if s in avail and s != n.path and not n.path.startswith(s.rstrip("/") + "/")]
            if sups:
                self.suppliers[n.path] = sups
        # two-way dependencies: cycles, not enforced (FWLINK_FLAG_CYCLE)
        graph = dict(self.suppliers)
        self.suppliers = {c: [s for s in sups if not _reaches(graph, s, c)] for c, sups in graph.items()}


    def devices_by_of_node(self) -> dict[str, Any]:
        """Node path -> its device (rebuilt when devices come or go)."""
        n = sum(len(b.devices) for b in self.buses)
        if n != self._seen:
            self._seen = n
            self._by_node = {d.of_node.full_name: d for b in self.buses for d in b.devices
                             if d.of_node is not None and not d.dead}
        return self._by_node


def _reaches(graph: dict[str, list[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        if n == goal:
            return True
        if n not in seen:
            seen.add(n)
            todo.extend(graph.get(n, ()))
    return False


def state() -> DevlinkState | None:
    st: DevlinkState | None = kernel().globals.get("fw_devlink")
    return st


def _supplier_device(path: str, by_node: dict[str, Any]) -> tuple[Any, bool]:
    """The supplier's device, or its nearest ancestor's (and whether it is
    the ancestor's: an absent supplier waits for its parent to bind)."""
    p = path
    while p:
        dev = by_node.get(p)
        if dev is not None:
            return dev, p != path
        p = p.rsplit("/", 1)[0]
    return None, True


@kfunc
def device_links_check_suppliers(dev: Any) -> int:
    """core.c:1123: -EPROBE_DEFER while a supplier is not bound."""
    from harness.device import device_is_bound

    st = state()
    np = dev.of_node
    if st is None or st.mode != FW_DEVLINK_ON or np is None:
        return 0
    sups = st.suppliers.get(np.full_name)
    if not sups:
        return 0
    by_node = st.devices_by_of_node()
    for path in sups:
        sup, absent = _supplier_device(path, by_node)
        if sup is None or sup is dev or device_is_bound(sup):
            continue
        if st.drivers_done and not sup.can_match:
            continue  # fw_devlink_relax_link(): no driver will ever bind it
        if absent and sup.of_node is not None and np.full_name.startswith(sup.of_node.full_name + "/"):
            continue  # the waiting child's own ancestor
        dev.deferred_probe_reason = f"supplier {sup.init_name} not ready"
        return -EPROBE_DEFER
    return 0


@kfunc
def fw_devlink_drivers_done() -> None:
    """core.c:1833: links to suppliers no driver matched are relaxed."""
    st = state()
    if st is not None:
        st.drivers_done = True
