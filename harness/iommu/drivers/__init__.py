"""IOMMU driver models, one module per drivers/iommu source file.

Each module defines ``DRIVER`` (an :class:`IommuDriverSpec`): the DT
compatible strings it matches and a factory for its ``struct
platform_driver``.  Per-boot driver globals live in ``kernel().globals``.
"""

from __future__ import annotations

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
    make_driver: Callable[[], Any]  # -> platform_driver
    # position in drivers/iommu/Makefile link order (device_initcall order)
    link_order: int = 0


def all_drivers() -> list[IommuDriverSpec]:
    """Every modelled IOMMU driver, in link order."""
    from harness.iommu.drivers import arm_smmu_v3, rockchip_iommu

    specs = [rockchip_iommu.DRIVER, arm_smmu_v3.DRIVER]
    return sorted(specs, key=lambda s: s.link_order)


def driver_for_compatible(compat: tuple[str, ...]) -> IommuDriverSpec | None:
    for spec in all_drivers():
        if any(c in spec.compatible for c in compat):
            return spec
    return None
