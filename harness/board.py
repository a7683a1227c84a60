"""The board description (:class:`Board`): what a board's firmware tells the kernel.

Not to be confused with the platform *bus* (``harness/base/platform.py``,
``harness/of/platform.py``).  A board is a device tree reduced to what the
probe path reads (compatible, status, ``iommus``, ``#iommu-cells``, ``iommu-map``, ``dma-ranges``,
``dma-coherent`` and a few driver properties), plus, for ACPI-style and PCI
platforms, devices that firmware enumerates without DT nodes.  Which nodes
become devices, and on which bus, is *not* stored: the model decides that the
way ``of_platform_populate()`` does (``harness.of.platform``).

The JSON form is versioned (``FORMAT``/``VERSION``) and validated on load;
errors name the file and the field.  ``docs/platform-format.md`` documents it.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import inputs
from harness.bus.pci_spec import parse_pci_spec
from harness.inputs import read_json

FORMAT = "probefuzz-platform"
VERSION = 1

# of_supplier_bindings[] entries (drivers/of/property.c:1434) the converter
# keeps: (consumer property, provider's "#...-cells" or "" for
# DEFINE_SIMPLE_PROP(..., NULL), a phandle list without arguments), in table
# order -- iommus/iommu-map have their own fields.  Not kept: remote-endpoint
# (endpoints are graph nodes the converter drops), interrupts,
# interrupts-extended and interrupt-map (their providers are irqchips
# of_irq_init() initialises without a device, or GPIO/PMIC interrupt
# controllers behind buses the model does not populate; docs/boot.md),
# post-init-providers (FWLINK_FLAG_IGNORE: never holds a probe).
SUPPLIER_BINDINGS = (
    ("clocks", "#clock-cells"),
    ("interconnects", "#interconnect-cells"),
    ("mboxes", "#mbox-cells"),
    ("io-channels", "#io-channel-cells"),
    ("io-backends", "#io-backend-cells"),
    ("dmas", "#dma-cells"),
    ("power-domains", "#power-domain-cells"),
    ("hwlocks", "#hwlock-cells"),
    ("extcon", ""),
    ("nvmem-cells", "#nvmem-cell-cells"),
    ("phys", "#phy-cells"),
    ("wakeup-parent", ""),
    *((f"pinctrl-{i}", "") for i in range(9)),
    ("pwms", "#pwm-cells"),
    ("resets", "#reset-cells"),
    ("leds", ""),
    ("backlight", ""),
    ("panel", ""),
    ("msi-parent", "#msi-cells"),
    ("pses", "#pse-cells"),
    ("power-supplies", ""),
    ("gpio", "#gpio-cells"),  # parse_gpio_compat (not below a "gpio-hog")
    ("gpios", "#gpio-cells"),
    ("access-controllers", "#access-controller-cells"),
)
# the DEFINE_SUFFIX_PROP entries and parse_gpios, after the others in the
# table: (property-name suffix, provider's "#...-cells" or "")
SUPPLIER_SUFFIXES = (
    ("-supply", ""),  # parse_regulators
    ("-gpio", "#gpio-cells"),  # parse_gpio
    ("-gpios", "#gpio-cells"),  # parse_gpios (not ",nr-gpios")
)
SUPPLIER_PROPERTIES = tuple(dict.fromkeys(
    [p for pair in SUPPLIER_BINDINGS for p in pair if p]
    + [c for _, c in SUPPLIER_SUFFIXES if c] + ["gpio-hog", "pinctrl-use-default"]))


_BY_NAME = {b[0]: b for b in SUPPLIER_BINDINGS}


@functools.lru_cache(maxsize=4096)
def supplier_binding(name: str) -> tuple[str, str] | None:
    """The (property, cells) binding of_link_property() parses ``name``
    with, or None: exact names first, then the suffixes (property.c:1434;
    "-gpios" but not ",nr-gpios")."""
    b = _BY_NAME.get(name)
    if b is not None:
        return b
    for suffix, cells in SUPPLIER_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            if suffix == "-gpios" and name.endswith(",nr-gpios"):
                return None
            return (name, cells)
    return None



def hog_gpios(prop: str, props: Mapping[str, object]) -> bool:
    """``parse_gpio_compat()`` (property.c): a ``gpio-hog`` node's
    ``gpio``/``gpios`` name its own controller's lines, not a supplier."""
    return prop in ("gpio", "gpios") and "gpio-hog" in props

