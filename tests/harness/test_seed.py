"""The seed: the RK3568 oops under NEXT and a clean boot under V614, from the
real rk3568-odroid-m1 device tree (as .dts, .dtb and saved platform JSON)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.dt import dts_to_dtb, load_platform_file
from harness.board import Board
from harness.findings import OOPS
from harness.klog import render_result
from harness.run import run_scenario
from harness.variant import NEXT, V614
from tests.golden import check_golden

pytestmark = pytest.mark.kernel_tree

BOARD = "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts"
GOLDEN = Path(__file__).parent / "golden"

# The seed's call trace (Marek Szyprowski's report), innermost first.
SEED_TRACE = [
    "rk_iommu_of_xlate", "of_iommu_xlate", "of_iommu_configure", "of_dma_configure_id",
    "platform_dma_configure", "__iommu_probe_device", "probe_iommu_group", "bus_for_each_dev",
    "iommu_device_register", "rk_iommu_probe", "platform_probe", "really_probe",
]


@pytest.fixture(scope="module")
def platforms(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Board]:
    dts = kernel_tree / BOARD
    tmp = tmp_path_factory.mktemp("seed")
    dtb = tmp / "rk3568-odroid-m1.dtb"
    dtb.write_bytes(dts_to_dtb(dts))
    from_dts = load_platform_file(dts)
    js = tmp / "rk3568-odroid-m1.json"
    from_dts.save(js)
    return {"dts": from_dts, "dtb": load_platform_file(dtb), "json": load_platform_file(js)}


def _in_order(trace: list[str], wanted: list[str]) -> bool:
    it = iter(trace)
    return all(any(fn == w for fn in it) for w in wanted)


@pytest.mark.parametrize("form", ["dts", "dtb", "json"])
def test_next_oopses_in_rk_iommu_of_xlate(platforms: dict[str, Board], form: str) -> None:
    r = run_scenario(platforms[form], NEXT)
    oopses = [f for f in r.findings if f.kind == OOPS]
    assert len(oopses) == 1, r.findings
    f = oopses[0]
    assert f.title == "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
    assert f.function == "rk_iommu_of_xlate"
    # devm_kmalloc() against the NULL dma_dev faults first
    assert f.trace[0] == "devm_kmalloc"
    assert _in_order(f.trace, SEED_TRACE), f.trace
    assert f.trace[-4:] == ["do_one_initcall", "kernel_init_freeable", "kernel_init", "ret_from_fork"]
    assert "rk_iommu_driver_init" in f.trace
    # the walk reached a client of the instance being registered
    assert f.device is not None and f.device != "fdea0800.iommu"
    assert r.panicked


@pytest.mark.parametrize("form", ["dts", "dtb", "json"])
def test_v614_boots_with_every_rockchip_client_grouped(platforms: dict[str, Board], form: str) -> None:
    p = platforms[form]
    r = run_scenario(p, V614)
    assert r.findings == []
    st = r.stats
    rk = [n for n in p.nodes if "rockchip,rk3568-iommu" in n.compatible and n.available()]
    assert st["iommu_instances"] == len(rk) == st["registered_instances"]
    assert st["clients"] > 0 and st["grouped_clients"] == st["clients"]
    # one group per instance (generic_single_device_group)
    assert st["groups"] == len(rk)
    # every device but the PCIe root bus's 00:00.0, which the scan finds and
    # no driver in the model matches (it has no ID: the DT does not name it)
    assert st["deferred"] == 0 and st["bound_drivers"] == st["devices"] - 1


def test_forms_agree(platforms: dict[str, Board]) -> None:
    assert platforms["dts"].to_json()["nodes"] == platforms["dtb"].to_json()["nodes"]
    assert platforms["dts"].to_json()["nodes"] == platforms["json"].to_json()["nodes"]


def test_golden_kernel_log(platforms: dict[str, Board]) -> None:
    """The oops text is pinned: regenerate with PROBEFUZZ_REGEN_GOLDEN=1 (not on CI)."""
    text = render_result(run_scenario(platforms["dts"], NEXT), platforms["dts"].model)
    check_golden(GOLDEN / "rk3568-odroid-m1.NEXT.log", text)
