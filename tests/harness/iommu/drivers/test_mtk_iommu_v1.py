"""mtk_iommu_v1 on a real 6.12 board: mt2701-evb (arm32).

``mtk_iommu_v1_ops`` has no ``of_xlate``: ``of_iommu_xlate()`` creates the
fwspec, returns -ENODEV (``!ops->of_xlate``), ``of_iommu_configure()`` frees
the fwspec, and the client binds without an IOMMU.  The driver's
``probe_device`` (which re-parses "iommus" itself) is never reached in
6.12/v6.14: modelled as the C is, so the oracles report the two JPEG clients
(see docs/drivers/mediatek.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.board import Board
from harness.findings import OOPS
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers._probe_groups import boot, clients, dev_name, load

pytestmark = pytest.mark.kernel_tree

MT2701 = "arch/arm/boot/dts/mediatek/mt2701-evb.dts"
COMPAT = ("mediatek,mt2701-m4u",)


@pytest.fixture(scope="module")
def mt2701(kernel_tree: Path) -> Board:
    return load(kernel_tree, MT2701)


@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_clients_bind_without_a_group_because_no_of_xlate(
        mt2701: Board, monkeypatch: pytest.MonkeyPatch, v: object) -> None:
    b = boot(mt2701, v, monkeypatch)  # type: ignore[arg-type]
    names = {dev_name(p) for p in clients(mt2701, COMPAT)}
    assert names
    st = b.result.stats
    assert st["registered_instances"] == 1 and st["grouped_clients"] == 0
    assert all(b.group_at_probe[n] is None and b.ids_at_probe[n] is None for n in names)
    assert [f for f in b.result.findings if f.kind == OOPS] == []
    # invariant 4 at drv->probe() and 7 at the end, for exactly those clients
    for inv in (4, 7):
        assert {f.device for f in b.result.findings if f.invariant == inv} == names


def test_probe_device_is_never_called(mt2701: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.iommu.drivers import mtk_iommu_v1

    calls: list[str] = []
    orig = mtk_iommu_v1.mtk_iommu_v1_ops.probe_device
    monkeypatch.setattr(mtk_iommu_v1.mtk_iommu_v1_ops, "probe_device",
                        lambda dev: calls.append(dev.init_name) or orig(dev))
    for v in (V614, NEXT):
        boot(mt2701, v, monkeypatch)
    assert calls == []
