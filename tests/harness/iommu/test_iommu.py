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


def test_a_failed_device_group_releases_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """iommu_init_device()'s err_release: when device_group() fails the driver's
    release_device() runs, so the device's next probe_device() is a new probe
    (oracle 3 does not count it as a second one).  Every probe_device() that
    iommu_init_device() then fails is followed by a release before the
    device's next probe."""
    from harness.run import run_scenario
    from mutators.space import resolve

    events: list[tuple[str, int]] = []
    for hook in ("probe_device_ok", "device_released"):
        monkeypatch.setattr(trace, hook, getattr(trace, hook))  # restored afterwards
        trace.attach(hook, lambda dev, *a, h=hook: events.append((h, id(dev))))
    monkeypatch.setattr(trace, "init_device_failed", trace.init_device_failed)
    trace.attach("init_device_failed", lambda dev, ret: events.append(("failed", id(dev))))
    v = resolve("NEXT+rk_iommu_probe.dma_dev:=before_register").variant
    r = run_scenario(load_bundled("sdm845-db845c"), v, BootConfig(fail_alloc=("iommu_group_alloc",)))
    failed_after_probe = 0
    probed: set[int] = set()
    for what, dev in events:
        if what == "probe_device_ok":
            assert dev not in probed, "probe_device() twice without a release"
            probed.add(dev)
        elif what == "device_released":
            probed.discard(dev)
        elif dev in probed:
            failed_after_probe += 1
            probed.discard(dev)  # a failed init after probe_device() must have released it
    assert failed_after_probe == 0
    assert any(w == "probe_device_ok" for w, _ in events) and any(w == "device_released" for w, _ in events)
    assert "iommu: device probed twice in __iommu_probe_device" not in [f.title for f in r.findings]
