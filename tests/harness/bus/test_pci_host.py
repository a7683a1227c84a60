"""harness/bus/pci_host.py: the root bus scan behind a DT host bridge, its
fixup phases, rescan, and the declared-function syntax."""

from __future__ import annotations

import pytest

from corpus.bundled import load_bundled
from harness.board import Board, BoardError, IommuMapEntry, Node
from harness.boot import RESCAN, Boot, BootConfig
from harness.bus.pci_host import root_bus_functions
from harness.bus.pci_spec import PciFunction, parse_pci_spec
from harness.of.node import DeviceTree
from harness.variant import NEXT, V614


def test_parse_pci_spec() -> None:
    assert parse_pci_spec("01:00.0") == PciFunction(0, 0x100)
    assert parse_pci_spec("0002:03:1f.7=pci1b36,0010") == PciFunction(2, 0x3FF, "pci1b36,0010")
    assert parse_pci_spec("hotplug:02:00.0").hotplug
    assert PciFunction(0, 0x3FF).name == "0000:03:1f.7"


@pytest.mark.parametrize("bad", ["1:2", "01:00.8", "01:20.0", "hotplug:", "x:01:00.0", "01:00.0="])
def test_parse_pci_spec_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="PCI function"):
        parse_pci_spec(bad)


def _host(**kw: object) -> Board:
    return Board("t", nodes=[
        Node("/"), Node("/smmu@0", compatible=("arm,smmu-v3",), iommu_cells=1),
        Node("/pcie@1", compatible=("pci-host-ecam-generic",),
             props={"device_type": "pci", "bus-range": [0, 3]}, **kw),  # type: ignore[arg-type]
        Node("/pcie@1/nic@2,0", compatible=("pci8086,10d3",), props={"reg": [0x1000, 0, 0, 0, 0]}),
        Node("/pcie@1/off@3,0", compatible=("pci8086,10d3",), status="disabled",
             props={"reg": [0x1800, 0, 0, 0, 0]})])


def test_root_bus_functions_bridge_dt_implied_declared() -> None:
    p = _host(iommu_map=(IommuMapEntry(0x20, "/smmu@0", 0x20, 1), IommuMapEntry(0x28, "/smmu@0", 0x28, 8),
                         IommuMapEntry(0x300, "/smmu@0", 0x300, 1),
                         IommuMapEntry(0x0, "/smmu@0", 0, 0x10000)))
    np = DeviceTree(p).find("/pcie@1")
    found = root_bus_functions(np, 0, [parse_pci_spec("01:00.0=pci1af4,1041"),
                                       parse_pci_spec("0001:01:00.0=pci1af4,1041")])
    assert [(f.name, f.compatible) for f in found] == [
        ("0000:00:00.0", ""),  # the host bridge function: no DT node, no ID
        ("0000:00:02.0", "pci8086,10d3"),  # DT-listed (the disabled one is not)
        ("0000:00:04.0", ""),  # the 1-RID root-bus map entry (not the 8-RID one)
        ("0000:01:00.0", "pci1af4,1041")]  # declared for domain 0 only; bus 3's entry
    # and the full-range map imply nothing


def test_root_bus_functions_without_maps_or_nodes_is_the_bridge_function() -> None:
    p = Board("t", nodes=[Node("/"), Node("/pcie@1", props={"device_type": "pci"})])
    assert [f.name for f in root_bus_functions(DeviceTree(p).find("/pcie@1"), 0, [])] == ["0000:00:00.0"]


def _pci(b: Boot) -> dict[str, object]:
    return {d.init_name: d for d in b.devices() if d.bus.name == "pci"}


