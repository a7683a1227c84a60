"""harness/iommu/iommu.py: registration, the bus walk, groups, and the trace
hooks the IOMMU core calls (V614 on the seed board, the real RK3568 tree)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from corpus.bundled import load_bundled
from harness import trace, variant
from harness.board import Board
from harness.boot import Boot, BootConfig
from harness.iommu.iommu import core, iommu_fwspec_ops
from harness.kernel import set_kernel
from harness.variant import V614

RK = "rk3568-odroid-m1"


@pytest.fixture(scope="module")
def board() -> Board:
    return load_bundled(RK)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    set_kernel(None)
    variant.activate(V614)


def _instances(board: Board) -> set[str]:
    return {n.path for n in board.nodes
            if "rockchip,rk3568-iommu" in n.compatible and n.available()}


def test_every_available_instance_is_registered_once(board: Board) -> None:
    b = Boot(board, V614, BootConfig())
    b.run()
    listed = [i.fwnode.np.full_name for i in core().iommu_device_list]
    assert sorted(listed) == sorted(_instances(board))


def test_clients_are_probed_by_the_instance_their_fwspec_names(board: Board) -> None:
    b = Boot(board, V614, BootConfig())
    b.run()
    clients = [d for d in b.devices() if d.of_node is not None
               and any(r.iommu in _instances(board) for r in d.of_node.desc.iommus)]
    assert clients
    for dev in clients:
        assert dev.iommu is not None and dev.iommu.fwspec is not None, dev
        inst = dev.iommu.iommu_dev
        assert inst is not None and inst in core().iommu_device_list
        # the ops the core resolves from the fwspec are the probing instance's
        assert iommu_fwspec_ops(dev.iommu.fwspec) is inst.ops
        assert dev.iommu_group is not None and dev.iommu_group.default_domain is not None


def test_the_core_reports_each_instance_and_probe_to_its_trace_hooks(
        board: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[str] = []
    probed: list[Any] = []
    monkeypatch.setattr(trace, "instance_listed", lambda iommu: listed.append(iommu.fwnode.np.full_name))
    orig = trace.probe_device_ok

    def probe_ok(dev: Any, iommu_dev: Any) -> None:
        probed.append(dev)
        orig(dev, iommu_dev)
    monkeypatch.setattr(trace, "probe_device_ok", probe_ok)
    b = Boot(board, V614, BootConfig())
    b.run()
    assert sorted(listed) == sorted(_instances(board))
    grouped = [d for d in b.devices() if d.iommu_group is not None]
    # once per grouped device: V614 never probes a device twice
    assert len(probed) == len(set(map(id, probed))) == len(grouped)
