"""drivers/amba/bus.c: AMBA (PrimeCell) devices and ``amba_dma_configure``."""

from __future__ import annotations

from typing import Any

from harness.acpi.scan import acpi_dma_configure, acpi_get_dma_attr
from harness.base import dd
from harness.base.core import device_add
from harness.base.platform import of_driver_match_device, of_match_table_keys
from harness.device import bus_type, dev_fwnode, device, device_driver
from harness.kernel import kfunc
from harness.of.device import of_dma_configure_id


class amba_device:  # noqa: N801
    def __init__(self, name: str) -> None:
        self.dev = device(name, amba_bustype)
        self.dev.container = self


class amba_driver:  # noqa: N801
    """``struct amba_driver``: ``drv`` is its first member, so container_of(NULL)
    is NULL."""

    def __init__(self, name: str, probe: Any, of_match_table: tuple[str, ...] = (),
                 driver_managed_dma: bool = False, probe_type: int = 0) -> None:
        self.drv = device_driver(name, amba_bustype, of_match_table, probe_type)
        self.drv.container = self
        self.probe = probe
        self.driver_managed_dma = driver_managed_dma


def to_amba_driver(drv: device_driver | None) -> Any:
    return None if drv is None else drv.container


@kfunc
def amba_match(dev: device, drv: device_driver) -> int:
    return of_driver_match_device(dev, drv)


@kfunc
def amba_probe(dev: device) -> int:
    pcdrv = to_amba_driver(dev.driver)
    return int(pcdrv.probe(dev.container)) if pcdrv.probe is not None else 0


@kfunc
def amba_dma_configure(dev: device) -> int:
    ddrv = dev.driver  # read once here; the guard may read it again (driver_read site)
    drv = to_amba_driver(ddrv)
    ret = 0
    fw = dev_fwnode(dev)
    if dev.of_node is not None:
        ret = of_dma_configure_id(dev, dev.of_node, True, None)
    elif fw is not None and fw.kind == "acpi":
        ret = acpi_dma_configure(dev, acpi_get_dma_attr(fw))
    return dd.bus_dma_claim("amba_dma_configure", dev, drv, ddrv, ret)


@kfunc
def amba_dma_cleanup(dev: device) -> None:
    dd.bus_dma_cleanup(dev, to_amba_driver(dev.driver))


def amba_match_keys(dev: device) -> tuple[str, ...]:
    """The ids ``amba_match()`` compares: the OF node's compatibles."""
    np = dev.of_node
    return tuple(np.compatible) if np is not None else ()


amba_bustype = bus_type("amba", match=amba_match, probe=amba_probe,
                        dma_configure=amba_dma_configure, dma_cleanup=amba_dma_cleanup,
                        match_keys=amba_match_keys, driver_keys=of_match_table_keys)


@kfunc
def amba_device_add(adev: amba_device) -> int:
    return device_add(adev.dev)
