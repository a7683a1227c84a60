"""Intel VT-d (harness/iommu/drivers/intel_iommu.py) on the hand-written
x86 DMAR platform (corpus/examples/x86-vtd-example.json)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.board import AcpiIommu, Board, BoardError, ExtraDevice, ScopeEntry
from harness.boot import ABSENT, BootConfig, DriverConfig
from harness.errno import ENODEV
from harness.iommu.drivers import all_drivers
from harness.iommu.drivers.intel_iommu import intel_iommu_ops
from harness.iommu.iommu import IommuCoreState
from harness.run import run_scenario
from harness.variant import NEXT, V614, make_variant

from .conftest import Run, example

OWNED_PCI = ["0000:00:00.0", "0000:00:02.0", "0000:00:0e.0", "0000:00:14.0", "0000:00:16.0",
             "0000:00:17.0", "0000:00:1c.0", "0000:00:1f.0", "0000:00:1f.3", "0000:00:1f.4",
             "0000:00:1f.5", "0000:01:00.0"]
NOT_OWNED = ["10000:e1:00.0", "INTC1055:00", "PNP0C14:00"]


@pytest.fixture
def vtd() -> Board:
    return example("x86-vtd-example")


def test_spec_is_an_init_at_rootfs_not_a_platform_driver() -> None:
    spec = next(s for s in all_drivers() if s.name == "intel-iommu")
    assert spec.make_driver is None and spec.init is not None and spec.initcall == "rootfs"


def test_v614_owned_devices_grouped_before_their_drivers_probe(boot_recorded: Callable[..., Run],
                                                               vtd: Board) -> None:
    r = boot_recorded(vtd, V614, intel_iommu_ops)
    assert {f.device for f in r.findings} == {"INT3432:00"}  # bound first: the next test
    for name in OWNED_PCI:
        at = r.at_probe[name]
        assert at.group is not None and at.default_domain and at.owner_cnt >= 1, name
        assert r.bound(name)
    for name in NOT_OWNED:
        assert r.at_probe[name].group is None and r.bound(name), name
        assert r.dev(name).iommu is None
        # probe_device ran (NULL-fwnode lookup) and said -ENODEV, quietly
        assert r.results(name) and set(r.results(name)) == {-ENODEV}, name


def test_v614_i2c_designware_binds_before_the_iommu_registers(
        boot_recorded: Callable[..., Run], vtd: Board) -> None:
    """The real initcall order: i2c-designware-platdrv registers at subsys_initcall
    (drivers/i2c/busses/i2c-designware-platdrv.c:393), intel_iommu_init runs at
    rootfs_initcall (pci_iommu_init): INT3432:00 is bound without a group, then
    the unit's registration walk groups it and switches its DMA ops under the
    bound driver (iommu.c:583 iommu_setup_dma_ops), with no DMA-API owner
    count (really_probe's iommu_device_use_default_domain found no group)."""
    r = boot_recorded(vtd, V614, intel_iommu_ops)
    at = r.at_probe["INT3432:00"]
    assert at.group is None and r.bound("INT3432:00")
    assert r.group("INT3432:00") is not None and r.group("INT3432:00").owner_cnt == 0
    assert {(f.invariant, f.title) for f in r.findings} == {
        (6, "iommu: DMA ops changed under a bound driver in iommu_setup_dma_ops"),
        (6, "iommu: bound device without default domain")}


def test_device_level_i2c_driver_binds_after_the_iommu(
        boot_recorded: Callable[..., Run], vtd: Board) -> None:
    # negative control: the same driver at device level (a scenario input) is
    # grouped before its probe like the PCI functions, no finding
    cfg = BootConfig(drivers={"INT3432": DriverConfig(initcall="device")})
    r = boot_recorded(vtd, V614, intel_iommu_ops, cfg)
    assert r.findings == [] and r.at_probe["INT3432:00"].group is not None


def test_units_register_in_dmar_list_order_and_own_their_scopes(boot_recorded: Callable[..., Run],
                                                                vtd: Board) -> None:
    r = boot_recorded(vtd, V614, intel_iommu_ops)
    # dmar_register_drhd_unit(): non-INCLUDE_ALL units at the head (reverse
    # table order), INCLUDE_ALL at the tail; the absent-device unit is ignored
    listed = r.boot.kernel.state(IommuCoreState).iommu_device_list
    assert len(listed) == 3
    inst = {n: r.dev(n).iommu.iommu_dev for n in OWNED_PCI + ["INT3432:00"]}
    rp, gfx, catch_all = listed
    assert inst["0000:00:1c.0"] is rp and inst["0000:01:00.0"] is rp  # bridge scope [1, 1]
    assert inst["0000:00:02.0"] is gfx
    assert inst["0000:00:14.0"] is catch_all and inst["INT3432:00"] is catch_all
    # the first unit's walk reached the iGPU before its own unit was
    # registered: -ENODEV ("iommu->iommu.ops" still NULL), then its unit's walk
    assert r.results("0000:00:02.0") == [-ENODEV, 0]
    assert r.results("0000:00:1c.0") == [0]


def test_non_acs_functions_of_one_device_share_a_group(boot_recorded: Callable[..., Run],
                                                       vtd: Board) -> None:
    r = boot_recorded(vtd, V614, intel_iommu_ops)
    fns = [r.group(n) for n in ("0000:00:1f.0", "0000:00:1f.3", "0000:00:1f.4", "0000:00:1f.5")]
    assert all(g is fns[0] for g in fns)
    others = {id(r.group(n)) for n in OWNED_PCI if not n.startswith("0000:00:1f.")}
    assert len(others) == len(OWNED_PCI) - 4 and id(fns[0]) not in others


def test_acs_isolates_functions(vtd: Board, boot_recorded: Callable[..., Run]) -> None:
    for e in vtd.extra_devices:
        if e.name.startswith("0000:00:1f."):
            e.acs = True
    r = boot_recorded(vtd, V614, intel_iommu_ops)
    groups = {id(r.group(n)) for n in ("0000:00:1f.0", "0000:00:1f.3", "0000:00:1f.4", "0000:00:1f.5")}
    assert len(groups) == 4


@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_runs_under_both_variants(vtd: Board, v: object) -> None:
    res = run_scenario(vtd, v)  # type: ignore[arg-type]
    assert not res.panicked
    assert res.stats["registered_instances"] == 3 and res.stats["bound_drivers"] == 16


def test_stats_count_described_units_and_owned_clients(vtd: Board) -> None:
    st = run_scenario(vtd, V614).stats
    assert st["iommu_instances"] == 4 and st["registered_instances"] == 3  # one DRHD ignored
    assert st["clients"] == st["grouped_clients"] == len(OWNED_PCI) + 1


def test_absent_driver_registers_nothing(vtd: Board, boot_recorded: Callable[..., Run]) -> None:
    r = boot_recorded(vtd, V614, intel_iommu_ops, BootConfig(iommu_drivers={"intel-iommu": ABSENT}))
    assert r.findings == [] and r.probe_device == []
    assert all(d.iommu_group is None for d in r.boot.devices())


def test_no_dmar_table_on_a_dt_board() -> None:
    p = Board(name="dt", nodes=[])
    assert run_scenario(p, V614).stats["registered_instances"] == 0


def _one_unit(scope: tuple[ScopeEntry, ...], include_all: bool = False) -> Board:
    return Board(
        name="t", firmware="acpi",
        extra_devices=[ExtraDevice("0000:00:01.0", "pci", rid=0x08, compatible=("pci1,1",)),
                       ExtraDevice("0000:02:00.0", "pci", rid=0x200, compatible=("pci1,2",)),
                       ExtraDevice("0001:00:01.0", "pci", rid=0x08, compatible=("pci1,3",), segment=1)],
        acpi_iommus=[AcpiIommu("u", "intel-iommu", "null", scope=scope, include_all=include_all)])


def test_include_all_covers_only_its_segment(boot_recorded: Callable[..., Run]) -> None:
    r = boot_recorded(_one_unit((), include_all=True), V614, intel_iommu_ops)
    assert r.group("0000:00:01.0") is not None and r.group("0000:02:00.0") is not None
    assert r.group("0001:00:01.0") is None and r.findings == []


def test_scope_entry_endpoint_only(boot_recorded: Callable[..., Run]) -> None:
    r = boot_recorded(_one_unit((ScopeEntry(pci=0x08),)), V614, intel_iommu_ops)
    assert r.group("0000:00:01.0") is not None
    assert r.group("0000:02:00.0") is None and r.group("0001:00:01.0") is None


def test_unit_with_no_present_device_is_ignored(boot_recorded: Callable[..., Run]) -> None:
    r = boot_recorded(_one_unit((ScopeEntry(pci=0x10),)), V614, intel_iommu_ops)
    assert r.probe_device == [] and all(d.iommu_group is None for d in r.boot.devices())


def test_scope_json_round_trip_and_errors(vtd: Board) -> None:
    again = Board.from_json(vtd.to_json())
    assert again.acpi_iommus == vtd.acpi_iommus and again.extra_devices == vtd.extra_devices
    bad = vtd.to_json()
    bad["acpi_iommus"][0]["scope"] = [{"pci": 1, "pci_range": [1, 2]}]
    with pytest.raises(BoardError, match=r"acpi_iommus\[0\]\.scope\[0\]: expected exactly one"):
        Board.from_json(bad, "x.json")
    bad["acpi_iommus"][0]["scope"] = [{"pci_range": [3, 2]}]
    with pytest.raises(BoardError, match="first is above last"):
        Board.from_json(bad, "x.json")
    bad["acpi_iommus"][0]["scope"] = [{"bridge": [1, 2]}]
    with pytest.raises(BoardError, match="only a 'pci' entry can be a bridge|expected exactly one"):
        Board.from_json(bad, "x.json")


def test_platform_format_doc_example_runs() -> None:
    import json
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[4] / "docs" / "platform-format.md").read_text()
    block = doc.split("Minimal Intel example")[1].split("```json")[1].split("```")[0]
    res = run_scenario(Board.from_json(json.loads(block), "doc"), V614)
    assert res.findings == [] and res.stats["registered_instances"] == 1 and res.stats["groups"] == 1


def test_tree_iommu_level_from_the_variant(boot_recorded: Callable[..., Run], vtd: Board) -> None:
    """A tree whose VT-d init ran at subsys_initcall (Variant.initcalls, as a
    tree profile supplies it): the unit registers before i2c-designware's
    subsys registration within that level, so INT3432:00 is grouped before
    its probe and the findings of the rootfs order are gone."""
    v = make_variant("tree", "", V614.as_dict(), {"intel-iommu": "subsys"})
    r = boot_recorded(vtd, v, intel_iommu_ops)
    assert r.findings == [] and r.at_probe["INT3432:00"].group is not None
    # and a client level from the tree: INT3432's driver at device level
    v = make_variant("tree", "", V614.as_dict(), {"INT3432": "device"})
    assert boot_recorded(vtd, v, intel_iommu_ops).findings == []
