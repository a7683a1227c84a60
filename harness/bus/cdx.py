"""drivers/cdx/cdx.c: ``cdx_dma_configure`` (requester ID as input ID; it
swallows -EPROBE_DEFER by returning 0 at the end)."""

from __future__ import annotations

from typing import Any

from harness.base import dd
from harness.device import bus_type, device, device_driver
from harness.errno import EPROBE_DEFER
from harness.kernel import kernel, kfunc
from harness.of.device import of_dma_configure_id


class cdx_device:  # noqa: N801
    def __init__(self, name: str, req_id: int, ctrl_np: Any) -> None:
        self.dev = device(name, cdx_bus_type)
        self.dev.container = self
        self.req_id = req_id
        self.ctrl_np = ctrl_np


class cdx_driver:  # noqa: N801
    """``driver`` is the first member: container_of(NULL) is NULL."""

    def __init__(self, name: str, probe: Any, ids: tuple[str, ...] = (),
                 driver_managed_dma: bool = False) -> None:
        self.driver = device_driver(name, cdx_bus_type, ids)
        self.driver.container = self
        self.probe = probe
        self.driver_managed_dma = driver_managed_dma


def to_cdx_driver(drv: device_driver | None) -> Any:
    return None if drv is None else drv.container


@kfunc
def cdx_bus_match(dev: device, drv: device_driver) -> int:
    return int(getattr(dev.container, "compatible", "") in drv.of_match_table)


@kfunc
def cdx_probe(dev: device) -> int:
    drv = to_cdx_driver(dev.driver)
    return int(drv.probe(dev.container)) if drv.probe is not None else 0


@kfunc
def cdx_dma_configure(dev: device) -> int:
    ddrv = dev.driver  # read once here; the guard may read it again (driver_read site)
    cdx_drv = to_cdx_driver(ddrv)
    cdx_dev = dev.container
    ret = of_dma_configure_id(dev, cdx_dev.ctrl_np, True, cdx_dev.req_id)
    if ret and ret != -EPROBE_DEFER:
        kernel().printk(f"{dev.init_name}: of_dma_configure_id() failed")
        return ret
    dd.bus_dma_claim("cdx_dma_configure", dev, cdx_drv, ddrv, ret)
    return 0  # -EPROBE_DEFER and claim errors are swallowed, as in cdx.c


@kfunc
def cdx_dma_cleanup(dev: device) -> None:
    dd.bus_dma_cleanup(dev, to_cdx_driver(dev.driver))


cdx_bus_type = bus_type("cdx", match=cdx_bus_match, probe=cdx_probe,
                        dma_configure=cdx_dma_configure, dma_cleanup=cdx_dma_cleanup)
