"""virt machines: slots, QEMU command lines, the DTB QEMU hands the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.validate import qemu


def test_endpoints_take_slots_after_the_virtio_iommu() -> None:
    m = qemu.machine(qemu.VIRTIO_IOMMU, ["virtio-rng-pci", "pci-testdev"])
    assert [(f.qdev, f.name, f.rid) for f in m.all_functions()] == [
        ("gpex-pcihost", "0000:00:00.0", 0),
        ("virtio-iommu-pci", "0000:00:01.0", 8),
        ("virtio-rng-pci", "0000:00:02.0", 16),
        ("pci-testdev", "0000:00:03.0", 24)]
    assert [f.compatible for f in m.all_functions()] == [
        "pci1b36,0008", "pci1af4,1057", "pci1af4,1005", "pci1b36,0005"]
    assert [f.driver for f in m.all_functions()] == [False, True, True, False]


def test_unknown_machine_or_device_or_too_many_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown machine 'smmuv2'"):
        qemu.machine("smmuv2", [])
    with pytest.raises(ValueError, match="unknown device 'e1000'"):
        qemu.machine(qemu.SMMUV3, ["virtio-rng-pci", "e1000"])
    with pytest.raises(ValueError, match="do not fit"):
        qemu.machine(qemu.SMMUV3, ["virtio-rng-pci"] * 32)


def test_command_line_pins_slots_and_backends() -> None:
    m = qemu.machine(qemu.SMMUV3, ["virtio-blk-pci", "virtio-rng-pci", "virtio-net-pci"])
    argv = qemu.qemu_argv(m, Path("/k/Image"), Path("/k/initrd"), console=Path("/k/log"))
    assert argv[:3] == ["qemu-system-aarch64", "-machine", "virt,gic-version=3,iommu=smmuv3"]
    assert argv[argv.index("-serial") + 1] == "file:/k/log"
    assert "-no-reboot" in argv and "-nodefaults" in argv
    devs = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    assert devs == ["virtio-blk-pci,addr=01.0,id=pf0-dev,drive=pf0",
                    "virtio-rng-pci,addr=02.0,id=pf1-dev",
                    "virtio-net-pci,addr=03.0,id=pf2-dev,romfile="]
    assert argv[argv.index("-blockdev") + 1] == "driver=null-co,node-name=pf0"
    assert "printk.devkmsg=on" in argv[argv.index("-append") + 1]


def test_qemu_dumps_the_smmu_and_the_virtio_iommu_machines(tmp_path: Path) -> None:
    # the real QEMU: what the model will boot is what the kernel gets
    smmu, viommu = tmp_path / "smmu.dtb", tmp_path / "viommu.dtb"
    qemu.dump_dtb(qemu.machine(qemu.SMMUV3, ["virtio-rng-pci"]), smmu)
    qemu.dump_dtb(qemu.machine(qemu.VIRTIO_IOMMU, ["virtio-rng-pci"]), viommu)
    s, v = smmu.read_bytes(), viommu.read_bytes()
    assert s[:4] == v[:4] == b"\xd0\x0d\xfe\xed"
    assert b"arm,smmu-v3\0" in s and b"virtio,pci-iommu\0" not in s
    assert b"virtio,pci-iommu\0" in v and b"arm,smmu-v3\0" not in v


def _running_with(marker: str) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker.encode() in (p / "cmdline").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                continue
    return pids


def test_a_boot_that_never_ends_is_cut_off_and_qemu_is_gone(tmp_path: Path) -> None:
    # an "Image" of zeros: the CPU takes undefined-instruction exceptions
    # forever and prints nothing
    image, initrd = tmp_path / "Image", tmp_path / "initrd"
    image.write_bytes(bytes(4096))
    initrd.write_bytes(b"")
    console = tmp_path / "console.log"
    b = qemu.boot(qemu.machine(qemu.SMMUV3, []), image, initrd, console, timeout=1.5)
    assert b.timed_out and b.returncode is None and b.console == ""
    assert _running_with(str(console)) == []