def test_fvp_v614_groups_declared_endpoints_not_the_driverless_bridge_function() -> None:
    """fvp-base-revc's SMMUv3 serves the bridge through "iommu-map" <0 &smmu 0 0x10000>.
    V614 parses a PCI function's fwspec in its bind (pci_dma_configure): the
    endpoints with a driver are grouped, 00:00.0 (no driver) is not; NEXT's
    iommu_probe_device() parses for every function."""
    cfg = BootConfig(pci=("01:00.0=pci1af4,1041", "02:00.0=pci1af4,1042"))
    b = Boot(load_bundled("fvp-base-revc"), V614, cfg)
    k = b.run()
    fns = _pci(b)
    assert k.findings == [] and set(fns) == {"0000:00:00.0", "0000:01:00.0", "0000:02:00.0"}
    assert fns["0000:00:00.0"].iommu_group is None and fns["0000:00:00.0"].driver is None
    for n in ("0000:01:00.0", "0000:02:00.0"):
        d = fns[n]
        assert d.driver is not None and d.iommu_group is not None
        assert d.iommu.iommu_dev.dev.of_node.full_name == "/iommu@2b400000"
    assert fns["0000:01:00.0"].iommu_group is not fns["0000:02:00.0"].iommu_group
    bn = Boot(load_bundled("fvp-base-revc"), NEXT, cfg)
    bn.run()
    assert all(d.iommu_group is not None for d in _pci(bn).values())


def test_header_fixup_dma_alias_reaches_the_iommu_driver() -> None:
    # quirk_dma_func0_alias (quirks.c:4285, Ricoh e832, HEADER phase): function 1
    # DMAs as function 0, so of_iommu_configure() maps both requester IDs; the
    # SMMUv3 already has stream 0x100 for function 0 and refuses the second
    # master (arm-smmu-v3.c:3260-3268, "stream %u already in tree"): no group
    cfg = BootConfig(pci=("01:00.0=pci1180,e832", "01:00.1=pci1180,e832"))
    b = Boot(load_bundled("fvp-base-revc"), V614, cfg)
    k = b.run()
    f0, f1 = _pci(b)["0000:01:00.0"], _pci(b)["0000:01:00.1"]
    assert f1.container.dma_alias_mask == [0x100] and f0.container.dma_alias_mask == []
    assert f0.iommu_group is not None and f1.iommu_group is None
    assert any("stream 256 already in tree" in line for line in k.log)


def test_no_fixup_for_other_ids() -> None:
    cfg = BootConfig(pci=("01:00.0=pci1af4,1041", "01:00.1=pci1af4,1041"))
    b = Boot(load_bundled("fvp-base-revc"), V614, cfg)
    b.run()
    f0, f1 = _pci(b)["0000:01:00.0"], _pci(b)["0000:01:00.1"]
    assert f1.container.dma_alias_mask == []
    # a multi-function device without ACS controls (DT requests ACS after the
    # scan): one group for the slot (iommu.c pci_device_group)
    assert f0.container.multifunction and f0.iommu_group is f1.iommu_group is not None


def test_hotplug_function_appears_at_rescan_with_acs() -> None:
    """A function behind a hot-plug slot is absent at boot; the rescan event
    adds it after of_iommu_configure() requested ACS, so pci_device_add()
    enables its controls (pci.c:1104) -- the boot-time functions stay without."""
    spec = ("01:00.0=pci1af4,1041", "hotplug:02:00.0=pci1af4,1041")
    boot = Boot(load_bundled("fvp-base-revc"), V614, BootConfig(pci=spec))
    boot.run()
    assert "0000:02:00.0" not in _pci(boot)
    cfg = BootConfig(pci=spec, events=((RESCAN, ""),))
    b = Boot(load_bundled("fvp-base-revc"), V614, cfg)
    k = b.run()
    hot = _pci(b)["0000:02:00.0"]
    assert k.findings == [] and hot.driver is not None and hot.iommu_group is not None
    assert b.kernel.globals["pci_acs_enable"]


def test_platform_pci_field_round_trips_and_is_validated() -> None:
    p = load_bundled("fvp-base-revc")
    p.pci = ("01:00.0=pci1af4,1041",)
    assert Board.from_json(p.to_json()).pci == p.pci
    d = p.to_json()
    d["pci"] = ["01:00.9"]
    with pytest.raises(BoardError, match=r"pci\[0\]"):
        Board.from_json(d)
