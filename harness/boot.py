"""One boot of the model: ``kernel_init`` and the initcalls that matter.

The default schedule is the synchronous boot of an arm64 DT system:

* ``subsys_initcall``: ``iommu_subsys_init`` registers the IOMMU notifier
  on every bus of ``iommu_buses[]``;
* ``arch_initcall_sync``: ``of_platform_default_populate_init`` creates the
  platform/AMBA devices in DT order (each ``device_add`` runs the notifier);
* ``device_initcall``: drivers register in link order -- the IOMMU drivers
  (drivers/iommu is linked before drivers/gpu, media, net, usb, mmc, where
  most IOMMU clients live), then one client driver per distinct first
  ``compatible``, in DT order;
* ``late_initcall``: ``deferred_probe_initcall``;
* then ``async_synchronize_full``; userspace loads the modules (one
  ``modprobe/<driver>`` thread each, client and IOMMU drivers); and, when
  pending devices remain, the deferred-probe timeout.

Which client drivers exist, are modules or probe asynchronously is a
scenario input (:class:`DriverConfig`); so are IOMMU drivers built as
modules (``BootConfig.iommu_drivers``) and the ``driver_async_probe=``
command line.  Async probes run on their own threads; a non-empty
``BootConfig.schedule`` interleaves them (docs/concurrency.md).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# imported for its effect: the oracles attach their checks to the model's
# trace hooks (harness.trace), as a kernel config enables its checkers
import harness.oracles  # noqa: F401
from harness import variant
from harness.acpi.viot import acpi_viot_init
from harness.base import dd, initcall
from harness.base.bus import driver_register
from harness.base.core import device_add, device_del
from harness.base.dd import device_release_driver
from harness.base.devlink import FW_DEVLINK_MODES, FW_DEVLINK_RPM, HOLDING_MODES, DevlinkState
from harness.base.initcall import BEFORE_IOMMU, BEFORE_PCI
from harness.base.pinctrl import PinctrlState
from harness.base.platform import (
    __platform_driver_register,
    platform_bus_type,
    platform_device,
    platform_driver,
)
from harness.board import Board
from harness.bus import virtio
from harness.bus.amba import amba_bustype, amba_driver
from harness.bus.cdx import cdx_bus_type, cdx_device, cdx_driver
from harness.bus.fsl_mc import fsl_mc_bus_type, fsl_mc_device, fsl_mc_driver
from harness.bus.pci import pci_bus_type, pci_dev, pci_device_add, pci_driver, pci_request_acs
from harness.bus.pci_host import (
    is_pci_host_bridge,
    parse_pci_spec,
    pci_host_bridge_driver,
    pci_rescan_bus,
    root_bus_functions,
)
from harness.device import PROBE_PREFER_ASYNCHRONOUS, bus_type
from harness.inputs import check_boot_config
from harness.iommu import iommu
from harness.iommu.drivers import IommuDriverSpec, all_drivers
from harness.kernel import Chooser, Kernel, WindowPreemptions, kernel, kfunc, set_kernel
from harness.of.bus_drivers import BUS_DRIVERS, bus_driver_compatibles
from harness.of.node import fwnode_handle, of_tree_get
from harness.of.of_init import of_init_early
from harness.of.platform import of_platform_default_populate_init

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device, device_driver

# host1x-context has no dma_configure hook
host1x_context_device_bus_type = bus_type("host1x-context")

IOMMU_BUSES = (platform_bus_type, pci_bus_type, amba_bustype, fsl_mc_bus_type,
               host1x_context_device_bus_type, cdx_bus_type)

#: initcall levels in boot order (harness.base.initcall; rootfs_initcall: x86
#: ``pci_iommu_init`` -> ``intel_iommu_init``/``amd_iommu_init``)
INITCALL_LEVELS = initcall.INITCALL_LEVELS

BUILTIN = "builtin"
MODULE = "module"
ABSENT = "absent"


@dataclass
class DriverConfig:
    """How a client driver behaves in a scenario (default: built-in, sync)."""

    presence: str = BUILTIN  # builtin | module | absent
    async_probe: bool = False
    probe_ret: int = 0  # what drv->probe() returns (0, -EPROBE_DEFER, -ENOMEM, ...)
    driver_managed_dma: bool = False
    # initcall level a built-in driver registers at (harness.base.initcall);
    # None: the tree's level for its IDs (device level for most drivers)
    initcall: str | None = None


@dataclass
class BootConfig:
    """Scenario inputs besides the platform and the variant."""

    drivers: dict[str, DriverConfig] = field(default_factory=dict)  # by compatible
    iommu_drivers: dict[str, str] = field(default_factory=dict)  # driver name -> presence
    schedule: list[int] = field(default_factory=list)
    fail_alloc: tuple[str, ...] = ()
    config_modules: bool = True
    deferred_probe_timeout: int = 10
    async_probe_all: bool = False  # every client driver PROBE_PREFER_ASYNCHRONOUS
    # driver_async_probe= on the command line: driver names ("*" for all,
    # IOMMU drivers included), e.g. ("rk_iommu",) makes IOMMU instances
    # probe -- and register -- concurrently on async workers.
    driver_async_probe: tuple[str, ...] = ()
    # Client drivers (by compatible) that register first, in this order
    # (link order differs between configs); the others follow in DT order.
    driver_order: tuple[str, ...] = ()
    # What userspace does once init is done, in order: (op, target) with op
    # one of EVENT_OPS and target a DT node path or an extra device's name
    # (RESCAN: any target; every host bridge's root bus is scanned again).
    events: tuple[tuple[str, str], ...] = ()
    # ... or while userspace starts (udev loading the modules): the shell's
    # sysfs writes then race the modprobe threads, the deferred-probe work
    # and the async probes those start.
    events_during_boot: bool = False
    # Preemptions at window points, past ``schedule``: (k, c) switches away
    # from the running thread at the k-th window decision (kernel.py,
    # WindowPreemptions) -- the fuzzers' compact schedule encoding.
    preempt: tuple[tuple[int, int], ...] = ()
    # ... and aimed at a device: (device, i, c) switches at the i-th window
    # decision about ``device`` (a DT node path or a device name), past
    # ``schedule`` too (WindowPreemptions.at_device)
    preempt_dev: tuple[tuple[str, int, int], ...] = ()
    # fw_devlink= on the command line (harness.base.devlink): rpm, the 6.12
    # default (core.c:1720), and on hold a consumer's probe until its
    # suppliers bind; permissive and off never do.  The IOMMU bindings
    # (iommus, iommu-map) are .optional: they hold only with
    # fw_devlink.strict=1, so by default a client still reaches
    # of_iommu_configure() before its IOMMU registers.
    fw_devlink: str = FW_DEVLINK_RPM
    fw_devlink_strict: bool = False
    # PCI functions behind the DT host bridges besides the platform's
    # (``[hotplug:][DDDD:]BB:DD.F[=ID]``, harness.bus.pci_host; ``--pci``)
    pci: tuple[str, ...] = ()


#: the configuration of a client driver the scenario says nothing about (read
#: only: one for every boot)
_DEFAULT_DRIVER = DriverConfig()

UNBIND = "unbind"  # echo DEV > /sys/bus/*/drivers/*/unbind
BIND = "bind"  # echo DEV > /sys/bus/*/drivers_probe
REMOVE = "remove"  # the device goes away (hot-unplug, overlay removal)
RESCAN = "rescan"  # echo 1 > /sys/bus/pci/rescan (hot-plugged functions appear)
EVENT_OPS = (UNBIND, BIND, REMOVE, RESCAN)


def client_probe_factory(cfg: DriverConfig) -> Callable[[Any], int]:
    """A generic client driver's probe: returns what the scenario says."""

    @kfunc
    def generic_client_probe(pdev: Any) -> int:
        return cfg.probe_ret

    return generic_client_probe


