"""ipmmu-vmsa on a real 6.12 board: r8a77951-salvator-xs (R-Car H3, a root
IPMMU-MM and cache IPMMUs; Gen3 opts devices in through the allow list)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.board import Board
from harness.findings import OOPS
from harness.iommu.drivers.ipmmu_vmsa import MATCH, devices_allowlist
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers._probe_groups import boot, clients, dev_name, load

pytestmark = pytest.mark.kernel_tree

SALVATOR = "arch/arm64/boot/dts/renesas/r8a77951-salvator-xs.dts"
COMPAT = tuple(MATCH)
# of_iommu_configure() frees exactly what a refused parse allocated
# (drivers/iommu/of_iommu.c:154-157): refused clients leave no WARN behind.
LEFTOVER = "iommu: dev->iommu state changed by failed of_iommu_configure in of_iommu_configure"


@pytest.fixture(scope="module")
def salvator(kernel_tree: Path) -> Board:
    return load(kernel_tree, SALVATOR)


def test_v614_allowed_clients_share_their_leaf_group_before_probe(
        salvator: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    b = boot(salvator, V614, monkeypatch)
    cl = clients(salvator, COMPAT)
    allowed = {dev_name(p): refs[0] for p, refs in cl.items() if dev_name(p) in devices_allowlist}
    refused = {dev_name(p) for p in cl} - set(allowed)
    assert allowed and refused
    # generic_single_device_group (arm64): one group per leaf instance
    by_leaf: dict[str, set[int | None]] = {}
    for name, leaf in allowed.items():
        by_leaf.setdefault(leaf, set()).add(b.group_at_probe[name])
    assert all(len(gs) == 1 and None not in gs for gs in by_leaf.values()), by_leaf
    # the allow list refuses the rest in ipmmu_of_xlate(): no group, by policy
    assert all(b.group_at_probe[n] is None for n in refused)
    assert b.result.findings == []


def test_bare_fwspec_free_leaves_dev_iommu_on_refused_clients(
        salvator: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    # the pre-3/4 shape (a mutation now): iommu_fwspec_free() keeps the dev_iommu
    # that ipmmu_of_xlate()'s refusal left allocated -> the invariant-10 WARN
    v = V614.with_values("v614-bare-free", "", **{"of_iommu_configure.cleanup": "fwspec_free"})
    b = boot(salvator, v, monkeypatch)
    refused = {dev_name(p) for p in clients(salvator, COMPAT)} - set(devices_allowlist)
    assert b.result.findings
    assert {f.title for f in b.result.findings} == {LEFTOVER}
    assert {f.device for f in b.result.findings} <= refused


def test_root_ipmmu_mm_does_not_register(salvator: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    st = boot(salvator, V614, monkeypatch).result.stats
    roots = [n for n in salvator.nodes if n.available() and any(c in COMPAT for c in n.compatible)
             and "renesas,ipmmu-main" not in n.props]
    assert len(roots) == 1
    assert st["registered_instances"] == st["iommu_instances"] - 1


def test_next_boots_the_board(salvator: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    """NEXT results are recorded in docs/drivers/ipmmu-vmsa.md."""
    b = boot(salvator, NEXT, monkeypatch)
    assert b.result.stats["registered_instances"] == b.result.stats["iommu_instances"] - 1


@pytest.mark.parametrize("base", [V614, NEXT], ids=lambda v: v.name)
def test_drvdata_before_register_is_set_for_the_root_too(
        salvator: Board, monkeypatch: pytest.MonkeyPatch, base: object) -> None:
    # ipmmu-vmsa.c:1108 publishes the drvdata for every instance; the rule moves
    # it ahead of the "register leaves only" block (L1089), so the root IPMMU-MM
    # still publishes and ipmmu_find_root() finds it: no oops, same registrations
    v = base.with_values("ipmmu-drvdata-before", "", **{"ipmmu_probe.drvdata": "before_register"})  # type: ignore[attr-defined]
    r = boot(salvator, v, monkeypatch).result
    assert [f for f in r.findings if f.kind == OOPS] == []
    assert r.stats["registered_instances"] == r.stats["iommu_instances"] - 1


def test_root_without_drvdata_oopses_the_next_leaf(
        salvator: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    # negative control of the mechanism: a root that never publishes (drvdata
    # cleared after its probe) makes the next leaf's ipmmu_find_root()
    # dereference NULL in __ipmmu_check_device()
    import harness.iommu.drivers.ipmmu_vmsa as ipmmu
    real = ipmmu.platform_set_drvdata

    def leaves_only(pdev: object, mmu: object) -> None:
        if getattr(mmu, "root", None) is not mmu:
            real(pdev, mmu)  # type: ignore[arg-type]
    monkeypatch.setattr(ipmmu, "platform_set_drvdata", leaves_only)
    r = boot(salvator, V614, monkeypatch).result
    [f] = [f for f in r.findings if f.kind == OOPS]
    assert f.title == "BUG: kernel NULL pointer dereference in __ipmmu_check_device"
    assert f.trace[:3] == ["__ipmmu_check_device", "driver_for_each_device", "ipmmu_find_root"]


def test_v614_denylisted_soc_refuses_every_client(kernel_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # r8a77960 (M3-W) matches soc_id "r8a7796" of soc_denylist: even the SDHIs
    p = load(kernel_tree, "arch/arm64/boot/dts/renesas/r8a77960-salvator-x.dts")
    b = boot(p, V614, monkeypatch)
    names = [dev_name(q) for q in clients(p, COMPAT)]
    assert any(n in devices_allowlist for n in names)
    assert all(b.group_at_probe[n] is None for n in names)
    assert b.result.stats["grouped_clients"] == 0
    assert b.result.findings == []
