"""Helpers for the driver tests: boot a platform and record what the IOMMU
driver and the client drivers saw (probe-time group state, probe_device
results), without changing what the model does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import harness.boot as boot_mod
from harness import oracles
from harness.board import Board, load_board
from harness.boot import Boot, BootConfig, DriverConfig
from harness.device import device_is_bound
from harness.errno import IS_ERR, PTR_ERR
from harness.findings import Finding
from harness.iommu.structs import iommu_ops
from harness.kernel import kfunc, set_kernel
from harness.variant import Variant

EXAMPLES = Path(__file__).resolve().parents[4] / "corpus" / "examples"


def example(name: str) -> Board:
    return load_board(EXAMPLES / f"{name}.json")


@dataclass
class AtProbe:
    """A device's IOMMU state when its driver's probe() ran."""

    group: int | None
    default_domain: bool
    owner_cnt: int
    instance: Any


@dataclass
class Run:
    boot: Boot
    findings: list[Finding]
    at_probe: dict[str, AtProbe] = field(default_factory=dict)
    probe_device: list[tuple[str, int]] = field(default_factory=list)  # (dev, 0 or -errno)

    def dev(self, name: str) -> Any:
        return next(d for d in self.boot.devices() if d.init_name == name)

    def group(self, name: str) -> Any:
        return self.dev(name).iommu_group

    def results(self, name: str) -> list[int]:
        return [r for n, r in self.probe_device if n == name]

    def bound(self, name: str) -> bool:
        return device_is_bound(self.dev(name))


@pytest.fixture
def boot_recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Run]]:
    """``boot_recorded(platform, variant, ops, cfg=None) -> Run``."""
    runs: list[Run] = []

    def run(platform: Board, v: Variant, ops: iommu_ops, cfg: BootConfig | None = None) -> Run:
        rec = Run(boot=Boot(platform, v, cfg or BootConfig()), findings=[])

        def factory(dcfg: DriverConfig) -> Callable[[Any], int]:
            @kfunc
            def generic_client_probe(pdev: Any) -> int:
                dev = pdev.dev
                g = dev.iommu_group
                rec.at_probe[dev.init_name] = AtProbe(
                    g.id if g is not None else None,
                    g is not None and g.default_domain is not None,
                    g.owner_cnt if g is not None else 0,
                    dev.iommu.iommu_dev if dev.iommu is not None else None)
                return dcfg.probe_ret
            return generic_client_probe

        monkeypatch.setattr(boot_mod, "client_probe_factory", factory)
        orig = ops.probe_device

        def probe_device(dev: Any) -> Any:
            ret = orig(dev)
            rec.probe_device.append((dev.init_name, PTR_ERR(ret) if IS_ERR(ret) else 0))
            return ret

        monkeypatch.setattr(ops, "probe_device", probe_device)
        try:
            k = rec.boot.run()
            if not k.panicked:
                oracles.final_checks(rec.boot.devices())
            rec.findings = list(k.findings)
        finally:
            set_kernel(None)
            monkeypatch.setattr(ops, "probe_device", orig)
        runs.append(rec)
        return rec

    yield run