# Properties kept verbatim (as lists of u32 cells or strings) because some
# modelled driver or core function reads them.
KEPT_PROPERTIES = (
    "reg",
    "stream-match-mask",
    "mmu-masters",
    "#stream-id-cells",
    "#global-interrupts",
    "mediatek,larbs",
    "mediatek,larb-id",
    "mediatek,smi",
    "renesas,ipmmu-main",
    "rockchip,disable-mmu-reset",
    "ats-supported",
    "pasid-num-bits",
    "nvidia,memory-controller",
    "qcom,iommu-secure-id",
    "qcom,ctx-asid",
    "device_type",
    "msi-parent",
    "#address-cells",
    "#size-cells",
    "linux,pci-domain",
    "bus-range",
    # of_device_make_bus_id() translates "reg" through the parents' "ranges"
    "ranges",
    # msm_iommu_probe() fails without it (msm_iommu.c L750)
    "qcom,ncb",
    # omap_iommu_dra7_get_dsp_system_cfg() (omap-iommu.c L1131)
    "ti,syscon-mmuconfig",
    # fw_devlink: the of_supplier_bindings[] entries the model follows
    # (drivers/of/property.c:1434, harness.base.devlink) and their providers'
    # "#...-cells": the consumer side is a phandle list, enough for
    # of_link_property(); which nodes become devices decides the rest
    *SUPPLIER_PROPERTIES,
)


class BoardError(ValueError):
    """A platform description is malformed; the message names file and field."""


@dataclass(frozen=True)
class IommuRef:
    """One ``iommus`` specifier: the IOMMU node's path and its argument cells."""

    iommu: str
    args: tuple[int, ...]


@dataclass(frozen=True)
class IommuMapEntry:
    """One ``iommu-map`` entry: ``<rid-base iommu iommu-base length>``."""

    rid_base: int
    iommu: str
    iommu_base: int
    length: int


