"""A DT PCI host bridge's driver and the root bus scan (drivers/pci/probe.c,
drivers/pci/bus.c, drivers/pci/quirks.c, drivers/pci/controller/pci-host-common.c).

The kernel does not take PCI functions from the DT: the host bridge's driver
scans the bus when it probes (``pci_host_common_probe`` -> ``pci_host_probe``
-> ``pci_scan_root_bus_bridge``), ``pci_device_add()`` adds every function it
finds (``match_driver = false``: the ADD_DEVICE notifier runs, no driver
binds), then ``pci_bus_add_devices()`` allows matching and attaches drivers.
Which functions answer config reads is hardware; the model finds, per host
bridge (:func:`root_bus_functions`):

* the host bridge function at devfn 0 of the root bus (00:00.0): on an ECAM
  root complex it is the RC's own function, which the DT never names;
* functions the DT lists below the bridge (``reg`` phys.hi: bus, devfn);
* functions implied by an ``iommu-map`` entry for a single root-bus
  requester ID (something answers there); wider entries, or per-bus entries
  behind root ports (qcom, Apple map buses that may stay empty), imply nothing;
* functions the platform (``Board.pci``) or the scenario
  (``BootConfig.pci``, ``--pci``) declares, as ``[DDDD:]BB:DD.F[=ID]``, with a
  ``hotplug:`` prefix for functions that appear only at a rescan event.

Fixups run in the C's phases: ``pci_fixup_header`` in ``pci_device_add``
(probe.c:2635), ``pci_fixup_final`` in ``pci_bus_add_device`` (bus.c:341);
the table holds the DMA alias quirks that change IOMMU grouping.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from harness.base import dd
from harness.bus.pci import pci_bus_type, pci_dev, pci_device_add
from harness.bus.pci_spec import PciFunction, parse_pci_spec
from harness.kernel import kfunc

__all__ = ["PciFunction", "parse_pci_spec"]

# -- fixups (drivers/pci/quirks.c) --------------------------------------------------------

def _pci_id(pdev: pci_dev) -> tuple[int, int] | None:
    m = re.match(r"^pci([0-9a-fA-F]{4}),([0-9a-fA-F]{4})$", getattr(pdev, "compatible", "") or "")
    return (int(m.group(1), 16), int(m.group(2), 16)) if m else None


def quirk_dma_func0_alias(pdev: pci_dev) -> None:
    """quirks.c:4285: the function DMAs with function 0's requester ID."""
    if pdev.devfn & 7 != 0:
        pdev.dma_alias_mask.append((pdev.rid & ~7) & 0xFFFF)


def quirk_dma_func1_alias(pdev: pci_dev) -> None:
    """quirks.c:4303: the function DMAs with function 1's requester ID."""
    if pdev.devfn & 7 != 1:
        pdev.dma_alias_mask.append((pdev.rid & ~7 | 1) & 0xFFFF)


PCI_FIXUP_HEADER = "header"
PCI_FIXUP_FINAL = "final"
# (phase, vendor, device, hook): DECLARE_PCI_FIXUP_HEADER lines of quirks.c
PCI_FIXUPS: tuple[tuple[str, int, int, Callable[[pci_dev], None]], ...] = (
    (PCI_FIXUP_HEADER, 0x1180, 0xE832, quirk_dma_func0_alias),  # Ricoh, L4296
    (PCI_FIXUP_HEADER, 0x1180, 0xE476, quirk_dma_func0_alias),  # Ricoh, L4297
    (PCI_FIXUP_HEADER, 0x1B4B, 0x9120, quirk_dma_func1_alias),  # Marvell 88SE9120, L4315
    (PCI_FIXUP_HEADER, 0x1B4B, 0x9123, quirk_dma_func1_alias),  # Marvell 88SE9123, L4317
    (PCI_FIXUP_HEADER, 0x1B4B, 0x9172, quirk_dma_func1_alias),  # Marvell 88SE9172
)


@kfunc
def pci_fixup_device(phase: str, pdev: pci_dev) -> None:
    """quirks.c ``pci_fixup_device``: the hooks of ``phase`` matching the ID."""
    ids = _pci_id(pdev)
    if ids is None:
        return
    for ph, vendor, device, hook in PCI_FIXUPS:
        if ph == phase and (vendor, device) == ids:
            hook(pdev)


# -- the scan ------------------------------------------------------------------------------

def _reg_rid(node: Any) -> int | None:
    reg = node.desc.props.get("reg")
    return (reg[0] >> 8) & 0xFFFF if isinstance(reg, list) and reg else None


def _is_pci_bus(node: Any) -> bool:
    return node is not None and node.desc.props.get("device_type") in ("pci", "pciex")


def is_pci_host_bridge(node: Any) -> bool:
    """A DT node whose driver is a PCI host bridge: a PCI bus node that is
    not itself below one."""
    return _is_pci_bus(node) and not _is_pci_bus(node.parent)


def host_bridge_domain(host_np: Any, index: int) -> int:
    """``of_get_pci_domain_nr()`` ("linux,pci-domain"), else the order the
    bridges probe in (``pci_bus_find_domain_nr``'s ida, from 0)."""
    dom = host_np.desc.props.get("linux,pci-domain")
    return dom[0] if isinstance(dom, list) and dom else index


