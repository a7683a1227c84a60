"""Fuzz input generation from bytes: one generator for every engine.

A *scenario* is everything a run needs besides the variant: a platform from
the corpus (maybe with one device-tree mutation from :mod:`corpus.mutations`)
and a :class:`harness.boot.BootConfig` (which client and IOMMU drivers exist,
are modules or probe asynchronously, what a client's probe returns, which
allocation fails, deferred-probe timing, driver registration order,
unbind/bind/remove events after or during the boot, the fw_devlink= mode, a
hot-plugged PCI function, and the thread schedule).

:func:`generate` reads its choices from a *provider* with the interface of
atheris' ``FuzzedDataProvider`` (``ConsumeIntInRange``, ``ConsumeBool``,
``PickValueInList``).  Three providers drive it:

* ``atheris.FuzzedDataProvider`` over libFuzzer's bytes (the atheris engine);
* :class:`ByteProvider`, a pure-Python reader of any ``bytes`` (replaying
  fuzzer inputs, the seeded random engine, Hypothesis ``st.binary()``);
* :class:`DrawProvider`, which draws each choice from Hypothesis strategies,
  so Hypothesis shrinks scenarios choice by choice (:func:`scenarios`).

Every provider returns the low end of a range once its input is exhausted,
so the empty input is the plain boot: the default configuration of the first
board, no mutation, no events, the synchronous schedule.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from corpus.mutations import MutationError, random_mutation
from harness.base.devlink import FW_DEVLINK_MODES
from harness.board import Board
from harness.boot import (
    ABSENT,
    BUILTIN,
    EVENT_OPS,
    MODULE,
    RESCAN,
    BootConfig,
    DriverConfig,
    boot_config_to_json,
)
from harness.errno import EINVAL, ENODEV, ENOMEM, EPROBE_DEFER
from harness.iommu.drivers import all_drivers

T = TypeVar("T")

# Allocation sites the IOMMU core lets a scenario fail (harness/iommu/iommu.py).
FAIL_ALLOC_SITES = ("dev_iommu_get", "iommu_fwspec_init", "iommu_group_alloc", "domain_alloc")
PROBE_RETS = (0, -EPROBE_DEFER, -ENOMEM, -ENODEV, -EINVAL)
PRESENCES = (BUILTIN, MODULE, ABSENT)
DEFERRED_TIMEOUTS = (10, 0, 30)
MAX_DRIVER_TWEAKS = 6
MAX_EVENTS = 4
MAX_SCHEDULE = 24
MAX_SCHED_CHOICE = 3
SCHEDULE_REPEATS = (1, 1, 1, 1, 10, 100, 1000)
# Window preemptions (BootConfig.preempt): PCT depth up to MAX_PREEMPTIONS,
# change points among the first MAX_WINDOW_DECISION window decisions (an
# arm64 board with every driver asynchronous makes ~1,400).
MAX_PREEMPTIONS = 3
MAX_WINDOW_DECISION = 2047
# With one IOMMU driver asynchronous (its instances register on workers, the
# clients bind on init) a boot makes about half as many window decisions
# (sdm845-db845c 689 with arm-smmu, rk3568-odroid-m1 630 with rk_iommu, out
# of ~1,400-1,500 with every driver): change points past them are no-ops.
MAX_WINDOW_DECISION_ONE_DRIVER = 1023
# Device-aimed window preemptions (BootConfig.preempt_dev): the i-th window
# decision about one device, i up to this (an IOMMU client of sdm845-db845c
# sees up to 16: its bind, and each registration walk's probe of it).
MAX_DEVICE_WINDOW = 15


class Provider(Protocol):
    """The subset of ``atheris.FuzzedDataProvider`` the generator uses."""

    def ConsumeIntInRange(self, lo: int, hi: int) -> int: ...  # noqa: N802

    def ConsumeBool(self) -> bool: ...  # noqa: N802

    def PickValueInList(self, seq: list[Any]) -> Any: ...  # noqa: N802


class ByteProvider:
    """A deterministic ``FuzzedDataProvider`` work-alike over ``data``.

    Integers are read big-endian from the front, with as many bytes as the
    range needs; once the data is exhausted every read returns the range's
    low end (so shorter inputs mean simpler scenarios).
    """

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def remaining_bytes(self) -> int:
        return len(self.data) - self.pos

    def ConsumeIntInRange(self, lo: int, hi: int) -> int:  # noqa: N802 - atheris' name
        if hi <= lo:
            return lo
        span = hi - lo
        nbytes = (span.bit_length() + 7) // 8
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += len(chunk)
        if not chunk:
            return lo
        return lo + int.from_bytes(chunk, "big") % (span + 1)

    def ConsumeBool(self) -> bool:  # noqa: N802
        return bool(self.ConsumeIntInRange(0, 1))

    def PickValueInList(self, seq: list[Any]) -> Any:  # noqa: N802
        return seq[self.ConsumeIntInRange(0, len(seq) - 1)]


class DrawProvider:
    """Choices drawn from Hypothesis strategies (``data.draw``): Hypothesis
    sees each choice and shrinks it towards the range's low end."""

    def __init__(self, draw: Any) -> None:
        self._draw = draw
        self._st = st

    def ConsumeIntInRange(self, lo: int, hi: int) -> int:  # noqa: N802
        return lo if hi <= lo else int(self._draw(self._st.integers(lo, hi)))

    def ConsumeBool(self) -> bool:  # noqa: N802
        return bool(self._draw(self._st.booleans()))

    def PickValueInList(self, seq: list[Any]) -> Any:  # noqa: N802
        return seq[self.ConsumeIntInRange(0, len(seq) - 1)]


