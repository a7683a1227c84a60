"""arm-smmu-v3 behind a DT PCI host bridge: fvp-base-revc (bundled), its
functions reached through the bridge's ``iommu-map``."""

from __future__ import annotations

from typing import Any

from corpus.bundled import load_bundled
from harness.board import Board, ExtraDevice
from harness.boot import Boot, BootConfig
from harness.variant import NEXT, V614

HOST = "/pci@40000000"


def fvp(*functions: ExtraDevice) -> Board:
    p = load_bundled("fvp-base-revc")
    p.extra_devices = list(functions)
    return p


def mf(rid: int, acs: bool) -> ExtraDevice:
    return ExtraDevice(f"0000:{rid >> 8:02x}:{(rid >> 3) & 0x1f:02x}.{rid & 7}", "pci", HOST, rid,
                       ("pci:ep",), multifunction=True, acs=acs)


def groups(p: Board, v: Any = V614) -> dict[str, Any]:
    b = Boot(p, v, BootConfig())
    b.run()
    return {d.init_name: d.iommu_group for d in b.devices() if d.init_name.startswith("0000:")}


def test_dt_requests_acs_after_the_scan_so_boot_functions_share_a_group() -> None:
    """of_iommu_configure() is the only DT caller of pci_request_acs()
    (of_iommu.c:146), at the first function's dma_configure, after
    pci_device_add() ran pci_acs_init() for every function of the scan
    (pci.c:3771, L1104): the capability is there, the controls stay off."""
    g = groups(fvp(mf(0x100, True), mf(0x101, True)))
    assert g["0000:01:00.0"] is not None and g["0000:01:00.0"] is g["0000:01:00.1"]


def test_functions_without_a_multifunction_slot_are_isolated() -> None:
    a = ExtraDevice("0000:01:00.0", "pci", HOST, 0x100, ("pci:ep",))
    b = ExtraDevice("0000:01:01.0", "pci", HOST, 0x108, ("pci:ep",))
    g = groups(fvp(a, b))
    assert None not in (g["0000:01:00.0"], g["0000:01:01.0"])
    assert g["0000:01:00.0"] is not g["0000:01:01.0"]


def _pci_groups(board: Board, v: Any) -> dict[str, Any]:
    b = Boot(board, v, BootConfig())
    k = b.run()
    assert k.findings == []
    return {d.init_name: d for d in b.devices() if d.bus.name == "pci"}


def test_qemu_virt_v614_groups_every_endpoint_behind_the_smmuv3() -> None:
    """The four -device functions bind (virtio-pci for the virtio ones) and
    their bind's pci_dma_configure() maps each RID through the bridge's
    "iommu-map" to the SMMUv3; the host bridge function 00:00.0 has no driver."""
    fns = _pci_groups(load_bundled("qemu-virt-smmuv3"), V614)
    eps = ["0000:00:01.0", "0000:00:02.0", "0000:00:03.0", "0000:00:04.0"]
    assert sorted(fns) == ["0000:00:00.0", *eps]
    for n in eps:
        d = fns[n]
        assert d.driver is not None and d.iommu_group is not None, n
        assert d.iommu.iommu_dev.dev.of_node.full_name == "/smmuv3@9050000"
        assert d.iommu.fwspec.ids == [d.container.rid]
    assert len({id(fns[n].iommu_group) for n in eps}) == 4  # single-function slots
    assert fns["0000:00:00.0"].iommu_group is None


def test_qemu_virt_next_also_groups_the_driverless_bridge_function() -> None:
    """NEXT's iommu_probe_device() runs dma_configure itself (the registration
    walk), so a function without a driver gets its fwspec and group too."""
    fns = _pci_groups(load_bundled("qemu-virt-smmuv3"), NEXT)
    assert all(d.iommu_group is not None for d in fns.values())
    assert fns["0000:00:00.0"].driver is None
