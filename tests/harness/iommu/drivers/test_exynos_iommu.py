"""exynos-iommu on a real 6.12 board: exynos5433-tm2e (twelve SysMMUs, one or
two per master)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.board import Board
from harness.findings import OOPS
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers._probe_groups import boot, clients, dev_name, load

pytestmark = pytest.mark.kernel_tree

TM2E = "arch/arm64/boot/dts/exynos/exynos5433-tm2e.dts"
COMPAT = ("samsung,exynos-sysmmu",)


@pytest.fixture(scope="module")
def tm2e(kernel_tree: Path) -> Board:
    return load(kernel_tree, TM2E)


def test_v614_one_group_per_master_before_probe(tm2e: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    b = boot(tm2e, V614, monkeypatch)
    assert b.result.findings == []
    cl = clients(tm2e, COMPAT)
    assert len(cl) >= 5
    groups = [b.group_at_probe.get(dev_name(p)) for p in cl]
    # generic_device_group: a group of its own for every master
    assert None not in groups and len(set(groups)) == len(groups)
    st = b.result.stats
    assert st["registered_instances"] == st["iommu_instances"] == 12


def test_v614_two_sysmmu_master_owns_both_controllers(
        tm2e: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    b = boot(tm2e, V614, monkeypatch)
    two = [p for p, refs in clients(tm2e, COMPAT).items() if len(set(refs)) == 2]
    assert two, "the board has masters behind two SysMMUs (DECON)"
    for path in two:
        owner = b.priv_at_probe[dev_name(path)]
        # exynos_iommu_of_xlate() appends each SysMMU once to the owner's list
        assert [d.sysmmu.of_node.full_name for d in owner.controllers] == \
            [r.iommu for r in tm2e.node_map()[path].iommus]


def test_next_boots_the_board(tm2e: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    """NEXT results are recorded in docs/drivers/exynos.md."""
    b = boot(tm2e, NEXT, monkeypatch)
    assert b.result.stats["registered_instances"] == 12


def test_next_drvdata_after_register_declines_then_probes_late(
        tm2e: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    # exynos_iommu_of_xlate() returns -ENODEV while the SysMMU has no drvdata:
    # the walk leaves the master alone, its bind-time parse probes it late
    v = NEXT.with_values("next-exynos-drvdata-after", "", **{"exynos_sysmmu_probe.drvdata": "after_register"})
    r = boot(tm2e, v, monkeypatch).result
    assert [f for f in r.findings if f.kind == OOPS] == []
    late = [f for f in r.findings if f.message.startswith("late IOMMU probe at driver bind")]
    assert late
    assert all("exynos_iommu_of_xlate" not in f.trace for f in late)


def test_v614_drvdata_after_register_is_harmless(tm2e: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    v = V614.with_values("v614-exynos-drvdata-after", "", **{"exynos_sysmmu_probe.drvdata": "after_register"})
    assert boot(tm2e, v, monkeypatch).result.findings == []


@pytest.mark.parametrize("v,leaks", [(V614, False), (NEXT, True)], ids=["V614", "NEXT"])
def test_owner_allocated_per_fresh_dev_iommu(
        tm2e: Board, monkeypatch: pytest.MonkeyPatch, v: object, leaks: bool) -> None:
    """exynos_iommu_of_xlate() kzalloc()s an owner whenever priv is NULL and never
    frees it.  NEXT: the walk of the first DECON SysMMU parses the DECON, the
    second SysMMU is not registered yet (-EPROBE_DEFER), init fails and frees
    the dev_iommu; the next walk starts over with a new owner."""
    from harness.iommu.drivers import exynos_iommu

    made: dict[str, int] = {}

    class counting_owner(exynos_iommu.exynos_iommu_owner):  # noqa: N801
        def __init__(self) -> None:
            super().__init__()
            # called from exynos_iommu_of_xlate(dev, spec)
            name = sys._getframe(1).f_locals["dev"].init_name
            made[name] = made.get(name, 0) + 1

    monkeypatch.setattr(exynos_iommu, "exynos_iommu_owner", counting_owner)
    b = boot(tm2e, v, monkeypatch)  # type: ignore[arg-type]
    two = [dev_name(p) for p, refs in clients(tm2e, COMPAT).items() if len(set(refs)) == 2]
    assert two
    for name in two:
        assert (made[name] > 1) is leaks, made
        # the owner in use lists both SysMMUs either way
        assert len(b.priv_at_probe[name].controllers) == 2