@dataclass(frozen=True)
class CorpusBoard:
    """A corpus platform and what the generator picks from on it."""

    name: str
    platform: Board
    ref: str | None = None  # the file it came from (reproducers may refer to it)


@dataclass
class GenContext:
    """What a campaign lets the generator choose from."""

    boards: list[CorpusBoard]
    mutate: bool = True  # allow device-tree mutations
    events: bool = True  # allow post-boot unbind/bind/remove
    faults: bool = True  # allow fault injection (a failing allocation)
    # allow the race dimensions (driver_async_probe=, window preemptions);
    # off, the generator reads the same bytes as before issue 17
    races: bool = True
    max_schedule: int = MAX_SCHEDULE


@dataclass
class FuzzInput:
    """One run's inputs besides the variant."""

    board: str
    platform: Board
    cfg: BootConfig
    mutation: str | None = None
    platform_ref: str | None = None  # set only when the platform is the unmutated file
    notes: list[str] = field(default_factory=list)

    def config_json(self) -> dict[str, Any]:
        """The reproducer ``config`` (BootConfig without the schedule)."""
        # without the schedule in the copy too: a repeated pattern is up to
        # 24,000 entries, which dataclasses.asdict() copies one by one
        return boot_config_to_json(replace(self.cfg, schedule=[]))

    @property
    def plain(self) -> bool:
        """The board's default boot: its file unchanged, the default boot
        configuration, the default schedule -- what every boot of it does."""
        return (self.platform_ref is not None and self.mutation is None
                and not self.cfg.schedule and not self.config_json())

    def __repr__(self) -> str:  # the platform is large: Hypothesis prints examples
        return f"FuzzInput({self.describe()})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # Hypothesis' pretty printer
        p.text(repr(self))

    def describe(self) -> str:
        parts = [self.board]
        if self.mutation:
            parts.append(f"DT: {self.mutation}")
        cj = self.config_json()
        if cj:
            parts.append(", ".join(f"{k}={v}" for k, v in sorted(cj.items())))
        if self.cfg.schedule:
            parts.append(f"schedule={self.cfg.schedule}")
        return "; ".join(parts)


# -- what a platform offers -------------------------------------------------------


def client_compatibles(p: Board) -> list[str]:
    """First compatibles of the client drivers :class:`harness.boot.Boot` makes."""
    iommu_compat = {c for s in all_drivers() for c in s.compatible}
    seen: list[str] = []
    for n in p.nodes:
        if not n.compatible or n.iommu_cells is not None:
            continue
        c0 = n.compatible[0]
        if c0 not in seen and c0 not in iommu_compat:
            seen.append(c0)
    for e in p.extra_devices:
        c0 = e.compatible[0] if e.compatible else f"{e.bus}:{e.name}"
        if c0 not in seen:
            seen.append(c0)
    return seen


def iommu_driver_names(p: Board) -> list[str]:
    """Names of the modelled IOMMU drivers that match an IOMMU node of ``p``."""
    compat = {c for n in p.nodes if n.iommu_cells is not None for c in n.compatible}
    return [s.name for s in all_drivers() if compat & set(s.compatible)]


def event_targets(p: Board) -> list[str]:
    """Devices an event may name: IOMMU clients first (the interesting ones)."""
    clients = [n.path for n in p.nodes if (n.iommus or n.iommu_map) and n.available()]
    others = [e.name for e in p.extra_devices]
    return clients + others


