"""drivers/bus/fsl-mc/fsl-mc-bus.c: ``fsl_mc_dma_configure`` (ICID as input ID)."""

from __future__ import annotations

from typing import Any

from harness.acpi.scan import DEV_DMA_COHERENT, acpi_dma_configure_id
from harness.base import dd
from harness.device import bus_type, device, device_driver
from harness.kernel import kfunc
from harness.of.device import of_dma_configure_id


class fsl_mc_device:  # noqa: N801
    def __init__(self, name: str, icid: int, mc_np: Any) -> None:
        self.dev = device(name, fsl_mc_bus_type)
        self.dev.container = self
        self.icid = icid
        self.mc_np = mc_np  # first non-fsl-mc ancestor's OF node


class fsl_mc_driver:  # noqa: N801
    """``driver`` is the first member: container_of(NULL) is NULL."""

    def __init__(self, name: str, probe: Any, ids: tuple[str, ...] = (),
                 driver_managed_dma: bool = False) -> None:
        self.driver = device_driver(name, fsl_mc_bus_type, ids)
        self.driver.container = self
        self.probe = probe
        self.driver_managed_dma = driver_managed_dma


def to_fsl_mc_driver(drv: device_driver | None) -> Any:
    return None if drv is None else drv.container


@kfunc
def fsl_mc_bus_match(dev: device, drv: device_driver) -> int:
    return int(getattr(dev.container, "compatible", "") in drv.of_match_table)


@kfunc
def fsl_mc_driver_probe(dev: device) -> int:
    drv = to_fsl_mc_driver(dev.driver)
    return int(drv.probe(dev.container)) if drv.probe is not None else 0


@kfunc
def fsl_mc_dma_configure(dev: device) -> int:
    ddrv = dev.driver  # read once here; the guard may read it again (driver_read site)
    mc_drv = to_fsl_mc_driver(ddrv)
    mc_dev = dev.container
    input_id = mc_dev.icid
    if mc_dev.mc_np is not None:
        ret = of_dma_configure_id(dev, mc_dev.mc_np, False, input_id)
    else:
        ret = acpi_dma_configure_id(dev, DEV_DMA_COHERENT, input_id)
    return dd.bus_dma_claim("fsl_mc_dma_configure", dev, mc_drv, ddrv, ret)


@kfunc
def fsl_mc_dma_cleanup(dev: device) -> None:
    dd.bus_dma_cleanup(dev, to_fsl_mc_driver(dev.driver))


fsl_mc_bus_type = bus_type("fsl-mc", match=fsl_mc_bus_match, probe=fsl_mc_driver_probe,
                           dma_configure=fsl_mc_dma_configure, dma_cleanup=fsl_mc_dma_cleanup)


def dev_is_fsl_mc(dev: device) -> bool:
    return getattr(dev, "bus", None) is fsl_mc_bus_type