@kfunc
def do_one_initcall(fn: Callable[..., int], *args: Any) -> int:
    return fn(*args)


@kfunc
def device_attach(dev: device) -> int:
    """drivers/base/dd.c: bind a driver now, synchronously (sysfs drivers_probe)."""
    return dd.__device_attach(dev, False)


@kfunc
def unbind_store(dev: device) -> None:
    """drivers/base/bus.c: ``echo DEV > .../unbind`` (device_driver_detach)."""
    if dev.driver is not None:
        device_release_driver(dev)


@kfunc
def device_unregister(dev: device) -> None:
    """drivers/base/core.c: the device goes away (platform_device_unregister etc.)."""
    device_del(dev)


@kfunc
def module_driver_init(drv: device_driver, register: Callable[..., int]) -> int:
    """The ``<name>_driver_init`` function ``module_platform_driver()`` makes."""
    __kframe__ = f"{_driver_name(drv).replace('-', '_')}_driver_init"  # noqa: F841
    return register(drv)


def _driver_name(drv: device_driver) -> str:
    inner = getattr(drv, "driver", None) or getattr(drv, "drv", None)
    return inner.name if inner is not None else str(drv)


def _register_any(drv: Any) -> int:
    if isinstance(drv, platform_driver):
        return __platform_driver_register(drv)
    if isinstance(drv, amba_driver):
        return driver_register(drv.drv)
    return driver_register(drv.driver)


