"""corpus/qemu_virt.py: the bundled QEMU virt board is what QEMU dumps."""

from __future__ import annotations

from corpus.bundled import load_bundled
from corpus.qemu_virt import NAME, build, command


def test_bundled_board_is_qemus_dtb_plus_the_declared_functions() -> None:
    """Runs qemu-system-aarch64 (Debian qemu-system-arm): the SMMUv3 and the
    host bridge's iommu-map are QEMU's, the functions its -device lines'."""
    fresh, shipped = build(), load_bundled(NAME)
    assert fresh.pci == shipped.pci and len(shipped.pci) == 4
    keep = {n.path: n for n in shipped.nodes}
    smmu = next(n for n in fresh.nodes if n.compatible == ("arm,smmu-v3",))
    host = next(n for n in fresh.nodes if n.compatible == ("pci-host-ecam-generic",))
    assert keep[smmu.path] == smmu and keep[host.path] == host
    assert [(e.rid_base, e.iommu, e.length) for e in host.iommu_map] == [(0, smmu.path, 0x10000)]
    assert shipped.provenance["command"] == " ".join(command("virt.dtb"))