@dataclass
class Node:
    """A device-tree node (only the properties the probe path reads)."""

    path: str
    compatible: tuple[str, ...] = ()
    status: str = "okay"
    phandle: int | None = None
    iommu_cells: int | None = None  # "#iommu-cells" (an IOMMU provider)
    iommus: tuple[IommuRef, ...] = ()
    iommu_map: tuple[IommuMapEntry, ...] = ()
    iommu_map_mask: int | None = None
    # None: no "dma-ranges" property; (): empty property (1:1 translation);
    # else (child-addr, parent-addr, size) triples.
    dma_ranges: tuple[tuple[int, int, int], ...] | None = None
    dma_coherent: bool = False
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The node name with its unit address (``vop@fe040000``)."""
        return self.path.rsplit("/", 1)[-1] or "/"

    @property
    def parent_path(self) -> str | None:
        if self.path == "/":
            return None
        head = self.path.rsplit("/", 1)[0]
        return head or "/"

    def available(self) -> bool:
        """``of_device_is_available()``: status absent, "okay" or "ok"."""
        return self.status in ("okay", "ok")


@dataclass
class ExtraDevice:
    """A device firmware enumerates without a DT node of its own.

    PCI endpoints behind a DT host bridge (``bus="pci"``, ``parent`` = the host
    bridge node, ``rid`` = requester ID), fsl-mc/cdx objects (``parent`` = the
    controller node, ``rid`` = ICID / requester ID), and ACPI devices
    (``acpi`` = ``{"iort": {"iommu": NAME, "ids": [...]}, "dma": "coherent"}``
    where ``NAME`` is an ACPI IOMMU in ``acpi_iommus``, or absent for devices
    no IORT/VIOT entry describes).
    """

    name: str
    bus: str
    parent: str | None = None
    rid: int | None = None
    compatible: tuple[str, ...] = ()
    acpi: dict[str, Any] | None = None
    driver_managed_dma: bool = False
    # PCI only (all optional): PCI segment (domain), DMA alias requester IDs
    # (quirks), multi-function device, ACS capability (SV/RR/CR/UF) on the
    # function -- the kernel enables it only if ACS was requested before the
    # function is added (drivers/pci/pci.c:1104).
    segment: int = 0
    dma_aliases: tuple[int, ...] = ()
    multifunction: bool = False
    acs: bool = False


@dataclass(frozen=True)
class ScopeEntry:
    """One device-scope entry of a DMAR DRHD unit or an IVRS IVHD block.

    ``pci``: a PCI function by requester ID (bus << 8 | devfn); with
    ``bridge`` = (secondary, subordinate) it is a PCI sub-hierarchy (the
    bridge and every function on those buses).  ``pci_range``: an IVHD
    start/end range of requester IDs.  ``acpi``: an ACPI namespace device
    (DMAR ANDD / IVHD ACPI HID entry), by extra device name; with ``pci``
    too, the requester ID its DMA uses (IVHD ACPI HID entries carry one).
    ``endpoint``: for a VIOT PCI range, the endpoint ID of ``pci_range[0]``.
    """

    pci: int | None = None
    bridge: tuple[int, int] | None = None
    pci_range: tuple[int, int] | None = None
    acpi: str | None = None
    endpoint: int | None = None  # VIOT: endpoint ID of the range's first requester ID


@dataclass
class AcpiIommu:
    """An IOMMU that ACPI tables describe (IORT SMMU, DMAR/IVRS unit, VIOT).

    ``driver`` names the modelled driver; ``fwnode``: "iort" instances register
    with the node's fwnode, "null" ones (Intel, AMD, legacy SMMUv2 style) with
    a NULL fwnode, "viot" ones (virtio-iommu) with their PCI function's fwnode.
    ``owns`` lists the devices a NULL-fwnode instance's ``probe_device``
    accepts (by name); the rest get ``-ENODEV``.

    DMAR/IVRS units (``driver`` "intel-iommu" / "amd-iommu") describe what
    they translate the way the tables do: ``segment`` (PCI segment),
    ``include_all`` (DRHD INCLUDE_PCI_ALL flag; IVHD "all devices" entry),
    ``scope`` (device-scope entries); ``owns`` names are extra scope
    entries.  ``rid`` is the requester ID of the IOMMU's own PCI function
    (AMD IOMMUs are PCI devices; ``iommu_init_pci`` needs it).
    """

    name: str
    driver: str
    fwnode: str = "iort"
    owns: tuple[str, ...] = ()
    segment: int = 0
    include_all: bool = False
    scope: tuple[ScopeEntry, ...] = ()
    rid: int | None = None


@dataclass
class Board:
    """A board: DT nodes in source order, extra devices, ACPI IOMMUs."""

    name: str
    model: str = ""
    firmware: str = "dt"  # "dt" or "acpi"
    nodes: list[Node] = field(default_factory=list)
    extra_devices: list[ExtraDevice] = field(default_factory=list)
    acpi_iommus: list[AcpiIommu] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    # PCI functions behind DT host bridges that the DT does not name, as the
    # bus scan finds them: "[hotplug:][DDDD:]BB:DD.F[=ID]" (harness.bus.pci_host)
    pci: tuple[str, ...] = ()

    def node_map(self) -> dict[str, Node]:
        return {n.path: n for n in self.nodes}

    # -- JSON ---------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON form (see ``docs/platform-format.md``)."""
        nodes = []
        for n in self.nodes:
            d: dict[str, Any] = {"path": n.path}
            if n.compatible:
                d["compatible"] = list(n.compatible)
            if n.status != "okay":
                d["status"] = n.status
            if n.phandle is not None:
                d["phandle"] = n.phandle
            if n.iommu_cells is not None:
                d["#iommu-cells"] = n.iommu_cells
            if n.iommus:
                d["iommus"] = [{"iommu": r.iommu, "args": list(r.args)} for r in n.iommus]
            if n.iommu_map:
                d["iommu-map"] = [
                    [e.rid_base, e.iommu, e.iommu_base, e.length] for e in n.iommu_map
                ]
            if n.iommu_map_mask is not None:
                d["iommu-map-mask"] = n.iommu_map_mask
            if n.dma_ranges is not None:
                d["dma-ranges"] = [list(r) for r in n.dma_ranges]
            if n.dma_coherent:
                d["dma-coherent"] = True
            if n.props:
                d["props"] = n.props
            nodes.append(d)
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "model": self.model,
            "firmware": self.firmware,
            "provenance": self.provenance,
            "nodes": nodes,
        }
        if self.extra_devices:
            out["extra_devices"] = [
                {
                    k: v
                    for k, v in {
                        "name": e.name,
                        "bus": e.bus,
                        "parent": e.parent,
                        "rid": e.rid,
                        "compatible": list(e.compatible) or None,
                        "acpi": e.acpi,
                        "driver_managed_dma": e.driver_managed_dma or None,
                        "segment": e.segment or None,
                        "dma_aliases": list(e.dma_aliases) or None,
                        "multifunction": e.multifunction or None,
                        "acs": e.acs or None,
                    }.items()
                    if v is not None
                }
                for e in self.extra_devices
            ]
        if self.acpi_iommus:
            out["acpi_iommus"] = [_acpi_iommu_json(a) for a in self.acpi_iommus]
        if self.pci:
            out["pci"] = list(self.pci)
        return out

    @classmethod
    def from_json(cls, data: object, source: str = "<platform>") -> Board:
        """Validate and build; raises :class:`BoardError` naming the field."""
        return _Loader(source).platform(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file + rename)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n")
        os.replace(tmp, p)