def _is_module(drv: device_driver) -> bool:
    return drv is not None and getattr(drv, "presence", BUILTIN) == MODULE


@kfunc
def load_module(drv: device_driver, init: Callable[[Any], int] | None) -> None:
    """``modprobe``: ``finit_module`` -> ``do_init_module`` -> the module's init
    (``init``, or the ``module_platform_driver()`` one)."""
    do_init_module(drv, init)


@kfunc
def do_init_module(drv: device_driver, init: Callable[[Any], int] | None = None) -> int:
    if init is not None:
        ret = do_one_initcall(init, drv)
    else:
        ret = do_one_initcall(module_driver_init, drv, _register_any)
    # A module that did not request async probing waits for the async
    # probes it started (kernel/module/main.c).
    if not getattr(drv, "async_probe_requested", False):
        dd.async_synchronize_full()
    return ret


_DTS_ARCH = re.compile(r"(?:^|/)arch/(\w+)/boot/dts/")


def board_builds(v: variant.Variant, platform: Board) -> dict[str, str]:
    """IOMMU driver name -> presence (module, absent) that ``v``'s tree
    configuration gives the drivers on ``platform``'s architecture (the
    ``arch/ARCH/boot/dts`` its source sits in); {} for a board of no known
    architecture or a variant without builds (every driver built in)."""
    if not v.builds:
        return {}
    m = _DTS_ARCH.search(str(platform.provenance.get("source", "")))
    if m is None:
        return {}
    prefix = m.group(1) + ":"
    return {k[len(prefix):]: val for k, val in v.builds if k.startswith(prefix)}


def _client_compatibles(platform: Board, seen: set[str], iommu_compat: set[str],
                        bus_compat: set[str]) -> list[tuple[str, bool, tuple[str, ...]]]:
    """(first compatible, AMBA?, compatibles) of each node that gets a generic
    client driver (:meth:`Boot._drivers`), in DT order; ``seen``: the IDs
    other drivers bind (the PCI host bridges')."""
    out = []
    for n in platform.nodes:
        if not n.compatible or n.iommu_cells is not None or not n.available():
            continue
        if not bus_compat.isdisjoint(n.compatible):
            continue
        c0 = n.compatible[0]
        if c0 in seen or c0 in iommu_compat:
            continue
        seen.add(c0)
        out.append((c0, "arm,primecell" in n.compatible, n.compatible))
    return out