def window_targets(p: Board) -> list[list[str]]:
    """Devices a window preemption may aim at (:func:`harness.kernel.window_device`
    names), by IOMMU instance: each IOMMU with the clients its ``iommus`` or
    ``iommu-map`` name (its registration walk, their binds: where two threads
    meet in the probe path), then the extra devices.  The generator picks an
    instance first, so an IOMMU with two clients gets as many preemptions as
    one with thirty."""
    groups: dict[str, list[str]] = {n.path: [n.path] for n in p.nodes
                                     if n.iommu_cells is not None and n.available()}
    for n in p.nodes:
        if not n.available():
            continue
        for ref in dict.fromkeys([r.iommu for r in n.iommus] + [e.iommu for e in n.iommu_map]):
            groups.setdefault(ref, []).append(n.path)
    out = [g for g in groups.values() if g]
    if p.extra_devices:
        out.append([e.name for e in p.extra_devices])
    return out


def reorder_devices(p: Board, rng: random.Random) -> Board:
    """``p`` with its top-level subtrees in another order: of_platform_populate
    creates devices (and device_add runs the IOMMU notifier) in DT order."""
    blocks: dict[str, list[Any]] = {}
    root = []
    for n in p.nodes:
        if n.path == "/":
            root.append(n)
            continue
        top = "/" + n.path.split("/")[1]
        blocks.setdefault(top, []).append(n)
    keys = list(blocks)
    rng.shuffle(keys)
    nodes = root + [n for k in keys for n in blocks[k]]
    return replace(p, nodes=nodes, extra_devices=list(p.extra_devices), acpi_iommus=list(p.acpi_iommus),
                   provenance=dict(p.provenance))


def pci_roots(p: Board) -> list[tuple[str, int, int]]:
    """Each available DT PCI host bridge of ``p``: (path, domain, root bus),
    the domain from "linux,pci-domain" or the bridges' order, the root bus
    from "bus-range" (as harness.bus.pci_host numbers them)."""
    pci = {n.path for n in p.nodes if n.props.get("device_type") == "pci"}
    out: list[tuple[str, int, int]] = []
    for n in p.nodes:
        if n.path in pci and n.parent_path not in pci and n.available():
            dom = n.props.get("linux,pci-domain")
            rng = n.props.get("bus-range")
            out.append((n.path, dom[0] if isinstance(dom, list) and dom else len(out),
                        rng[0] if isinstance(rng, list) and rng else 0))
    return out


# -- the generator -------------------------------------------------------------------


def _pick(fdp: Provider, seq: Sequence[T]) -> T:
    return seq[fdp.ConsumeIntInRange(0, len(seq) - 1)]


def generate(fdp: Provider, ctx: GenContext) -> FuzzInput:
    """Read one scenario from ``fdp`` (the empty input is the plain boot of board 0)."""
    board = _pick(fdp, ctx.boards)
    platform = board.platform
    mutation = None
    if ctx.mutate and fdp.ConsumeIntInRange(0, 3) == 1:
        seed = fdp.ConsumeIntInRange(0, 0xFFFFFFFF)
        try:
            platform, mutation = random_mutation(platform, random.Random(seed))
        except MutationError:
            mutation = None
    if fdp.ConsumeIntInRange(0, 7) == 7:
        order_seed = fdp.ConsumeIntInRange(0, 0xFFFFFFFF)
        platform = reorder_devices(platform, random.Random(order_seed))
        mutation = f"{mutation}; " if mutation else ""
        mutation += f"device creation order shuffled (seed {order_seed})"
    cfg = BootConfig()
    cfg.config_modules = not fdp.ConsumeBool()
    cfg.deferred_probe_timeout = _pick(fdp, DEFERRED_TIMEOUTS)
    cfg.async_probe_all = fdp.ConsumeIntInRange(0, 3) == 3
    for name in iommu_driver_names(platform):
        if fdp.ConsumeIntInRange(0, 7) == 7:
            cfg.iommu_drivers[name] = ABSENT
    compats = client_compatibles(platform)
    if compats:
        for _ in range(fdp.ConsumeIntInRange(0, MAX_DRIVER_TWEAKS)):
            c = _pick(fdp, compats)
            cfg.drivers[c] = DriverConfig(
                presence=_pick(fdp, PRESENCES),
                async_probe=fdp.ConsumeBool(),
                probe_ret=_pick(fdp, PROBE_RETS),
                driver_managed_dma=fdp.ConsumeIntInRange(0, 3) == 3,
            )
        order = [_pick(fdp, compats) for _ in range(fdp.ConsumeIntInRange(0, 3))]
        cfg.driver_order = tuple(dict.fromkeys(order))
    if ctx.faults and fdp.ConsumeIntInRange(0, 7) == 7:
        cfg.fail_alloc = (_pick(fdp, FAIL_ALLOC_SITES),)
    targets = event_targets(platform)
    if ctx.events and targets:
        cfg.events = tuple((_pick(fdp, EVENT_OPS), _pick(fdp, targets))
                           for _ in range(fdp.ConsumeIntInRange(0, MAX_EVENTS)))
    # driver_async_probe=: none, every driver, or one IOMMU driver (its
    # instances then register concurrently with clients binding).
    if ctx.races:
        cfg.driver_async_probe = _pick(fdp, [(), ("*",)] + [(n,) for n in iommu_driver_names(platform)])
        npre = fdp.ConsumeIntInRange(0, MAX_PREEMPTIONS)
        last = MAX_WINDOW_DECISION if cfg.driver_async_probe in ((), ("*",)) \
            else MAX_WINDOW_DECISION_ONE_DRIVER
        pre: dict[int, int] = {}
        at_dev: dict[tuple[str, int], int] = {}
        aims = window_targets(platform)
        for _ in range(npre):
            # half of them aimed at one device's window decisions: robust to
            # whatever else the input changes earlier in the boot
            if aims and fdp.ConsumeBool():
                d = _pick(fdp, _pick(fdp, aims))
                i = fdp.ConsumeIntInRange(0, MAX_DEVICE_WINDOW)
                at_dev[(d, i)] = fdp.ConsumeIntInRange(0, MAX_SCHED_CHOICE)
            else:
                k = fdp.ConsumeIntInRange(0, last)
                pre[k] = fdp.ConsumeIntInRange(0, MAX_SCHED_CHOICE)
        cfg.preempt = tuple(sorted(pre.items()))
        cfg.preempt_dev = tuple(sorted((d, i, c) for (d, i), c in at_dev.items()))
    # A plain schedule only without window preemptions: these count the
    # window decisions past the schedule, which a schedule pattern (repeated
    # up to 1,000 times) would move or use up.
    n = 0 if cfg.preempt or cfg.preempt_dev else fdp.ConsumeIntInRange(0, ctx.max_schedule)
    pattern = [fdp.ConsumeIntInRange(0, MAX_SCHED_CHOICE) for _ in range(n)]
    # A boot makes thousands of scheduling decisions once probing is
    # asynchronous; a repeated pattern reaches the late windows too.
    cfg.schedule = pattern * _pick(fdp, SCHEDULE_REPEATS) if pattern else []
    if ctx.races:
        # read last, so an input that ends before keeps its scenario
        _boot_time_dimensions(fdp, cfg, platform)
    return FuzzInput(board=board.name, platform=platform, cfg=cfg, mutation=mutation,
                    platform_ref=board.ref if mutation is None else None)


