"""Oracles for invariants 11, 13, 14 and 17 (spec §5): positive and negative controls.

The positive controls are *seeded bugs*: a model function replaced by a broken
one (a missing deferred-probe trigger, a missing ``unuse_default_domain``), a
boot input (an allocation failure in the registration walk) or a firmware quirk
(the same specifier twice).  Negative controls run the unmodified model.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness import findings as fnd
from harness.base import dd
from harness.board import Board, IommuRef, Node
from harness.iommu import iommu as iommu_core
from harness.klog import render_result
from harness.variant import NEXT, V614, Variant
from tests.harness.test_oracles import FIX, SMMU, _soc, chain_board, of_invariant, rk_board, run


def smmu_board(ids: tuple[tuple[int, ...], ...]) -> Board:
    """One SMMUv3 and a master with the given ``iommus`` specifiers."""
    return Board("smmu-board", nodes=_soc() + [
        Node("/soc/smmu@5", compatible=SMMU, iommu_cells=1),
        Node("/soc/dma@6", compatible=("vendor,dma",),
             iommus=tuple(IommuRef("/soc/smmu@5", i) for i in ids))])


# -- 11: registration robustness ----------------------------------------------------------

def test_inv11_positive_walk_allocation_failure_unregisters_the_instance() -> None:
    """NEXT's walk allocates dev->iommu for every client: one -ENOMEM fails the instance."""
    r = run(rk_board(), FIX, fail_alloc=("dev_iommu_get",))
    [f] = [f for f in of_invariant(r, 11)][:1]
    assert f.kind == fnd.WARNING
    assert f.title == "iommu: client error fails IOMMU registration in probe_iommu_group"
    assert "-12" in f.message
    assert r.stats["registered_instances"] == 0


def test_inv11_negative_v614_walk_never_reaches_dt_clients() -> None:
    r = run(rk_board(), V614, fail_alloc=("dev_iommu_get",))
    assert of_invariant(r, 11) == []


# -- 13: deferred-probe liveness -------------------------------------------------------------

def test_inv13_positive_missing_trigger_leaves_clients_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded bug: driver_bound() no longer kicks the deferred list.  On chain_board
    iommu@1 waits for iommu@9 (later in DT order), so its clients defer first."""
    monkeypatch.setattr(dd, "driver_deferred_probe_trigger", lambda: None)
    r = run(chain_board(), V614, deferred_probe_timeout=0)
    # iommu@1 stays pending although iommu@9 registered; its own clients are pending too,
    # but they wait for iommu@1, which never registered: not a liveness bug of theirs
    pending = {f.device for f in of_invariant(r, 13)}
    assert pending == {"1.iommu"}
    assert r.stats["deferred"] == 3
    assert all(f.kind == fnd.DEFER for f in of_invariant(r, 13))


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
def test_inv13_negative_clients_retried_after_their_iommu(v: Variant) -> None:
    r = run(chain_board(), v, deferred_probe_timeout=0)
    assert r.stats["deferred"] == 0
    assert of_invariant(r, 13) == []


def test_inv13_negative_a_driver_that_defers_itself_is_not_an_iommu_liveness_bug() -> None:
    from harness.boot import DriverConfig

    r = run(rk_board(clients=1), V614, drivers={"rockchip,rk3568-vop0": DriverConfig(probe_ret=-517)})
    assert r.stats["deferred"] == 1
    assert of_invariant(r, 13) == []


# -- 14: ownership counts ----------------------------------------------------------------------

def test_inv14_positive_failed_probe_without_unuse_leaks_owner_cnt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded bug: the bus dma_cleanup hook forgets iommu_device_unuse_default_domain()."""
    from harness.boot import DriverConfig

    monkeypatch.setattr(iommu_core, "iommu_device_unuse_default_domain", lambda dev: None)
    r = run(rk_board(clients=1), V614, drivers={"rockchip,rk3568-vop0": DriverConfig(probe_ret=-12)})
    [f] = of_invariant(r, 14)
    assert f.title == "iommu: group owner_cnt leaked" and f.device == "2.vop"


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
@pytest.mark.parametrize("probe_ret", [0, -12])
def test_inv14_negative_claims_balanced(v: Variant, probe_ret: int) -> None:
    from harness.boot import DriverConfig

    r = run(rk_board(clients=1), v, drivers={"rockchip,rk3568-vop0": DriverConfig(probe_ret=probe_ret)})
    assert of_invariant(r, 14) == []


# -- 17: duplicate IDs -------------------------------------------------------------------------

@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_inv17_positive_same_specifier_twice_is_a_lint(v: Variant) -> None:
    """The C appends the duplicate silently: a lint, never a finding or a WARN line."""
    r = run(smmu_board(((7,), (7,))), v)
    assert r.findings == [] and of_invariant(r, 17) == []
    [f] = [f for f in r.lints if f.invariant == 17]
    assert f.kind == fnd.LINT and fnd.LINT not in fnd.KINDS and "0x7" in f.message
    assert f.title.startswith("iommu: duplicate IDs in fwspec in ")
    assert f.device == "6.dma"
    log = render_result(r)
    assert "probefuzz: lint: iommu: duplicate IDs" in log and "WARNING" not in log
    assert "0 finding(s), 1 lint(s)" in log
    assert r.to_json()["findings"] == [] and len(r.to_json()["lints"]) == 1


@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_inv17_negative_distinct_ids(v: Variant) -> None:
    r: Any = run(smmu_board(((7,), (8,))), v)
    assert of_invariant(r, 17) == [] and r.lints == []


# -- 7, the series' goal: a group even without a driver ------------------------------------

def test_inv7_positive_v614_leaves_a_driverless_client_without_group() -> None:
    from harness.boot import ABSENT, DriverConfig

    r = run(rk_board(clients=2), V614, drivers={"rockchip,rk3568-vop1": DriverConfig(presence=ABSENT)})
    [f] = [f for f in of_invariant(r, 7)]
    assert f.kind == fnd.GROUP and f.title == "iommu: no IOMMU group for a device without driver"
    assert f.device == "3.vop"


def test_inv7_negative_the_walk_groups_driverless_clients() -> None:
    from harness.boot import ABSENT, DriverConfig

    r = run(rk_board(clients=2), FIX, drivers={"rockchip,rk3568-vop1": DriverConfig(presence=ABSENT)})
    assert of_invariant(r, 7) == [] and r.stats["grouped_clients"] == 2