class Boot:
    """Everything one run builds: tree, devices, drivers, the kernel."""

    def __init__(self, platform: Board, v: variant.Variant, cfg: BootConfig,
                 chooser: Chooser | None = None, record: bool = False) -> None:
        self.platform = platform
        self.variant = v
        self.cfg = cfg
        if chooser is None and (cfg.preempt or cfg.preempt_dev):
            chooser = WindowPreemptions(cfg.preempt, cfg.preempt_dev)
        self.kernel = Kernel(cfg.schedule, chooser, record)
        self.tree = of_tree_get(platform)
        self.iommu_specs: list[IommuDriverSpec] = []
        self.client_drivers: list[Any] = []
        self.iommu_driver_objs: list[Any] = []
        self.bus_driver_objs: list[Any] = []
        self.transport_drivers: list[Any] = []
        self.pci_host: pci_host_bridge_driver | None = None
        # registration levels of the tree under test that differ from the
        # model's tables (a tree profile's, Variant.initcalls)
        self.tree_initcalls = dict(v.initcalls)
        # the IOMMU drivers the tree's configuration for this board's
        # architecture does not build in (Variant.builds): name -> presence
        self.tree_builds = board_builds(v, platform)
        self.iommu_levels: list[str] = []  # per iommu_specs entry

    # -- set-up ---------------------------------------------------------------

    def _drivers(self) -> None:
        specs = all_drivers()
        # compatibles a modelled driver binds: no generic client driver for them
        iommu_compat = {c for s in specs for c in s.compatible} | set(virtio.TRANSPORT_COMPATIBLES)
        for s in specs:
            presence = self.cfg.iommu_drivers.get(s.name) or self.tree_builds.get(s.name, BUILTIN)
            if presence != ABSENT:
                self.iommu_specs.append(s)
                self.iommu_levels.append(self.tree_initcalls.get(s.name, s.initcall))
                drv = s.make_driver() if s.make_driver is not None else None
                if drv is not None:
                    drv.presence = presence  # a module loads on a modprobe thread after init
                self.iommu_driver_objs.append(drv)
        # bus drivers that populate their children at probe (drivers/bus/)
        bus_compat = bus_driver_compatibles()
        self.bus_driver_objs = [b.make_driver() for b in BUS_DRIVERS]
        # drivers/virtio links before drivers/iommu: the transports register first
        self.transport_drivers = virtio.make_transport_drivers()
        # one client driver per distinct first compatible of an available
        # node, in DT order (or driver_order first).  Only nodes that become
        # devices get one: a driver invented for a compatible only disabled
        # nodes carry would match other nodes by their fallback compatible --
        # omap4's disabled "ti,sysc" target modules would give every ti-sysc
        # target module ("ti,sysc-omap2", "ti,sysc") a second driver that no
        # 6.12 driver is (ti-sysc.c sysc_match lists only the specific IDs),
        # which binds a module ti-sysc could not bind yet (fw_devlink held it)
        seen: set[str] = set()
        self._pci_host_driver(seen, iommu_compat)
        # the nodes' drivers: a fact of the tree (and of the host bridges' IDs
        # in ``seen``, one too), kept while a pooled tree is reused
        clients = self.tree.client_compatibles
        if clients is None:
            clients = self.tree.client_compatibles = _client_compatibles(
                self.platform, set(seen), iommu_compat, bus_compat)
        for c0, amba, ids in clients:
            seen.add(c0)
            self.client_drivers.append(self._client_driver(c0, amba, ids=ids))
        for e in self.platform.extra_devices:
            c0 = e.compatible[0] if e.compatible else f"{e.bus}:{e.name}"
            # drivers of other buses are other drivers (a DT node below a PCI
            # bridge and the PCI function share their compatible)
            key = c0 if e.bus == "platform" else f"{e.bus}\0{c0}"
            if key in seen or c0 in iommu_compat or virtio.virtio_pci_id(c0) is not None:
                continue
            seen.add(key)
            self.client_drivers.append(self._client_driver(c0, False, e.bus, e.driver_managed_dma,
                                                           e.compatible))
        if self.cfg.driver_order:
            first = {c: i for i, c in enumerate(self.cfg.driver_order)}
            self.client_drivers.sort(key=lambda d: first.get(_driver_name(d), len(first)))

    def _pci_host_driver(self, seen: set[str], iommu_compat: set[str]) -> None:
        """The DT host bridges' driver, and a PCI driver per ID of the functions
        their scan finds (harness.bus.pci_host); host bridge IDs go in ``seen``."""
        hosts = self.tree.pci_hosts
        if hosts is None:  # a fact of the tree alone: kept while a pooled tree is reused
            hosts = self.tree.pci_hosts = [np for np in self.tree.by_path.values()
                                           if is_pci_host_bridge(np) and np.desc.available()]
        if not hosts:
            return
        try:
            declared = [parse_pci_spec(s) for s in (*self.platform.pci, *self.cfg.pci)]
        except ValueError:
            declared = []  # validated where the input is read (platform loader, CLI)
        compat = tuple(dict.fromkeys(c for np in hosts for c in np.desc.compatible[:1]))
        self.pci_host = pci_host_bridge_driver(compat, declared)
        seen.update(compat)
        for np in hosts:
            for f in root_bus_functions(np, 0, [dataclasses.replace(d, domain=0) for d in declared]):
                key = f"pci\0{f.compatible}"
                if not f.compatible or key in seen or f.compatible in iommu_compat \
                        or virtio.virtio_pci_id(f.compatible) is not None:
                    continue
                seen.add(key)
                self.client_drivers.append(self._client_driver(f.compatible, False, "pci",
                                                               ids=(f.compatible,)))

    def _client_driver(self, compat: str, amba: bool, bus: str = "platform",
                       managed: bool = False, ids: tuple[str, ...] = ()) -> Any:
        cfg = self.cfg.drivers.get(compat)
        if cfg is None:
            cfg = _DEFAULT_DRIVER
        if self.cfg.async_probe_all:
            cfg = DriverConfig(cfg.presence, True, cfg.probe_ret, cfg.driver_managed_dma,
                               cfg.initcall)
        probe = client_probe_factory(cfg)
        ptype = PROBE_PREFER_ASYNCHRONOUS if cfg.async_probe else 0
        dmd = cfg.driver_managed_dma or managed
        if amba:
            drv: Any = amba_driver(compat, probe, (compat,), dmd, ptype)
        elif bus == "pci":
            drv = pci_driver(compat, probe, (compat,), dmd, ptype)
        elif bus == "fsl-mc":
            drv = fsl_mc_driver(compat, probe, (compat,), dmd)
        elif bus == "cdx":
            drv = cdx_driver(compat, probe, (compat,), dmd)
        else:
            drv = platform_driver(compat, probe, (compat,), dmd, probe_type=ptype)
        drv.presence = cfg.presence
        drv.initcall = cfg.initcall or initcall.driver_initcall_level(ids, self.tree_initcalls)
        # within device level: linked before drivers/pci/ or drivers/iommu/?
        drv.link = initcall.driver_link_order(ids) if drv.initcall == initcall.DEVICE else None
        return drv

    def _add_extra_devices(self) -> None:
        """Devices firmware enumerates without DT nodes (PCI, fsl-mc, cdx, ACPI)."""
        for e in self.platform.extra_devices:
            parent_np = self.tree.by_path.get(e.parent) if e.parent else None
            c0 = e.compatible[0] if e.compatible else f"{e.bus}:{e.name}"
            if e.bus == "pci":
                d: Any = pci_dev(e.name, e.rid or 0, parent_np, e.segment)
                d.dma_alias_mask = list(e.dma_aliases)
                d.multifunction = e.multifunction
                d.acs_cap = e.acs  # the capability; pci_device_add() decides the controls
            elif e.bus == "fsl-mc":
                d = fsl_mc_device(e.name, e.rid or 0, parent_np)
            elif e.bus == "cdx":
                d = cdx_device(e.name, e.rid or 0, parent_np)
            else:
                d = platform_device(e.name)
            d.compatible = c0
            dev = d.dev
            dev.dma_mask = dev.coherent_dma_mask
            if e.acpi is not None:
                dev.fwnode = fwnode_handle("acpi", name=e.name, acpi=e.acpi)
                if e.bus == "platform":
                    # platform devices match on the ACPI _HID: model it as compatible
                    dev.fwnode.acpi = dict(e.acpi)
            if e.bus == "platform" and e.compatible:
                d.dev.of_node = None
                d.acpi_compatible = e.compatible
            if e.bus == "pci":
                pci_device_add(d)
            else:
                device_add(dev)

    # -- the boot ----------------------------------------------------------------

    @kfunc
    def kernel_init(self) -> None:
        self.kernel_init_freeable()
        dd.async_synchronize_full()
        # Userspace runs: udev loads the modules, one modprobe each, in
        # parallel with the deferred-probe work and async probes.  The
        # deferred-probe timeout fires 10 s later: after they are loaded, or
        # when nothing runs any more (a module load that never finishes).
        modules = [(drv, spec.module_init) for spec, drv in zip(self.iommu_specs, self.iommu_driver_objs,
                                                                 strict=True) if _is_module(drv)]
        modules += [(drv, None) for drv in self.client_drivers if drv.presence == MODULE]
        if self.cfg.events and self.cfg.events_during_boot:
            kernel().kthread_create("sh", self.run_events)
        if modules:
            k = self.kernel
            k.wait_exit([k.kthread_create(f"modprobe/{_driver_name(drv)}", load_module, drv, init)
                         for drv, init in modules], timeout=True)
        s = dd.state()
        if s.pending and s.driver_deferred_probe_timeout > 0:
            # deferred_probe_timeout_work fires driver_deferred_probe_timeout
            # seconds after late_initcall
            dd.deferred_probe_timeout_work_func()
            dd.async_synchronize_full()
        if self.cfg.events and not self.cfg.events_during_boot:
            # userspace: a shell writing to sysfs once the boot is done
            kernel().kthread_create("sh", self.run_events)

    @kfunc
    def run_events(self) -> None:
        """The scenario's post-boot events, in order; unknown targets are skipped."""
        for op, target in self.cfg.events:
            if op == RESCAN:
                if self.pci_host is not None:
                    pci_rescan_bus(self.pci_host)
                continue
            dev = self._find_device(target)
            if dev is None:
                continue
            if op == UNBIND:
                unbind_store(dev)
            elif op == BIND:
                device_attach(dev)
            elif op == REMOVE and not dev.dead:
                device_unregister(dev)

    def _find_device(self, target: str) -> device | None:
        for dev in self.devices():
            np = dev.of_node
            if (np is not None and np.full_name == target) or dev.init_name == target:
                return dev
        return None

    @kfunc
    def kernel_init_freeable(self) -> None:
        # initcall levels in order (include/linux/init.h); of_platform_default_populate_init
        # is arch_initcall_sync, iommu_subsys_init subsys_initcall
        for level in INITCALL_LEVELS:
            if level == "arch_sync":
                # ACPI IOMMU tables ask for ACS before the PCI scan (dmar.c:946,
                # amd/init.c:3285, iort.c:1899, viot.c:265); DT asks only in
                # of_iommu_configure(), after the scan (of_iommu.c:146)
                if self.platform.acpi_iommus:
                    pci_request_acs()
                do_one_initcall(of_platform_default_populate_init, self.tree)
                self._add_extra_devices()
                # the end of acpi_init(), after the bus scan (drivers/acpi/bus.c)
                acpi_viot_init()
            elif level == "subsys":
                do_one_initcall(iommu.iommu_subsys_init)
            elif level == "device":
                # link order (drivers/Makefile): the modelled drivers/bus/
                # drivers (L11) first, then the other drivers linked before
                # pci/ (bus/, phy/, pinctrl/, gpio/: L11-L21), then pci/ (L23),
                # whose host bridges scan their root buses before any IOMMU
                # registers
                for bdrv in self.bus_driver_objs:
                    do_one_initcall(module_driver_init, bdrv, _register_any)
                self._register_linked_before(level, BEFORE_PCI)
                if self.pci_host is not None:
                    do_one_initcall(module_driver_init, self.pci_host.platform_driver, _register_any)
                for tdrv in self.transport_drivers:
                    do_one_initcall(virtio.TRANSPORT_INITCALLS[tdrv.driver.name], tdrv)
                # clk/, dma/, soc/, pmdomain/, regulator/, reset/, tty/ before
                # iommu/ (L40-L65): IOMMUs and clients find their suppliers bound
                self._register_linked_before(level, BEFORE_IOMMU)
            elif level == "late":
                # drivers/base links first: deferred_probe_initcall (dd.c) runs
                # before any other late_initcall
                do_one_initcall(dd.deferred_probe_initcall)
            for spec, drv, spec_level in zip(self.iommu_specs, self.iommu_driver_objs,
                                             self.iommu_levels, strict=True):
                if spec_level != level or _is_module(drv):
                    continue
                if spec.module_init is not None:
                    do_one_initcall(spec.module_init, drv)
                elif drv is not None:
                    do_one_initcall(module_driver_init, drv, _register_any)
                if spec.init is not None:
                    do_one_initcall(spec.init)
            # built-in client drivers at their own level (clock, pinctrl, DMA,
            # regulator drivers often before device level: some bind before an
            # IOMMU registers); within a level after the IOMMU drivers
            for drv in self.client_drivers:
                if drv.presence == BUILTIN and drv.initcall == level and drv.link is None:
                    do_one_initcall(module_driver_init, drv, _register_any)

    def _register_linked_before(self, level: str, where: str) -> None:
        """The built-in client drivers of ``level`` linked before ``where``."""
        for drv in self.client_drivers:
            if drv.presence == BUILTIN and drv.initcall == level and drv.link == where:
                do_one_initcall(module_driver_init, drv, _register_any)

    def run(self) -> Kernel:
        k = self.kernel
        set_kernel(k)
        variant.activate(self.variant)
        for bus in (*IOMMU_BUSES, virtio.virtio_bus):
            bus.reset()
        c = iommu.core()
        c.iommu_buses = list(IOMMU_BUSES)
        c.fail_alloc = set(self.cfg.fail_alloc)
        s = dd.state()
        s.config_modules = self.cfg.config_modules
        s.driver_deferred_probe_timeout = self.cfg.deferred_probe_timeout if self.cfg.config_modules else 0
        s.async_probe_drivers = frozenset(self.cfg.driver_async_probe)
        k.globals["of_root"] = self.tree
        # start_kernel(): of_irq_init(), of_clk_init() and the early genpd
        # providers set up their nodes before any initcall, without a device
        initialized = of_init_early(self.tree)
        # only on/rpm ever hold a probe, and only with a link: no state otherwise
        if self.cfg.fw_devlink in HOLDING_MODES:
            links = DevlinkState(self.cfg.fw_devlink, self.platform.nodes, list(IOMMU_BUSES),
                                 strict=self.cfg.fw_devlink_strict, initialized=initialized,
                                 cache=self.tree.fw_links)
            if links.suppliers:
                k.globals["fw_devlink"] = links
        # pinctrl_bind_pins() in really_probe()
        k.globals["pinctrl"] = PinctrlState(self.cfg.config_modules)
        k.globals["acpi_iommu_fwnodes"] = {
            a.name: (None if a.fwnode == "null" else fwnode_handle("acpi", name=a.name))
            for a in self.platform.acpi_iommus}
        # the ACPI tables DMAR/IVRS drivers parse (dmar_table_init, IVRS)
        k.globals["acpi_iommus"] = list(self.platform.acpi_iommus)
        self._drivers()
        k.kthread_create("swapper/0", self.kernel_init)
        k.run()
        return k

    def devices(self) -> list[device]:
        out: list[device] = []
        for bus in IOMMU_BUSES:
            out.extend(bus.devices)
        return out


