"""Guard sites of the bus ``dma_configure`` hooks (drivers/base/platform.c,
drivers/amba/bus.c, drivers/pci/pci-driver.c, drivers/bus/fsl-mc/fsl-mc-bus.c,
drivers/cdx/cdx.c): when the hook claims the default domain (4/4), and whether
it reads ``dev->driver`` once or twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from harness.sites import active
from harness.sites.shapes import ONCE, TWICE, Comment, GuardedIf, ReadOnce
from harness.sites.site import G, P, PredDef, Site
from harness.sites.vocab import RET_OK, dev_of, device_vocab

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.variant import Variant

def _drv_not_managed(field_name: str) -> PredDef:
    # ``drv`` is the bus driver derived from dev->driver at function entry:
    # NULL or a bogus pointer when no driver was set, so reading it faults.
    return PredDef(f"!{field_name}->driver_managed_dma",
                   lambda e: not e["drv"].driver_managed_dma,
                   "the bound driver uses the kernel DMA API")


_CLAIM = "ret = iommu_device_use_default_domain(dev);"


#: the local a bus hook snapshots dev->driver into (``<fn>.driver_read`` = once)
SNAP_LOCAL = "ddrv"


def _hook_driver(fn: str) -> PredDef:
    """``dev->driver`` in a bus hook: re-read now (twice), or the value the hook
    read at entry to derive its bus driver pointer (once: the snapshot)."""
    def read(e: Mapping[str, Any]) -> bool:
        if active.choice(f"{fn}.driver_read") == ONCE:
            return e["ddrv"] is not None
        return dev_of(e).driver is not None
    return PredDef("dev->driver", read, "a driver is bound or binding")


def _bus_hook_c(fn: str, drvvar: str) -> GuardedIf:
    """C of a bus hook's claim: ``if (G) { ret = iommu_device_use_default_domain(dev); ...}``,
    or platform's early return ``if (!G) return ret;`` in front of the claim."""
    comment = Comment(f"@{drvvar} may not be valid when we're called from the IOMMU layer",
                      requires=("dev->driver",))
    if fn == "platform_dma_configure":
        return GuardedIf(body="return ret;", follow=_CLAIM, negated=True, removable=False,
                         comments=(comment,), aliases=((SNAP_LOCAL, "dev->driver"),),
                         body_regex=r"^\s*return ret;\s*ret = iommu_device_use_default_domain")
    return GuardedIf(body="{\n" + _CLAIM + "\n...\n}", removable=False, comments=(comment,),
                     aliases=((SNAP_LOCAL, "dev->driver"),),
                     body_regex=r"^\s*\{\s*ret = iommu_device_use_default_domain")


def _bus_hook_site(bus: str, fn: str, file: str, drvvar: str) -> Site:
    vocab = {"dev->driver": _hook_driver(fn),
             **device_vocab("dev->iommu_group", "dev->iommu", "dev->dma_range_map",
                      **{"!ret": RET_OK, "!drv->driver_managed_dma": _drv_not_managed(drvvar)})}
    return Site(
        name=f"{fn}.use_default_domain",
        function=fn,
        file=file,
        kind="guard",
        doc=f"{bus} bus: when dma_configure claims the default domain for the driver",
        v614=G(P("!ret"), P("!drv->driver_managed_dma")),
        next=G(P("!ret"), P("dev->driver"), P("!drv->driver_managed_dma")),
        vocab=vocab,
        patch="4/4",
        c=_bus_hook_c(fn, drvvar),
    )


SITES: list[Site] = []
_add = SITES.append


def _tests_driver(guard_site: str) -> Callable[[Variant], bool]:
    def when(v: Variant) -> bool:
        g = v.value(guard_site)
        return g is not None and any(p.name == "dev->driver" for p in g.conj)
    return when


def _snapshot_site(fn: str, file: str, drvvar: str, derive: str) -> Site:
    return Site(
        name=f"{fn}.driver_read", function=fn, file=file, kind="choice",
        doc=("reads of dev->driver: at entry and again in the guard (twice), or one "
             f"READ_ONCE() snapshot `{SNAP_LOCAL}` (once)"),
        v614=TWICE, next=TWICE, alternatives=(TWICE, ONCE),
        c=ReadOnce(fn, "dev->driver", "struct device_driver", SNAP_LOCAL, derive, drvvar,
                    when=_tests_driver(f"{fn}.use_default_domain")))


for _bus, _fn, _file, _drv, _derive in (
    ("platform", "platform_dma_configure", "drivers/base/platform.c", "drv", "to_platform_driver"),
    ("amba", "amba_dma_configure", "drivers/amba/bus.c", "drv", "to_amba_driver"),
    ("pci", "pci_dma_configure", "drivers/pci/pci-driver.c", "driver", "to_pci_driver"),
    ("fsl-mc", "fsl_mc_dma_configure", "drivers/bus/fsl-mc/fsl-mc-bus.c", "mc_drv",
     "to_fsl_mc_driver"),
    ("cdx", "cdx_dma_configure", "drivers/cdx/cdx.c", "cdx_drv", "to_cdx_driver"),
):
    _add(_bus_hook_site(_bus, _fn, _file, _drv))
    _add(_snapshot_site(_fn, _file, _drv, _derive))
