"""harness/base/dd.py: really_probe() and deferred probe.

With rk_iommu a module (loaded late), the clients of the RK3568 IOMMUs defer
in their bus dma_configure (no instance registered yet), and the
deferred-probe work binds them once the module registered it.  A failed
attempt ends in ``trace.bind_attempt_end``; one that reaches ``drv->probe()``
passes ``trace.driver_probe_entry``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from corpus.bundled import load_bundled
from harness import trace, variant
from harness.board import Board
from harness.boot import Boot, BootConfig
from harness.device import device_is_bound
from harness.errno import EPROBE_DEFER
from harness.kernel import set_kernel
from harness.variant import V614

LATE_RK = BootConfig(iommu_drivers={"rk_iommu": "module"})


@pytest.fixture(scope="module")
def board() -> Board:
    return load_bundled("rk3568-odroid-m1")


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    set_kernel(None)
    variant.activate(V614)


def _clients(b: Boot, board: Board) -> list[Any]:
    rk = {n.path for n in board.nodes if "rockchip,rk3568-iommu" in n.compatible}
    return [d for d in b.devices() if d.of_node is not None
            and any(r.iommu in rk for r in d.of_node.desc.iommus)]


def test_clients_of_a_late_iommu_defer_then_bind(board: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    ends: list[tuple[str, int]] = []
    orig = trace.bind_attempt_end

    def end(dev: Any, ret: int) -> None:
        ends.append((dev.init_name, ret))
        orig(dev, ret)
    monkeypatch.setattr(trace, "bind_attempt_end", end)
    b = Boot(board, V614, LATE_RK)
    k = b.run()
    assert k.findings == []
    clients = _clients(b, board)
    assert clients
    for dev in clients:
        rets = [ret for name, ret in ends if name == dev.init_name]
        # deferred (in dma_configure) before the module registered the instance
        assert rets and set(rets) == {-EPROBE_DEFER}, (dev, rets)
        # ... and bound by the deferred-probe work afterwards
        assert device_is_bound(dev) and not dev.deferred_probe


def test_built_in_iommu_binds_clients_on_the_first_attempt(board: Board,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    starts: list[str] = []
    ends: list[str] = []
    orig_start, orig_end = trace.bind_attempt_start, trace.bind_attempt_end

    def start(dev: Any) -> None:
        starts.append(dev.init_name)
        orig_start(dev)

    def end(dev: Any, ret: int) -> None:
        ends.append(dev.init_name)
        orig_end(dev, ret)
    monkeypatch.setattr(trace, "bind_attempt_start", start)
    monkeypatch.setattr(trace, "bind_attempt_end", end)
    b = Boot(board, V614, BootConfig())
    b.run()
    for dev in _clients(b, board):
        assert starts.count(dev.init_name) == 1 and dev.init_name not in ends, dev
        assert device_is_bound(dev)
