"""Run a scenario (platform + variant + boot configuration) and collect the result.

This is the harness's single entry point: ``run_scenario()`` returns a
:class:`Result` with the findings and the end-of-run statistics that
``probefuzz repro --json`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness import oracles
from harness.board import Board
from harness.boot import Boot, BootConfig
from harness.bus.pci import pci_bus_type
from harness.device import device_is_bound
from harness.findings import Finding
from harness.footprint.hooks import Hooks
from harness.footprint.recorder import Recorder, StepTrace
from harness.iommu import fw_refs
from harness.iommu.iommu import core
from harness.kernel import Chooser, set_kernel, thread_role
from harness.of.node import of_tree_put
from harness.variant import Variant


@dataclass
class Result:
    variant: str
    platform: str
    findings: list[Finding]
    stats: dict[str, int]
    log: list[str] = field(default_factory=list)
    panicked: bool = False
    decisions: int = 0
    # with record=True: every scheduling decision's choice (replays the run
    # as a plain schedule) and the number of runnable threads at each
    schedule: list[int] | None = None
    widths: list[int] | None = None
    where: list[str] | None = None  # the scheduling point of each decision
    # checks the C does not make (fnd.LINT): reported, never a finding
    lints: list[Finding] = field(default_factory=list)
    # window coverage: "<window point>|<thread>|kept" or "...|preempted for
    # <thread>" for each decision taken at a window point (kernel.WINDOW_POINTS)
    windows: list[str] = field(default_factory=list)
    # with footprints=True: what each step touched (harness.footprint)
    trace: StepTrace | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "platform": self.platform,
            "findings": [f.to_json() for f in self.findings],
            "stats": dict(self.stats),
            "lints": [f.to_json() for f in self.lints],
        }


def run_scenario(platform: Board, v: Variant, cfg: BootConfig | None = None, *,
                 chooser: Chooser | None = None, record: bool = False,
                 footprints: bool | tuple[int, int] = False) -> Result:
    """Boot ``platform`` under variant ``v``; never raises for model findings.

    ``cfg.schedule`` drives the scheduler; past its end ``chooser`` (an
    exploration strategy, see :mod:`harness.schedules`) or the synchronous
    default picks.  ``record`` returns the decisions taken as
    ``Result.schedule``, which replays the run exactly.  ``footprints``
    (implies ``record``) records what each step read and wrote as
    ``Result.trace`` (harness.footprint; slower, for the reduced search);
    ``(i, pid)`` only until thread ``pid`` is picked at a decision after ``i``.
    """
    boot = Boot(platform, v, cfg or BootConfig(), chooser=chooser, record=record or bool(footprints))
    trace = None
    try:
        if footprints:
            stop = footprints if isinstance(footprints, tuple) else None
            with Hooks(Recorder(boot.kernel, stop)) as rec:
                k = boot.run()
            trace = rec.trace()
        else:
            k = boot.run()
        devices = boot.devices()
        if not k.panicked:
            oracles.final_checks(devices)
        stats = _stats(boot, devices)
        return Result(v.name, platform.name, list(k.findings), stats, list(k.log), k.panicked,
                      k.decisions, k.record, k.record_widths if record or bool(footprints) else None,
                      k.record_where if record or bool(footprints) else None, lints=list(k.lints),
                      windows=window_coverage(k.windows), trace=trace)
    finally:
        set_kernel(None)
        # the next boot of this board starts from this tree (reset), not a new one
        of_tree_put(platform, boot.tree)


def window_coverage(seen: set[tuple[str, str, str]]) -> list[str]:
    """The window decisions of a run as sorted feature strings: the point,
    which kind of thread was there (:func:`harness.kernel.thread_role`), and
    whether it kept running or was preempted -- for which kind of thread --
    so a search can be steered toward interleavings at windows it has not
    tried yet."""
    out = set()
    for where, cur, nxt in seen:
        then = "kept" if cur == nxt else f"preempted for {thread_role(nxt)}"
        out.add(f"{where}|{thread_role(cur)}|{then}")
    return sorted(out)


def _pci_mapped(dev: Any, inst_paths: set[str]) -> bool:
    """A PCI function whose requester ID its host bridge's "iommu-map" sends
    to one of the instances (of_map_id() with "iommu-map-mask")."""
    host = getattr(dev.container, "host_np", None) if dev.bus is pci_bus_type else None
    if host is None:
        return False
    mask = host.desc.iommu_map_mask
    rid = dev.container.rid & mask if mask is not None else dev.container.rid
    return any(e.iommu in inst_paths and e.rid_base <= rid < e.rid_base + e.length
               for e in host.desc.iommu_map)


def _stats(boot: Boot, devices: list[Any]) -> dict[str, int]:
    """Counts at the end of the run (the ``repro --json`` contract)."""
    modelled = {c for s in boot.iommu_specs for c in s.compatible}
    instances = [n for n in boot.platform.nodes
                 if n.iommu_cells is not None and n.available()
                 and any(c in modelled for c in n.compatible)]
    inst_paths = {n.path for n in instances}
    registered = [i for i in core().iommu_device_list]
    clients = []
    for dev in devices:
        np = dev.of_node
        if np is not None and any(r.iommu in inst_paths for r in np.desc.iommus):
            clients.append(dev)
        elif _pci_mapped(dev, inst_paths):
            clients.append(dev)
        elif fw_refs.referenced_instances(dev):
            # firmware tables (DMAR, IVRS, VIOT) give it to a registered unit
            clients.append(dev)
    # ACPI-described units of modelled drivers (DMAR DRHDs, IVHDs, VIOT, IORT)
    names = {s.name for s in boot.iommu_specs}
    acpi_units = [a for a in boot.platform.acpi_iommus if a.driver in names]
    groups = {id(d.iommu_group) for d in devices if d.iommu_group is not None}
    return {
        "devices": len(devices),
        "iommu_instances": len(instances) + len(acpi_units),
        "registered_instances": len(registered),
        "clients": len(clients),
        "grouped_clients": sum(1 for d in clients if d.iommu_group is not None),
        "groups": len(groups),
        "bound_drivers": sum(1 for d in devices if device_is_bound(d)),
        "deferred": sum(1 for d in devices if d.deferred_probe),
    }
