"""``struct device``, ``struct device_driver``, ``struct bus_type``
(include/linux/device.h, include/linux/device/bus.h, device/driver.h).

Only the fields the probe path reads or writes are modelled, with their
kernel names.  ``None`` is NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from harness.footprint import fp_write
from harness.kernel import Mutex

if TYPE_CHECKING:
    from harness.iommu.structs import dev_iommu, iommu_group
    from harness.of.node import device_node, fwnode_handle


class bus_type:  # noqa: N801 - kernel name
    """``struct bus_type``: the hooks the probe path calls."""

    def __init__(
        self,
        name: str,
        match: Callable[[device, device_driver], int] | None = None,
        probe: Callable[[device], int] | None = None,
        dma_configure: Callable[[device], int] | None = None,
        dma_cleanup: Callable[[device], None] | None = None,
        match_keys: Callable[[device], Iterable[Hashable]] | None = None,
        driver_keys: Callable[[device_driver], Iterable[Hashable]] | None = None,
    ) -> None:
        self.name = name
        self.match = match
        self.probe = probe
        self.dma_configure = dma_configure
        self.dma_cleanup = dma_cleanup
        # Model only: the ids ``match`` compares (a device's compatibles, a
        # driver's table), so walks can visit candidate pairs only.  ``match``
        # still decides; a key in common is necessary, not sufficient.
        self.match_keys = match_keys
        self.driver_keys = driver_keys
        # subsys_private: klist_devices / klist_drivers, in insertion order
        self.devices: list[device] = []
        self.drivers: list[device_driver] = []
        self.notifiers: list[Callable[[Any, int, device], int]] = []
        self.index = BusIndex()

    def reset(self) -> None:
        """Empty the lists: bus types are static objects reused across boots."""
        self.devices = []
        self.drivers = []
        self.notifiers = []
        self.index = BusIndex()

    def __repr__(self) -> str:
        return f"<bus {self.name}>"


class BusIndex:
    """The bus's klists indexed by match key (model only, no kernel struct).

    Each device and driver gets a sequence number when it joins its klist;
    ``devices[key]`` / ``drivers[key]`` list the members with that key in
    klist order, so a walk that only cares about members ``match`` could
    accept finds them without calling ``match`` on every pair.
    """

    __slots__ = ("seq", "devices", "drivers")

    def __init__(self) -> None:
        self.seq = 0
        self.devices: dict[Hashable, list[device]] = {}
        self.drivers: dict[Hashable, list[device_driver]] = {}

    def add_device(self, bus: bus_type, dev: device) -> None:
        self.seq += 1
        dev.knode_seq = self.seq
        if bus.match_keys is not None:
            keys = dev.match_keys = tuple(dict.fromkeys(bus.match_keys(dev)))
            fp_write(self, "devices")
            for key in keys:
                self.devices.setdefault(key, []).append(dev)

    def remove_device(self, dev: device) -> None:
        fp_write(self, "devices")
        for key in dev.match_keys:
            lst = self.devices.get(key)
            if lst is not None and dev in lst:
                lst.remove(dev)

    def add_driver(self, bus: bus_type, drv: device_driver) -> None:
        self.seq += 1
        drv.knode_seq = self.seq
        if bus.driver_keys is not None:
            keys = drv.match_keys = tuple(dict.fromkeys(bus.driver_keys(drv)))
            fp_write(self, "drivers")
            for key in keys:
                self.drivers.setdefault(key, []).append(drv)


PROBE_DEFAULT_STRATEGY = 0
PROBE_PREFER_ASYNCHRONOUS = 1
PROBE_FORCE_SYNCHRONOUS = 2


class device_driver:  # noqa: N801 - kernel name
    """``struct device_driver`` embedded in a bus-specific driver struct.

    ``container`` points back to the bus-specific struct (``struct
    platform_driver`` etc.), which holds ``probe`` and ``driver_managed_dma``.
    """

    def __init__(
        self,
        name: str,
        bus: bus_type,
        of_match_table: tuple[str, ...] = (),
        probe_type: int = PROBE_DEFAULT_STRATEGY,
        suppress_bind_attrs: bool = False,
        owner: str | None = None,
    ) -> None:
        self.name = name
        self.bus = bus
        self.of_match_table = of_match_table
        self.probe_type = probe_type
        self.suppress_bind_attrs = suppress_bind_attrs
        self.owner = owner  # module name, None when built in
        self.container: Any = None
        self.devices: list[device] = []  # klist_devices: bound devices
        # model only: position on the bus's klist and the match keys (BusIndex)
        self.knode_seq = 0
        self.match_keys: tuple[Hashable, ...] = ()

    def __repr__(self) -> str:
        return f"<driver {self.name}>"


class device:  # noqa: N801 - kernel name
    """``struct device`` with the fields of spec §1.1."""

    def __init__(self, init_name: str, bus: bus_type | None = None) -> None:
        self.init_name = init_name
        self.bus = bus
        self.parent: device | None = None
        self.driver: device_driver | None = None
        self.driver_data: Any = None
        self.of_node: device_node | None = None
        self.fwnode: fwnode_handle | None = None
        self.acpi_node: Any = None  # ACPI companion (struct acpi_device *)
        self.numa_node = -1
        self.mutex = Mutex(f"&dev->mutex({init_name})", "&dev->mutex")
        self.devres_head: list[Any] = []
        self.dead = False
        self.registered = False  # device_add() done (kobj.state_in_sysfs)
        self.can_match = False
        self.deferred_probe = False  # on the pending/active list
        self.deferred_probe_reason: str | None = None
        self.async_driver: device_driver | None = None
        # DMA
        self.dma_mask: int | None = None
        self.coherent_dma_mask = 0xFFFFFFFF
        self.bus_dma_limit = 0
        self.dma_range_map: Any = None
        self.dma_coherent = False
        self.dma_ops_set = False
        self.dma_iommu = False
        # IOMMU
        self.iommu: dev_iommu | None = None
        self.iommu_group: iommu_group | None = None
        # bus-specific payload (struct platform_device, struct pci_dev, ...)
        self.container: Any = None
        # model only: position on the bus's klist and the match keys (BusIndex)
        self.knode_seq = 0
        self.match_keys: tuple[Hashable, ...] = ()

    def __repr__(self) -> str:
        return f"<device {self.init_name}>"


def dev_name(dev: device) -> str:
    return dev.init_name


def dev_fwnode(dev: device) -> Any:
    """``dev_fwnode()``: the OF node's fwnode or the ACPI companion."""
    if dev.of_node is not None:
        return dev.of_node.fwnode
    return dev.fwnode


def dev_get_drvdata(dev: device) -> Any:
    return dev.driver_data


def dev_set_drvdata(dev: device, data: Any) -> None:
    dev.driver_data = data


def device_is_bound(dev: device) -> bool:
    """``device_is_bound()``: on its driver's klist (``driver_bound`` ran)."""
    return dev.driver is not None and dev in dev.driver.devices
