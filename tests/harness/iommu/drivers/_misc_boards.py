"""Shared by the sun50i/apple-dart/omap/msm driver tests: boot a real board
from the 6.12 tree and record, when each device's ``drv->probe()`` is
entered, the IOMMU state the device is in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.dt import load_platform_file
from harness import trace
from harness.board import Board
from harness.boot import Boot, BootConfig
from harness.kernel import set_kernel
from harness.run import Result, run_scenario
from harness.variant import Variant


@dataclass(frozen=True)
class AtProbe:
    """A device's IOMMU state when its driver's probe() was entered."""

    group: Any  # struct iommu_group (identity matters)
    iommu_dev: Any  # dev->iommu->iommu_dev
    default_domain: Any
    priv: Any
    ids: tuple[int, ...] | None  # fwspec IDs


@dataclass
class Run:
    result: Result
    at_probe: dict[str, AtProbe] = field(default_factory=dict)


def load(kernel_tree: Path, dts: str) -> Board:
    """Compile ``arch/.../*.dts`` of the tree through the corpus path."""
    return load_platform_file(kernel_tree / dts)


@contextmanager
def _recording(at_probe: dict[str, AtProbe]) -> Iterator[None]:
    orig = trace.driver_probe_entry

    def entry(dev: Any) -> None:
        it = dev.iommu
        g = dev.iommu_group
        at_probe[dev.init_name] = AtProbe(
            g, it.iommu_dev if it is not None else None,
            g.default_domain if g is not None else None, it.priv if it is not None else None,
            tuple(it.fwspec.ids) if it is not None and it.fwspec is not None else None)
        orig(dev)

    trace.driver_probe_entry = entry  # type: ignore[assignment]
    try:
        yield
    finally:
        trace.driver_probe_entry = orig  # type: ignore[assignment]


def run(p: Board, v: Variant, cfg: BootConfig | None = None) -> Run:
    """``run_scenario`` plus the per-device state at driver probe."""
    at: dict[str, AtProbe] = {}
    with _recording(at):
        r = run_scenario(p, v, cfg)
    return Run(r, at)


def boot(p: Board, v: Variant) -> tuple[Boot, Any]:
    """A boot whose final state (devices, driver globals) the test inspects;
    call ``set_kernel(None)`` (``done()``) afterwards."""
    b = Boot(p, v, BootConfig())
    k = b.run()
    return b, k


def done() -> None:
    set_kernel(None)


def by_name(b: Boot) -> dict[str, Any]:
    return {d.init_name: d for d in b.devices()}
