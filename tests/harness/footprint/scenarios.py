"""The variants and boot configurations the footprint tests record: the
rk3568 registration race with the IOMMU driver probing asynchronously, and
sdm845 with everything asynchronous."""

from __future__ import annotations

from pathlib import Path

from harness.boot import BootConfig
from harness.variant import NEXT

BOARDS = Path(__file__).resolve().parents[3] / "corpus" / "boards"
NEXT_RK = NEXT.with_values("NEXT+rk-fix", "", **{"rk_iommu_probe.dma_dev": "before_register"})
IOMMU_ASYNC = BootConfig(driver_async_probe=("rk_iommu",))
ALL_ASYNC = BootConfig(async_probe_all=True, driver_async_probe=("*",))
