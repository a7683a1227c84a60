"""Every guard site, core and driver: the registry :data:`SITES`.

A site is data (:mod:`harness.sites.site`): where it is in the kernel's C,
its vocabulary of state predicates, its v6.14 and linux-next values and its
C shape (:mod:`harness.sites.shapes`).  Core sites are declared in one module
per kernel file (``iommu.py`` = drivers/iommu/iommu.c, ``of_iommu.py``,
``acpi_scan.py``, ``of_device.py``, ``acpi_dma.py``, ``bus.py`` for the bus
``dma_configure`` hooks); IOMMU driver sites in ``drivers/<driver>.py``, one
module per driver that has any, collected in name order.  Adding a driver's
sites means adding a module there and nothing else.

The registry order is the order of rule prefixes in generated Coccinelle
files and of ``Variant.as_dict()``: core files first, in the order below.
"""

from __future__ import annotations

import importlib
import pkgutil

from harness.sites import acpi_dma, acpi_scan, bus, drivers, iommu, of_device, of_iommu
from harness.sites.site import Site

CORE = (iommu, of_iommu, acpi_scan, of_device, acpi_dma, bus)


def collect() -> list[Site]:
    """Every driver module's ``SITES``, modules in name order (stable ids)."""
    out: list[Site] = []
    for info in sorted(pkgutil.iter_modules(drivers.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{drivers.__name__}.{info.name}")
        out.extend(getattr(mod, "SITES", []))
    return out


SITES: dict[str, Site] = {}
for _s in [s for m in CORE for s in m.SITES] + collect():
    SITES[_s.name] = _s
