"""The model's side: QEMU's DTB plus the command line's PCI functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.validate import model, qemu
from harness.boot import ABSENT
from harness.variant import NEXT, V614


@pytest.fixture(scope="module")
def smmu(tmp_path_factory: pytest.TempPathFactory) -> tuple[qemu.Machine, Path]:
    m = qemu.machine(qemu.SMMUV3, ["virtio-rng-pci", "virtio-balloon-pci", "pci-testdev"])
    dtb = tmp_path_factory.mktemp("smmu") / "virt.dtb"
    qemu.dump_dtb(m, dtb)
    return m, dtb


@pytest.fixture(scope="module")
def viommu(tmp_path_factory: pytest.TempPathFactory) -> tuple[qemu.Machine, Path]:
    m = qemu.machine(qemu.VIRTIO_IOMMU, ["virtio-rng-pci", "virtio-balloon-pci"])
    dtb = tmp_path_factory.mktemp("viommu") / "virt.dtb"
    qemu.dump_dtb(m, dtb)
    return m, dtb


def test_every_function_sits_behind_the_host_bridge(smmu: tuple[qemu.Machine, Path]) -> None:
    m, dtb = smmu
    p = model.model_platform(dtb, m)
    pci = [(e.name, e.rid, e.compatible) for e in p.extra_devices if e.bus == "pci"]
    assert pci == [("0000:00:00.0", 0, ("pci1b36,0008",)), ("0000:00:01.0", 8, ("pci1af4,1005",)),
                   ("0000:00:02.0", 16, ("pci1af4,1002",)), ("0000:00:03.0", 24, ("pci1b36,0005",))]
    assert {e.parent for e in p.extra_devices} == {"/pcie@10000000"}


def test_the_virtio_iommu_comes_from_its_dt_node(viommu: tuple[qemu.Machine, Path]) -> None:
    m, dtb = viommu
    p = model.model_platform(dtb, m)
    e = next(e for e in p.extra_devices if e.name == "0000:00:01.0")
    assert e.compatible == ("virtio,pci-iommu", "pci1af4,1057")


def test_drivers_the_kernel_lacks_are_absent(smmu: tuple[qemu.Machine, Path]) -> None:
    m, dtb = smmu
    p = model.model_platform(dtb, m)
    # an Image whose rodata names only the PL061's and fw-cfg's compatibles
    image = b"\0qemu,fw-cfg-mmio\0pci-host-ecam-generic\0arm,smmu-v3\0"
    cfg = model.boot_config(p, m, image)
    assert cfg.drivers["pci1b36,0008"].presence == ABSENT
    assert cfg.drivers["pci1b36,0005"].presence == ABSENT
    assert cfg.drivers["gpio-keys"].presence == ABSENT
    for present in ("qemu,fw-cfg-mmio", "pci-host-ecam-generic", "arm,pl061", "pci1af4,1005"):
        assert present not in cfg.drivers


def test_groups_are_reported_by_kernel_device_name(smmu: tuple[qemu.Machine, Path]) -> None:
    m, dtb = smmu
    p = model.model_platform(dtb, m)
    run = model.run_model(p, NEXT, model.boot_config(p, m, None))
    assert run.group_of("0000:00:01.0") == ["0000:00:01.0"]
    assert run.drivers["0000:00:01.0"] == "virtio-pci"
    assert run.drivers["0000:00:03.0"] is None  # pci-testdev: no driver
    # single-function endpoints on the root bus: one group each, whoever groups them
    v614 = model.run_model(p, V614, model.boot_config(p, m, None))
    for r in (run, v614):
        assert all(len(ms) == 1 for ms in r.groups.values())
