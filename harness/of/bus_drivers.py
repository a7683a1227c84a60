"""Bus drivers that create their DT children when they probe (drivers/bus/).

``of_platform_default_populate_init`` only descends into ``simple-bus``-like
nodes; the children of other bus nodes become devices when the bus node's
own driver probes and calls ``of_platform_populate()`` on it.  On OMAP every
device (IOMMUs included) sits below ``simple-pm-bus`` interconnects and
``ti,sysc`` target modules; on Allwinner H6 the display mixers sit below the
DE2 bus.  Those devices are therefore added at ``device_initcall`` time,
when the bus drivers register -- drivers/bus/ links before drivers/iommu/,
so before the device-level IOMMU drivers register (drivers/Makefile L11 vs
L65).

Modelled (6.12 file:line):

* simple-pm-bus (drivers/bus/simple-pm-bus.c L25 ``simple_pm_bus_probe``,
  ``module_platform_driver`` L139): ``of_platform_populate(np, NULL, ...)``
  -- with no match table the children are created but not descended into.
  Its "transparent bus" matches (``simple-bus`` etc. with ``ONLY_BUS`` data)
  do nothing and are left to the generic client drivers.
* ti-sysc (drivers/bus/ti-sysc.c L3227, ``module_init(sysc_init)`` L3324):
  ``of_platform_populate(np, sysc_match_table = {"simple-bus"}, ...)``.
* sun50i-de2-bus (drivers/bus/sun50i-de2.c L22, ``builtin_platform_driver``
  L46): ``of_platform_populate(np, NULL, NULL, dev)`` after claiming the
  SRAM (the claim is modelled as always succeeding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.base.platform import platform_bus_type, platform_device, platform_driver
from harness.bus.amba import amba_bustype
from harness.kernel import kfunc, kfunc_named
from harness.of.node import device_node
from harness.of.platform import of_platform_bus_create

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device


@kfunc_named("of_platform_populate")
def of_platform_populate_node(np: device_node, matches: tuple[str, ...], parent: device) -> int:
    """``of_platform_populate(np, matches, NULL, parent)`` for a bus node."""
    names = {d.init_name for d in platform_bus_type.devices}
    names |= {d.init_name for d in amba_bustype.devices}
    for child in np.children:
        rc = of_platform_bus_create(child, matches, parent, True, names)
        if rc:
            break
    np.populated_bus = True
    return 0


@kfunc
def simple_pm_bus_probe(pdev: platform_device) -> int:
    np = pdev.dev.of_node
    if np is not None:
        of_platform_populate_node(np, (), pdev.dev)
    return 0


sysc_match_table = ("simple-bus",)


@kfunc
def sysc_probe(pdev: platform_device) -> int:
    np: Any = pdev.dev.of_node
    of_platform_populate_node(np, sysc_match_table, pdev.dev)
    return 0


@kfunc
def sun50i_de2_bus_probe(pdev: platform_device) -> int:
    np: Any = pdev.dev.of_node
    of_platform_populate_node(np, (), pdev.dev)
    return 0


@dataclass(frozen=True)
class BusDriverSpec:
    name: str
    compatible: tuple[str, ...]
    probe: Callable[[platform_device], int]

    def make_driver(self) -> platform_driver:
        return platform_driver(self.name, self.probe, self.compatible)


#: in link order inside drivers/bus/Makefile (sun50i-de2 L30, simple-pm-bus L32, ti-sysc L36)
BUS_DRIVERS: tuple[BusDriverSpec, ...] = (
    BusDriverSpec("sun50i-de2-bus", ("allwinner,sun50i-a64-de2",), sun50i_de2_bus_probe),
    BusDriverSpec("simple-pm-bus", ("simple-pm-bus",), simple_pm_bus_probe),
    BusDriverSpec("ti-sysc", (
        "ti,sysc-omap2", "ti,sysc-omap2-timer", "ti,sysc-omap4", "ti,sysc-omap4-timer",
        "ti,sysc-omap4-simple", "ti,sysc-omap3430-sr", "ti,sysc-omap3630-sr", "ti,sysc-omap4-sr",
        "ti,sysc-omap3-sham", "ti,sysc-omap-aes", "ti,sysc-mcasp", "ti,sysc-dra7-mcasp",
        "ti,sysc-usb-host-fs", "ti,sysc-dra7-mcan", "ti,sysc-pruss"), sysc_probe),
)


def bus_driver_compatibles() -> set[str]:
    return {c for b in BUS_DRIVERS for c in b.compatible}
