"""State predicates shared by the core guard sites (``struct device`` fields)
and C text more than one kernel file's sites use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.sites.site import PredDef

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device


def dev_of(e: Mapping[str, Any]) -> device:
    """The ``dev`` local of a site's environment."""
    return e["dev"]


V_DEV: dict[str, PredDef] = {
    "dev->driver": PredDef("dev->driver", lambda e: dev_of(e).driver is not None,
                           "a driver is bound or binding (read now)"),
    "dev->iommu": PredDef("dev->iommu", lambda e: dev_of(e).iommu is not None,
                          "per-device IOMMU data exists"),
    "dev->iommu->fwspec": PredDef("dev_iommu_fwspec_get(dev)",
                                  lambda e: dev_of(e).iommu is not None
                                  and dev_of(e).iommu.fwspec is not None,
                                  "firmware already identified the instance"),
    "dev->iommu_group": PredDef("dev->iommu_group", lambda e: dev_of(e).iommu_group is not None,
                                "already IOMMU-probed"),
    "dev->dma_range_map": PredDef("dev->dma_range_map", lambda e: dev_of(e).dma_range_map is not None,
                                  "dma-ranges already parsed"),
    "dev->bus": PredDef("dev->bus", lambda e: dev_of(e).bus is not None, "on a bus"),
    "dev->bus->dma_configure": PredDef(
        "dev->bus->dma_configure", lambda e: dev_of(e).bus.dma_configure is not None,
        "the bus has a dma_configure hook"),
}


def device_vocab(*names: str, **extra: PredDef) -> dict[str, PredDef]:
    """The named ``struct device`` predicates plus site-specific ones."""
    v = {n: V_DEV[n] for n in names}
    v.update(extra)
    return v


RET_OK = PredDef("!ret", lambda e: e["ret"] == 0, "firmware configuration succeeded")
ERR_OK = PredDef("!err", lambda e: e["err"] == 0, "parsing succeeded")

#: the lock iommu_probe_device() and of_iommu_configure() take
PROBE_DEVICE_LOCK = "&iommu_probe_device_lock"


def smpl_lines(c_text: str, sign: str) -> str:
    """Every line of ``c_text`` stripped and prefixed with ``sign`` (SmPL ``+``/``-``/`` ``)."""
    return "\n".join(sign + ln.strip() for ln in c_text.splitlines())