def _scope_json(e: ScopeEntry) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if e.pci is not None:
        d["pci"] = e.pci
    if e.bridge is not None:
        d["bridge"] = list(e.bridge)
    if e.pci_range is not None:
        d["pci_range"] = list(e.pci_range)
    if e.acpi is not None:
        d["acpi"] = e.acpi
    if e.endpoint is not None:
        d["endpoint"] = e.endpoint
    return d


def _acpi_iommu_json(a: AcpiIommu) -> dict[str, Any]:
    d: dict[str, Any] = {"name": a.name, "driver": a.driver, "fwnode": a.fwnode, "owns": list(a.owns)}
    # the DMAR/IVRS keys only when set: older files round-trip unchanged
    if a.segment:
        d["segment"] = a.segment
    if a.include_all:
        d["include_all"] = True
    if a.scope:
        d["scope"] = [_scope_json(e) for e in a.scope]
    if a.rid is not None:
        d["rid"] = a.rid
    return d


def load_board(path: str | os.PathLike[str]) -> Board:
    """Read a platform JSON file; :class:`BoardError` on any problem."""
    p = Path(path)
    data = read_json(p, BoardError)
    return Board.from_json(data, str(p))


BUSES = ("platform", "amba", "pci", "fsl-mc", "cdx", "host1x-context")


