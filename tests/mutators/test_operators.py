"""The snapshot / call / lock / owner / WARN-placement operators: each new
site changes what the model does (by mechanism), and the space reaches every
site, driver sites included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corpus.bundled import load_bundled
from harness import variant
from harness.boot import BootConfig
from harness.kernel import set_kernel
from harness.run import Result, run_scenario
from harness.variant import NEXT, SITES, V614
from mutators.space import resolve, semantic_key, space
from tests.harness.test_oracles import FIX, RACE, chain_board, race_schedule

RK = "rk3568-odroid-m1"


@pytest.fixture(autouse=True)
def _reset_model_globals() -> Iterator[None]:
    yield
    set_kernel(None)
    variant.activate(V614)


def _titles(vid: str, board: str = RK, **cfg: object) -> list[str]:
    r: Result = run_scenario(load_bundled(board), resolve(vid).variant, BootConfig(**cfg))
    return [f.title for f in r.findings]


def test_snapshot_of_dev_driver_closes_the_w4_toctou() -> None:
    """W4: dev->driver is stored between the hook's entry read and the 4/4 guard.
    Re-reading it (twice) faults on the stale drv; the READ_ONCE snapshot does not."""
    once = FIX.with_values("snap", "snap", **{"platform_dma_configure.driver_read": "once"})
    twice = run_scenario(chain_board(), FIX, BootConfig(schedule=race_schedule("W4"), **RACE))
    snap = run_scenario(chain_board(), once, BootConfig(schedule=race_schedule("W4"), **RACE))
    assert "BUG: unable to handle kernel paging request in platform_dma_configure" in \
        [f.title for f in twice.findings]
    assert not [f for f in snap.findings if f.title.startswith("BUG")]


def test_replay_under_the_probe_lock_deadlocks() -> None:
    assert _titles("V614") == []
    assert "possible deadlock in iommu_probe_device" in \
        _titles("V614+of_iommu_configure.replay_lock=hold")


def test_dma_configure_before_dev_iommu_get_probes_twice() -> None:
    """Above dev_iommu_get() the replay runs with dev->iommu NULL, so
    of_iommu_configure() takes the device for a non-IOMMU-path caller and replays."""
    fixed = "NEXT+rk_iommu_probe.dma_dev=before_register"
    assert _titles(fixed) == []
    moved = _titles(fixed + "+iommu_init_device.dma_configure_position=before_dev_iommu_get")
    assert "iommu: device probed twice in __iommu_probe_device" in moved


def test_warn_before_the_replay_fires_on_the_registration_walk() -> None:
    fixed = "NEXT+rk_iommu_probe.dma_dev=before_register"
    moved = _titles(fixed + "+iommu_init_device.late_probe_warn_position=before_dma_configure")
    assert moved and all(t == "WARNING in __iommu_probe_device" for t in moved)


def test_warn_once_reports_the_first_late_probe_only() -> None:
    moved = "NEXT+rk_iommu_probe.dma_dev=before_register" \
            "+iommu_init_device.late_probe_warn_position=before_dma_configure"
    each = _titles(moved)
    once = _titles(moved + "+iommu_init_device.late_probe_warn_form=dev_WARN_ONCE")
    assert len(each) > 1 and once == each[:1]


@pytest.mark.parametrize("owner", ["client", "iommu_dev"])
def test_rockchip_allocation_owner_avoids_the_null_dma_dev(owner: str) -> None:
    assert _titles("NEXT") == ["BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"]
    assert not [t for t in _titles(f"NEXT+rk_iommu_of_xlate.alloc_owner={owner}")
                if "rk_iommu_of_xlate" in t]


def test_every_site_has_a_neighbour_of_next() -> None:
    """Sites declared anywhere (harness.variant, harness.sites.<driver>) get
    mutations without the space knowing them by name."""
    mutated = {m.mutations[-1].site for m in space("NEXT", 1)}
    assert mutated == set(SITES)


def test_inert_sites_are_not_mutated_and_do_not_split_variants() -> None:
    # V614 makes no dma_configure call: its lock and position choices have no C, no effect
    v614_sites = {m.mutations[-1].site for m in space("V614", 1)}
    assert "iommu_init_device.dma_configure_lock" not in v614_sites
    assert "platform_dma_configure.driver_read" not in v614_sites  # guard has no dev->driver
    a = V614.with_values("a", "", **{"iommu_init_device.dma_configure_lock": "hold"})
    assert a.fingerprint() != V614.fingerprint() and semantic_key(a) == semantic_key(V614)
    b = NEXT.with_values("b", "", **{"iommu_init_device.dma_configure_lock": "hold"})
    assert semantic_key(b) != semantic_key(NEXT)
