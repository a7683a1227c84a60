"""drivers/base/platform.c: the platform bus, its probe and dma_configure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.acpi.scan import acpi_dma_configure, acpi_get_dma_attr
from harness.base import dd
from harness.base.bus import driver_register
from harness.device import bus_type, dev_fwnode, device, device_driver
from harness.kernel import BogusPointer, kfunc
from harness.of.device import of_dma_configure_id

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.of.node import device_node

# offsetof(struct platform_driver, driver) on arm64 6.12: probe, remove,
# shutdown, suspend, resume precede it.  container_of(NULL, ...) of a NULL
# dev->driver is therefore a small negative pointer, not NULL.
PLATFORM_DRIVER_DRIVER_OFFSET = 5 * 8
PLATFORM_DRIVER_MANAGED_DMA_OFFSET = 0xC1  # 40 + sizeof(struct device_driver) 144 + id_table 8 + 1


class platform_device:  # noqa: N801
    """``struct platform_device``: a ``struct device`` plus resources."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dev = device(name, platform_bus_type)
        self.dev.container = self
        self.num_resources = 1

    def __repr__(self) -> str:
        return f"<platform_device {self.name}>"


class platform_driver:  # noqa: N801
    """``struct platform_driver``; ``driver`` is embedded (not first)."""

    def __init__(
        self,
        name: str,
        probe: Callable[[platform_device], int] | None,
        of_match_table: tuple[str, ...] = (),
        driver_managed_dma: bool = False,
        remove: Callable[[platform_device], None] | None = None,
        probe_type: int = 0,
        suppress_bind_attrs: bool = False,
        owner: str | None = None,
    ) -> None:
        self.probe = probe
        self.remove = remove
        self.driver_managed_dma = driver_managed_dma
        self.prevent_deferred_probe = False
        self.driver = device_driver(name, platform_bus_type, of_match_table, probe_type,
                                    suppress_bind_attrs, owner)
        self.driver.container = self


#: container_of(NULL, struct platform_driver, driver): one value (a pointer
#: nobody can write through), made once
_NULL_PLATFORM_DRIVER = BogusPointer(
    "struct platform_driver",
    (-PLATFORM_DRIVER_DRIVER_OFFSET + PLATFORM_DRIVER_MANAGED_DMA_OFFSET) & 0xFFFFFFFFFFFFFFFF)


def to_platform_driver(drv: device_driver | None) -> Any:
    """``container_of(drv, struct platform_driver, driver)``."""
    if drv is None:
        return _NULL_PLATFORM_DRIVER
    return drv.container


def to_platform_device(dev: device) -> platform_device:
    return dev.container


@kfunc
def platform_get_drvdata(pdev: platform_device | None) -> Any:
    return pdev.dev.driver_data


@kfunc
def platform_set_drvdata(pdev: platform_device, data: Any) -> None:
    pdev.dev.driver_data = data


@kfunc
def of_driver_match_device(dev: device, drv: device_driver) -> int:
    """``of_match_device()``: any of the node's compatibles in the table."""
    np = dev.of_node
    if np is None:
        return 0
    table = drv.of_match_table
    for c in np.compatible:
        if c in table:
            return 1
    return 0


@kfunc
def acpi_driver_match_device(dev: device, drv: device_driver) -> int:
    """``acpi_match_device()`` by _HID: ACPI-enumerated platform devices carry
    their IDs as ``acpi_compatible`` (the model's drivers list them in the
    same table as their OF compatibles)."""
    ids = getattr(dev.container, "acpi_compatible", ())
    return int(any(c in drv.of_match_table for c in ids))


@kfunc
def platform_match(dev: device, drv: device_driver) -> int:
    # Attempt an OF style match first, then ACPI style match
    if of_driver_match_device(dev, drv):
        return 1
    return acpi_driver_match_device(dev, drv)


@kfunc
def platform_probe(_dev: device) -> int:
    drv = to_platform_driver(_dev.driver)
    dev = to_platform_device(_dev)
    ret = 0
    if drv.probe is not None:
        ret = drv.probe(dev)
    if drv.prevent_deferred_probe and ret == -517:
        ret = -6  # -ENXIO: "probe deferral not supported"
    return ret


@kfunc
def platform_dma_configure(dev: device) -> int:
    ddrv = dev.driver  # read once here; the guard may read it again (driver_read site)
    drv = to_platform_driver(ddrv)
    fwnode = dev_fwnode(dev)
    ret = 0
    if fwnode is not None and fwnode.kind == "of":
        ret = of_dma_configure_id(dev, fwnode.np, True, None)
    elif fwnode is not None and fwnode.kind == "acpi":
        attr = acpi_get_dma_attr(fwnode)
        ret = acpi_dma_configure(dev, attr)
    # V614: if (ret || drv->driver_managed_dma) return ret;
    # NEXT: if (ret || !dev->driver || drv->driver_managed_dma) return ret;
    return dd.bus_dma_claim("platform_dma_configure", dev, drv, ddrv, ret)


@kfunc
def platform_dma_cleanup(dev: device) -> None:
    dd.bus_dma_cleanup(dev, to_platform_driver(dev.driver))


def platform_match_keys(dev: device) -> tuple[str, ...]:
    """The ids ``platform_match()`` compares: OF compatibles, then ACPI ids."""
    np = dev.of_node
    ofc = tuple(np.compatible) if np is not None else ()
    return ofc + tuple(getattr(dev.container, "acpi_compatible", ()))


def of_match_table_keys(drv: device_driver) -> tuple[str, ...]:
    """A driver's ``of_match_table`` (and ACPI ids, listed in the same table)."""
    return tuple(drv.of_match_table)


platform_bus_type = bus_type(
    "platform",
    match=platform_match,
    probe=platform_probe,
    dma_configure=platform_dma_configure,
    dma_cleanup=platform_dma_cleanup,
    match_keys=platform_match_keys,
    driver_keys=of_match_table_keys,
)


@kfunc
def __platform_driver_register(drv: platform_driver, owner: str | None = None) -> int:  # noqa: N807
    drv.driver.owner = owner
    return driver_register(drv.driver)


@kfunc
def of_find_device_by_node(np: device_node) -> platform_device | None:
    """``bus_find_device_by_of_node(&platform_bus_type, np)``."""
    for dev in platform_bus_type.devices:
        if dev.of_node is np:
            return dev.container
    return None


def platform_device_put(pdev: platform_device | None) -> None:
    """Reference counting is not modelled for platform devices."""