class _Loader:
    """Field-by-field validation with messages like ``file: nodes[3].iommus[0].args``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> BoardError:
        return BoardError(f"{inputs.name(self.source)}: {where}: {inputs.clip(what, 160)}")

    def _int(self, v: object, where: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(where, f"expected an integer, got {type(v).__name__}")
        if not 0 <= v < 1 << 64:
            raise self.fail(where, "integer out of range")
        return v

    def _str(self, v: object, where: str) -> str:
        if not isinstance(v, str):
            raise self.fail(where, f"expected a string, got {type(v).__name__}")
        return v

    def _list(self, v: object, where: str) -> list[object]:
        if not isinstance(v, list):
            raise self.fail(where, f"expected a list, got {type(v).__name__}")
        return v

    def _obj(self, v: object, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(where, f"expected an object, got {type(v).__name__}")
        return v

    def platform(self, data: object) -> Board:
        d = self._obj(data, "top level")
        if d.get("format") != FORMAT:
            raise self.fail("format", f"expected {FORMAT!r}, got {d.get('format')!r}")
        ver = d.get("version")
        if ver != VERSION:
            raise self.fail("version", f"unsupported version {ver!r} (this probefuzz reads {VERSION})")
        name = self._str(d.get("name"), "name")
        fw = d.get("firmware", "dt")
        if fw not in ("dt", "acpi"):
            raise self.fail("firmware", f"expected 'dt' or 'acpi', got {fw!r}")
        nodes = [self.node(n, f"nodes[{i}]") for i, n in enumerate(self._list(d.get("nodes", []), "nodes"))]
        paths = set()
        for i, n in enumerate(nodes):
            if n.path in paths:
                raise self.fail(f"nodes[{i}].path", f"duplicate node {n.path!r}")
            paths.add(n.path)
        for i, n in enumerate(nodes):
            if n.parent_path is not None and n.parent_path not in paths:
                raise self.fail(f"nodes[{i}].path", f"parent {n.parent_path!r} is not in nodes")
            for j, r in enumerate(n.iommus):
                if r.iommu not in paths:
                    raise self.fail(f"nodes[{i}].iommus[{j}].iommu", f"no node {r.iommu!r}")
            for j, e in enumerate(n.iommu_map):
                if e.iommu not in paths:
                    raise self.fail(f"nodes[{i}].iommu-map[{j}]", f"no node {e.iommu!r}")
        extra = [
            self.extra(e, f"extra_devices[{i}]")
            for i, e in enumerate(self._list(d.get("extra_devices", []), "extra_devices"))
        ]
        acpi = [
            self.acpi_iommu(a, f"acpi_iommus[{i}]")
            for i, a in enumerate(self._list(d.get("acpi_iommus", []), "acpi_iommus"))
        ]
        prov = d.get("provenance", {})
        self._obj(prov, "provenance")
        pci = tuple(self._str(s, f"pci[{i}]") for i, s in enumerate(self._list(d.get("pci", []), "pci")))
        for i, s in enumerate(pci):
            try:
                parse_pci_spec(s)
            except ValueError as e:
                raise self.fail(f"pci[{i}]", str(e)) from None
        return Board(
            name=name,
            model=self._str(d.get("model", ""), "model"),
            firmware=fw,
            nodes=nodes,
            extra_devices=extra,
            acpi_iommus=acpi,
            provenance=prov,
            pci=pci,
        )

    def node(self, v: object, w: str) -> Node:
        d = self._obj(v, w)
        path = self._str(d.get("path"), f"{w}.path")
        if not path.startswith("/"):
            raise self.fail(f"{w}.path", f"not an absolute node path: {path!r}")
        compat = tuple(self._str(c, f"{w}.compatible[{i}]")
                       for i, c in enumerate(self._list(d.get("compatible", []), f"{w}.compatible")))
        iommus = []
        for i, r in enumerate(self._list(d.get("iommus", []), f"{w}.iommus")):
            ro = self._obj(r, f"{w}.iommus[{i}]")
            args = tuple(self._int(a, f"{w}.iommus[{i}].args[{k}]")
                         for k, a in enumerate(self._list(ro.get("args", []), f"{w}.iommus[{i}].args")))
            iommus.append(IommuRef(self._str(ro.get("iommu"), f"{w}.iommus[{i}].iommu"), args))
        imap = []
        for i, e in enumerate(self._list(d.get("iommu-map", []), f"{w}.iommu-map")):
            el = self._list(e, f"{w}.iommu-map[{i}]")
            if len(el) != 4:
                raise self.fail(f"{w}.iommu-map[{i}]", "expected [rid-base, iommu, iommu-base, length]")
            imap.append(IommuMapEntry(self._int(el[0], f"{w}.iommu-map[{i}][0]"),
                                      self._str(el[1], f"{w}.iommu-map[{i}][1]"),
                                      self._int(el[2], f"{w}.iommu-map[{i}][2]"),
                                      self._int(el[3], f"{w}.iommu-map[{i}][3]")))
        dr: tuple[tuple[int, int, int], ...] | None = None
        if "dma-ranges" in d:
            rows = []
            for i, r in enumerate(self._list(d["dma-ranges"], f"{w}.dma-ranges")):
                rl = self._list(r, f"{w}.dma-ranges[{i}]")
                if len(rl) != 3:
                    raise self.fail(f"{w}.dma-ranges[{i}]", "expected [child, parent, size]")
                a, b, c = (self._int(x, f"{w}.dma-ranges[{i}]") for x in rl)
                rows.append((a, b, c))
            dr = tuple(rows)
        cells = d.get("#iommu-cells")
        if cells is not None:
            cells = self._int(cells, f"{w}.#iommu-cells")
        mask = d.get("iommu-map-mask")
        if mask is not None:
            mask = self._int(mask, f"{w}.iommu-map-mask")
        ph = d.get("phandle")
        if ph is not None:
            ph = self._int(ph, f"{w}.phandle")
        status = self._str(d.get("status", "okay"), f"{w}.status")
        coh = d.get("dma-coherent", False)
        if not isinstance(coh, bool):
            raise self.fail(f"{w}.dma-coherent", "expected true or false")
        props = inputs.check_props(self._obj(d.get("props", {}), f"{w}.props"), f"{w}.props", self.fail)
        return Node(path=path, compatible=compat, status=status, phandle=ph, iommu_cells=cells,
                    iommus=tuple(iommus), iommu_map=tuple(imap), iommu_map_mask=mask,
                    dma_ranges=dr, dma_coherent=coh, props=dict(props))

    def extra(self, v: object, w: str) -> ExtraDevice:
        d = self._obj(v, w)
        bus = self._str(d.get("bus"), f"{w}.bus")
        if bus not in BUSES:
            raise self.fail(f"{w}.bus", f"unknown bus {bus!r} (one of {', '.join(BUSES)})")
        rid = d.get("rid")
        if rid is not None:
            rid = self._int(rid, f"{w}.rid")
        parent = d.get("parent")
        if parent is not None:
            parent = self._str(parent, f"{w}.parent")
        acpi = d.get("acpi")
        if acpi is not None:
            acpi = self.acpi_desc(acpi, f"{w}.acpi")
        compat = tuple(self._str(c, f"{w}.compatible[{i}]")
                       for i, c in enumerate(self._list(d.get("compatible", []), f"{w}.compatible")))
        dmd = self._bool(d.get("driver_managed_dma", False), f"{w}.driver_managed_dma")
        aliases = tuple(self._int(a, f"{w}.dma_aliases[{i}]")
                        for i, a in enumerate(self._list(d.get("dma_aliases", []), f"{w}.dma_aliases")))
        return ExtraDevice(name=self._str(d.get("name"), f"{w}.name"), bus=bus, parent=parent,
                           rid=rid, compatible=compat, acpi=acpi, driver_managed_dma=dmd,
                           segment=self._int(d.get("segment", 0), f"{w}.segment"),
                           dma_aliases=aliases,
                           multifunction=self._bool(d.get("multifunction", False), f"{w}.multifunction"),
                           acs=self._bool(d.get("acs", False), f"{w}.acs"))

    def acpi_desc(self, v: object, w: str) -> dict[str, Any]:
        """An ACPI device's description, typed as drivers/acpi/scan.c and the
        IORT code read it: ``dma`` (``_CCA``), ``iort`` (the IOMMU's name and
        the device's IDs), ``dma_ranges`` (``_DMA``)."""
        d = self._obj(v, w)
        if "dma" in d and d["dma"] not in ("coherent", "noncoherent", "none"):
            raise self.fail(f"{w}.dma", "expected 'coherent', 'noncoherent' or 'none'")
        if "iort" in d:
            iort = self._obj(d["iort"], f"{w}.iort")
            self._str(iort.get("iommu"), f"{w}.iort.iommu")
            for i, x in enumerate(self._list(iort.get("ids", []), f"{w}.iort.ids")):
                if self._int(x, f"{w}.iort.ids[{i}]") >= 1 << 32:
                    raise self.fail(f"{w}.iort.ids[{i}]", "expected a 32-bit ID")
        for i, r in enumerate(self._list(d.get("dma_ranges", []), f"{w}.dma_ranges")):
            rl = self._list(r, f"{w}.dma_ranges[{i}]")
            if len(rl) != 3:
                raise self.fail(f"{w}.dma_ranges[{i}]", "expected [child, parent, size]")
            for x in rl:
                self._int(x, f"{w}.dma_ranges[{i}]")
        return d

    def _bool(self, v: object, where: str) -> bool:
        if not isinstance(v, bool):
            raise self.fail(where, "expected true or false")
        return v

    def scope_entry(self, v: object, w: str) -> ScopeEntry:
        d = self._obj(v, w)
        unknown = set(d) - {"pci", "bridge", "pci_range", "acpi", "endpoint"}
        if unknown:
            raise self.fail(w, f"unknown key {sorted(unknown)[0]!r}")
        kinds = [k for k in ("pci", "pci_range", "acpi") if k in d]
        if kinds == ["pci", "acpi"]:
            kinds = ["acpi"]  # an ACPI device with the requester ID it uses
        if len(kinds) != 1:
            raise self.fail(w, "expected exactly one of 'pci', 'pci_range', 'acpi'")
        if "bridge" in d and "pci" not in d:
            raise self.fail(f"{w}.bridge", "only a 'pci' entry can be a bridge")
        pair: dict[str, tuple[int, int]] = {}
        for k in ("bridge", "pci_range"):
            if k in d:
                el = self._list(d[k], f"{w}.{k}")
                if len(el) != 2:
                    raise self.fail(f"{w}.{k}", "expected [first, last]")
                a, b = (self._int(x, f"{w}.{k}") for x in el)
                if a > b:
                    raise self.fail(f"{w}.{k}", "first is above last")
                pair[k] = (a, b)
        return ScopeEntry(pci=self._int(d["pci"], f"{w}.pci") if "pci" in d else None,
                          bridge=pair.get("bridge"), pci_range=pair.get("pci_range"),
                          acpi=self._str(d["acpi"], f"{w}.acpi") if "acpi" in d else None,
                          endpoint=self._int(d["endpoint"], f"{w}.endpoint") if "endpoint" in d else None)

    def acpi_iommu(self, v: object, w: str) -> AcpiIommu:
        d = self._obj(v, w)
        fw = d.get("fwnode", "iort")
        if fw not in ("iort", "null", "viot"):
            raise self.fail(f"{w}.fwnode", f"expected 'iort', 'null' or 'viot', got {fw!r}")
        owns = tuple(self._str(o, f"{w}.owns[{i}]")
                     for i, o in enumerate(self._list(d.get("owns", []), f"{w}.owns")))
        scope = tuple(self.scope_entry(e, f"{w}.scope[{i}]")
                      for i, e in enumerate(self._list(d.get("scope", []), f"{w}.scope")))
        rid = d.get("rid")
        return AcpiIommu(name=self._str(d.get("name"), f"{w}.name"),
                         driver=self._str(d.get("driver"), f"{w}.driver"), fwnode=fw, owns=owns,
                         segment=self._int(d.get("segment", 0), f"{w}.segment"),
                         include_all=self._bool(d.get("include_all", False), f"{w}.include_all"),
                         scope=scope, rid=None if rid is None else self._int(rid, f"{w}.rid"))


# Old names, for branches in flight when the module was renamed from
# harness/platform.py (issue 12); new code uses the names above.
Platform = Board
PlatformError = BoardError
load_platform = load_board
