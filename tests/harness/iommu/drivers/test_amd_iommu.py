"""AMD-Vi (harness/iommu/drivers/amd_iommu.py) on the hand-written IVRS
platform (corpus/examples/x86-amdvi-example.json), and pci_device_group."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.board import Board
from harness.errno import EINVAL, ENODEV
from harness.iommu.drivers.amd_iommu import AmdState, amd_iommu_ops
from harness.iommu.iommu import IommuCoreState
from harness.run import run_scenario
from harness.variant import NEXT, V614

from .conftest import Run, example

IOMMU_FNS = ["0000:00:00.2", "0000:40:00.2"]
OWNED = ["0000:00:00.0", "0000:00:01.1", "0000:00:14.0", "0000:00:14.3", "0000:01:00.0",
         "0000:04:00.0", "0000:04:00.1", "0000:40:00.0", "0000:41:00.0", "0000:41:00.1",
         "0000:41:00.2", "AMDI0010:00", "AMDI0010:01"]


@pytest.fixture
def amd() -> Board:
    return example("x86-amdvi-example")


def test_v614_owned_devices_grouped_before_their_drivers_probe(boot_recorded: Callable[..., Run],
                                                               amd: Board) -> None:
    r = boot_recorded(amd, V614, amd_iommu_ops)
    # AMDI0010 (i2c-designware-platdrv) registers at subsys_initcall (L393),
    # before amd_iommu_init at rootfs_initcall: bound first, grouped by the
    # registration walk under its driver (invariant 6)
    early = {"AMDI0010:00", "AMDI0010:01"}
    assert {f.device for f in r.findings} == early
    assert {f.invariant for f in r.findings} == {6}
    for name in early:
        assert r.at_probe[name].group is None and r.group(name) is not None
    for name in set(OWNED) - early:
        at = r.at_probe[name]
        assert at.group is not None and at.default_domain and at.owner_cnt >= 1, name
    # beyond last_bdf (0x7fff): check_device() is false
    assert set(r.results("0000:c1:00.0")) == {-ENODEV} and r.group("0000:c1:00.0") is None
    # no IVRS ACPI HID entry: get_acpihid_device_id() -EINVAL, check_device() false
    for name in ("AMDI0030:00", "PNP0C14:00"):
        assert set(r.results(name)) == {-ENODEV} and r.group(name) is None
        assert r.bound(name)


def test_iommu_functions_are_grouped_but_never_bound(boot_recorded: Callable[..., Run],
                                                     amd: Board) -> None:
    r = boot_recorded(amd, V614, amd_iommu_ops)
    for name in IOMMU_FNS:
        # iommu_init_pci(): match_driver = false
        assert not r.bound(name) and name not in r.at_probe
        assert r.group(name) is not None


def test_second_ivhd_devices_wait_for_their_own_registration(boot_recorded: Callable[..., Run],
                                                             amd: Board) -> None:
    r = boot_recorded(amd, V614, amd_iommu_ops)
    listed = r.boot.kernel.state(IommuCoreState).iommu_device_list
    amd_list = r.boot.kernel.state(AmdState).amd_iommu_list
    assert listed == [a.iommu for a in amd_list]
    assert [a.dev.dev.init_name for a in amd_list] == IOMMU_FNS
    assert r.results("0000:41:00.0") == [-ENODEV, 0]  # "Not registered yet?"
    assert r.dev("0000:41:00.0").iommu.iommu_dev is listed[1]
    assert r.dev("0000:01:00.0").iommu.iommu_dev is listed[0]


def test_groups(boot_recorded: Callable[..., Run], amd: Board) -> None:
    r = boot_recorded(amd, V614, amd_iommu_ops)
    g = r.group
    assert g("AMDI0010:00") is g("AMDI0010:01")  # acpihid_device_group: same devid
    assert g("0000:00:14.0") is g("0000:00:14.3")  # multi-function, no ACS
    assert g("0000:04:00.0") is g("0000:04:00.1")  # DMA alias (Ricoh quirk)
    assert g("0000:41:00.0") is g("0000:41:00.1")
    assert g("0000:41:00.2") is not g("0000:41:00.0")  # ACS-isolated function
    distinct = {id(g(n)) for n in OWNED + IOMMU_FNS}
    assert len(distinct) == len(OWNED) + len(IOMMU_FNS) - 4


def test_group_reused_whatever_the_probe_order(amd: Board, boot_recorded: Callable[..., Run]) -> None:
    # the aliasing function first on the bus: the alias search still joins them
    amd.extra_devices.sort(key=lambda e: e.name != "0000:04:00.1")
    r = boot_recorded(amd, V614, amd_iommu_ops)
    assert r.group("0000:04:00.0") is r.group("0000:04:00.1")


def test_missing_iommu_pci_function_fails_init(amd: Board, boot_recorded: Callable[..., Run]) -> None:
    amd.extra_devices = [e for e in amd.extra_devices if e.name != "0000:40:00.2"]
    r = boot_recorded(amd, V614, amd_iommu_ops)
    assert any("IOMMU1: Failed to initialize IOMMU Hardware (error=-19)" in ln
               for ln in r.boot.kernel.log)
    assert len(r.boot.kernel.state(IommuCoreState).iommu_device_list) == 1
    assert r.group("0000:41:00.0") is None and r.group("0000:01:00.0") is not None


def test_acpi_hid_without_companion_and_unknown_hid() -> None:
    from harness.iommu.drivers.amd_iommu import get_acpihid_device_id
    from harness.kernel import Kernel, set_kernel

    class D:
        fwnode = None

    set_kernel(Kernel())
    try:
        assert get_acpihid_device_id(D())[0] == -ENODEV
        from harness.of.node import fwnode_handle

        d = D()
        d.fwnode = fwnode_handle("acpi", name="X:00")  # type: ignore[assignment]
        assert get_acpihid_device_id(d)[0] == -EINVAL
    finally:
        set_kernel(None)


@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_runs_under_both_variants(amd: Board, v: object) -> None:
    res = run_scenario(amd, v)  # type: ignore[arg-type]
    assert not res.panicked and res.stats["registered_instances"] == 2


def test_owns_names_are_acpi_hid_entries_on_the_iommu_devid(amd: Board,
                                                           boot_recorded: Callable[..., Run]) -> None:
    amd.acpi_iommus[0].owns = ("AMDI0030:00",)
    r = boot_recorded(amd, V614, amd_iommu_ops)
    assert r.results("AMDI0030:00") == [0] and r.group("AMDI0030:00") is not None
    assert "AMDI0030:00" not in {f.device for f in r.findings}
