"""IOMMU driver models, one module per drivers/iommu source file.

Every module of this package that defines ``DRIVER`` is a modelled driver
(found by :func:`all_drivers`, so adding a driver is adding a module).
Each module defines ``DRIVER`` (an :class:`IommuDriverSpec`): the DT
compatible strings it matches and a factory for its ``struct
platform_driver``.  Per-boot driver globals live in ``kernel().globals``.

Drivers that are not platform drivers say so through the optional fields:
x86 DMAR/IVRS drivers (Intel VT-d, AMD-Vi) have no driver to register but an
``init`` function the boot runs as an initcall at level ``initcall``
(``intel_iommu_init``/``amd_iommu_init`` via ``pci_iommu_init``,
rootfs_initcall); virtio-iommu's factory makes a ``struct virtio_driver``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IommuDriverSpec:
    """What the boot needs to know about an IOMMU driver."""

    name: str  # the driver's .name
    family: str  # corpus family name
    source: str  # drivers/iommu/... file
    compatible: tuple[str, ...]  # of_match_table
    make_driver: Callable[[], Any] | None = None  # -> platform_driver (or virtio_driver)
    # position in link order within an initcall level: 10 * the line of
    # drivers/iommu/Makefile that builds it (+ the position inside a subdir
    # Makefile: arm/arm-smmu/ is line 2); drivers/memory/ (tegra-smmu via the
    # memory controller) links after drivers/iommu/
    link_order: int = 0
    # initcall level of its registration: module_platform_driver() and
    # builtin_platform_driver() are "device"; core_initcall() "core",
    # subsys_initcall() "subsys", arch_initcall() "arch", ...
    initcall: str = "device"
    # the driver's own module init function, called with the driver object
    # make_driver() made, when it does more than module_platform_driver()
    # (arm_smmu_init() also registers the impl drivers; qcom_iommu_init()
    # registers the context-bank driver first); None: module_platform_driver()
    module_init: Callable[[Any], int] | None = None
    # An initcall of its own instead of (or besides) a driver: called with no
    # arguments at level ``initcall`` (after that level's driver
    # registrations); it reads the firmware tables it needs (the ACPI
    # DMAR/IVRS units: ``kernel().globals["acpi_iommus"]``) and returns an
    # initcall result.  None for plain platform drivers.
    init: Callable[[], int] | None = None


_ALL: list[IommuDriverSpec] | None = None


def all_drivers() -> list[IommuDriverSpec]:
    """Every modelled IOMMU driver, in link order."""
    global _ALL
    if _ALL is None:
        specs = []
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            mod = importlib.import_module(f"{__name__}.{info.name}")
            spec = getattr(mod, "DRIVER", None)
            if isinstance(spec, IommuDriverSpec):
                specs.append(spec)
        _ALL = sorted(specs, key=lambda s: (s.link_order, s.name))
    return list(_ALL)


def driver_for_compatible(compat: tuple[str, ...]) -> IommuDriverSpec | None:
    for spec in all_drivers():
        if any(c in spec.compatible for c in compat):
            return spec
    return None