def _boot_time_dimensions(fdp: Provider, cfg: BootConfig, platform: Board) -> None:
    """What else races a boot: userspace's sysfs writes while the modules load
    (not after), the fw_devlink= mode (rpm, 6.12's default, holds consumers
    for their suppliers; strict also for their IOMMU), and a PCI function
    hot-plugged behind a host bridge, which a rescan adds (device_add beside
    the registration walks and binds)."""
    if cfg.events:
        cfg.events_during_boot = fdp.ConsumeBool()
    devlink = fdp.ConsumeIntInRange(0, 15)
    if devlink == 14:
        cfg.fw_devlink = _pick(fdp, FW_DEVLINK_MODES[1:])
    elif devlink == 15:
        cfg.fw_devlink_strict = True
    roots = pci_roots(platform)
    if roots and fdp.ConsumeIntInRange(0, 7) == 7:
        path, dom, bus = _pick(fdp, roots)
        cfg.pci = (f"hotplug:{dom:04x}:{bus:02x}:{fdp.ConsumeIntInRange(1, 0x1F):02x}.0",)
        cfg.events = (*cfg.events, (RESCAN, path))
        cfg.events_during_boot = cfg.events_during_boot or fdp.ConsumeBool()


def from_bytes(data: bytes, ctx: GenContext) -> FuzzInput:
    """:func:`generate` over ``data`` with the pure-Python provider."""
    return generate(ByteProvider(data), ctx)


def scenarios(ctx: GenContext) -> Any:
    """The generator as a Hypothesis strategy of :class:`FuzzInput`."""
    @st.composite
    def _scenario(draw: Any) -> FuzzInput:
        return generate(DrawProvider(draw), ctx)

    return _scenario()


def scenario_from_bytes_strategy(ctx: GenContext, max_size: int = 256) -> Any:
    """The same generator driven by Hypothesis ``st.binary()`` (raw bytes)."""
    return st.binary(max_size=max_size).map(lambda b: from_bytes(b, ctx))


def with_cfg(s: FuzzInput, **changes: Any) -> FuzzInput:
    """A copy of ``s`` with BootConfig fields replaced."""
    return replace(s, cfg=replace(s.cfg, **changes))


# Old name, for branches in flight when it was renamed (issue 12); gen.Board
# (now CorpusBoard) has no alias: harness.board.Board is the board description.
Scenario = FuzzInput