def root_bus_functions(host_np: Any, domain: int, declared: list[PciFunction]) -> list[PciFunction]:
    """What ``pci_scan_child_bus()`` finds behind ``host_np``, in devfn order
    (see the module docstring); hotplug functions included, flagged."""
    bus_range = host_np.desc.props.get("bus-range")
    root = bus_range[0] if isinstance(bus_range, list) and bus_range else 0
    found: dict[int, PciFunction] = {root << 8: PciFunction(domain, root << 8)}

    def walk(np: Any) -> None:
        for child in np.children:
            if not child.desc.available():
                continue
            rid = _reg_rid(child)
            if rid is not None:
                compat = child.desc.compatible[0] if child.desc.compatible else found.get(
                    rid, PciFunction(domain, rid)).compatible
                found[rid] = PciFunction(domain, rid, compat)
            if _is_pci_bus(child):
                walk(child)
    walk(host_np)
    # an entry for one root-bus requester ID names a function that answers
    # there; wider entries and entries for other buses are not evidence (qcom
    # maps all 16 buses below the root port one by one, Apple one bus per
    # port, virtio-iommu's binding maps 0-7 and 9-ffff around the IOMMU)
    for e in host_np.desc.iommu_map:
        if e.length == 1 and e.rid_base >> 8 == root:
            found.setdefault(e.rid_base, PciFunction(domain, e.rid_base))
    for f in declared:
        if f.domain == domain:
            found[f.rid] = f
    return [found[r] for r in sorted(found)]


def _present(host_np: Any, rid: int) -> bool:
    return any(getattr(d.container, "host_np", None) is host_np and d.container.rid == rid
               and not d.dead for d in pci_bus_type.devices)


@kfunc
def pci_bus_add_device(pdev: pci_dev) -> None:
    """bus.c:333: final fixups, then matching allowed and drivers attached."""
    pci_fixup_device(PCI_FIXUP_FINAL, pdev)
    dn = pdev.dev.of_node
    pdev.match_driver = dn is None or dn.desc.available()
    dd.__device_attach(pdev.dev, True)


@kfunc
def pci_scan_root_bus(host_np: Any, domain: int, declared: list[PciFunction], *,
                      rescan: bool = False) -> list[pci_dev]:
    """``pci_scan_child_bus()`` + ``pci_bus_add_devices()``: add the functions
    not on the bus yet (at boot the non-hotplug ones, at a rescan all)."""
    added = []
    funcs = root_bus_functions(host_np, domain, declared)
    # pci_scan_slot(): functions > 0 exist only on a multi-function device,
    # whose header type says so for function 0 too (probe.c pci_scan_slot)
    slots = [f.rid >> 3 for f in funcs]
    for f in funcs:
        if (f.hotplug and not rescan) or _present(host_np, f.rid):
            continue
        pdev = pci_dev(f.name, f.rid, host_np, domain)
        pdev.compatible = f.compatible  # type: ignore[attr-defined]
        pdev.multifunction = slots.count(f.rid >> 3) > 1
        pdev.dev.dma_mask = pdev.dev.coherent_dma_mask
        # pci_setup_device(): header fixups before pci_device_add()
        pci_fixup_device(PCI_FIXUP_HEADER, pdev)
        pdev.match_driver = False  # probe.c:2662, "Notifier could use PCI capabilities"
        pci_device_add(pdev)
        added.append(pdev)
    for pdev in added:
        pci_bus_add_device(pdev)
    return added


class pci_host_bridge_driver:  # noqa: N801
    """pci-host-generic and the other DT host controller drivers (their probes
    end in ``pci_host_probe``): built in at device level, drivers/pci linking
    before drivers/iommu (drivers/Makefile)."""

    def __init__(self, compatibles: tuple[str, ...], declared: list[PciFunction]) -> None:
        from harness.base.platform import platform_driver

        self.declared = declared
        self.domains: dict[int, int] = {}  # id(host node) -> domain
        self.platform_driver = platform_driver("pci-host-generic", self.probe, compatibles)
        self.driver = self.platform_driver.driver

    def domain_of(self, host_np: Any) -> int:
        key = id(host_np)
        if key not in self.domains:
            self.domains[key] = host_bridge_domain(host_np, len(self.domains))
        return self.domains[key]

    def probe(self, pdev: Any) -> int:
        return pci_host_common_probe(pdev, self)


@kfunc
def pci_host_common_probe(pdev: Any, host: pci_host_bridge_driver) -> int:
    np = pdev.dev.of_node
    pci_scan_root_bus(np, host.domain_of(np), host.declared)
    return 0


@kfunc
def pci_rescan_bus(host: pci_host_bridge_driver) -> None:
    """``echo 1 > /sys/bus/pci/rescan``: every bound host bridge's root bus
    is scanned again; functions not on the bus (hot-plugged, removed) are added."""
    for dev in list(host.driver.devices):
        np = dev.of_node
        pci_scan_root_bus(np, host.domain_of(np), host.declared, rescan=True)