# -- reproducers ---------------------------------------------------------------------


def boot_config_to_json(cfg: BootConfig) -> dict[str, Any]:
    """``cfg`` minus the schedule, as a crash reproducer's ``config`` object: only
    the fields that differ from the default boot (tuples as lists)."""
    default = dataclasses.asdict(BootConfig())
    d = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "schedule" and v != default[k]}
    return json.loads(json.dumps(d))  # tuples -> lists


def boot_config_from_json(d: dict[str, Any], schedule: list[int] | None = None) -> BootConfig:
    """The inverse of :func:`boot_config_to_json`; ``ValueError`` names a bad field."""
    check_boot_config(d, list(schedule or []), EVENT_OPS)  # every field typed first
    known = {f.name for f in dataclasses.fields(BootConfig)} - {"schedule"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    kw = dict(d)
    try:
        drivers = {c: DriverConfig(**dc) for c, dc in kw.pop("drivers", {}).items()}
    except (TypeError, AttributeError) as e:
        raise ValueError(f"drivers: {e}") from None
    for name in ("fail_alloc", "driver_async_probe", "driver_order", "pci"):
        if name in kw:
            kw[name] = tuple(str(x) for x in kw[name])
    if "preempt" in kw:
        try:
            kw["preempt"] = tuple((int(k), int(c)) for k, c in kw["preempt"])
        except (TypeError, ValueError):
            raise ValueError("preempt: a list of [k, c] integer pairs") from None
    if "preempt_dev" in kw:
        try:
            kw["preempt_dev"] = tuple((str(d), int(i), int(c)) for d, i, c in kw["preempt_dev"])
        except (TypeError, ValueError):
            raise ValueError("preempt_dev: a list of [device, i, c] (a name, two integers)") from None
    if "fw_devlink" in kw and kw["fw_devlink"] not in FW_DEVLINK_MODES:
        raise ValueError(f"fw_devlink: one of {', '.join(FW_DEVLINK_MODES)}")
    if "fw_devlink_strict" in kw and not isinstance(kw["fw_devlink_strict"], bool):
        raise ValueError("fw_devlink_strict: true or false")
    if "events" in kw:
        kw["events"] = tuple((str(op), str(t)) for op, t in kw["events"])
        if any(op not in EVENT_OPS for op, _ in kw["events"]):
            raise ValueError(f"events: ops are {', '.join(EVENT_OPS)}")
    return BootConfig(drivers=drivers, schedule=list(schedule or []), **kw)
