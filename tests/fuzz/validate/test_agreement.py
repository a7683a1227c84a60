"""The model against the real boots captured in tests/data/validate: QEMU's
DTB for the same machine, the model with the tree's facts, the captured
console -- every device's group and every finding title must agree.  A model
change that breaks agreement with the real kernel fails here, without a boot."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.validate import model, qemu
from fuzz.validate.compare import compare
from fuzz.validate.console import parse_console
from harness.iommu.drivers import arm_smmu_v3
from mutators.space import resolve

DATA = Path(__file__).resolve().parents[2] / "data" / "validate"
DEVICES = ["virtio-rng-pci", "virtio-balloon-pci", "virtio-serial-pci", "pci-testdev"]


@pytest.fixture(scope="module")
def facts(kernel_tree: Path) -> dict[str, str]:
    return model.tree_facts((kernel_tree / model.SMMU_V3_SOURCE).read_text())


@pytest.mark.kernel_tree
def test_the_612_tree_looks_smmus_up_among_bound_devices(facts: dict[str, str]) -> None:
    assert facts == {arm_smmu_v3.LOOKUP: arm_smmu_v3.LOOKUP_DRIVER}
    v614_style = ("struct arm_smmu_device *arm_smmu_get_by_fwnode(struct fwnode_handle *fwnode)\n{\n"
                  "\tstruct device *dev = bus_find_device_by_fwnode(&platform_bus_type, fwnode);\n}\n")
    assert model.tree_facts(v614_style) == {}


@pytest.mark.kernel_tree
@pytest.mark.parametrize("log, machine, variant", [
    ("virt-smmuv3-V614.log", qemu.SMMUV3, "V614"),
    ("virt-smmuv3-NEXT.log", qemu.SMMUV3, "NEXT"),
    ("virt-smmuv3-NEXT-rk.log", qemu.SMMUV3, "NEXT+rk_iommu_probe.dma_dev:=before_register"),
    ("virt-viommu-V614.log", qemu.VIRTIO_IOMMU, "V614"),
    ("virt-viommu-NEXT.log", qemu.VIRTIO_IOMMU, "NEXT"),
])
def test_model_agrees_with_the_captured_boot(log: str, machine: str, variant: str,
                                             facts: dict[str, str], tmp_path: Path) -> None:
    m = qemu.machine(machine, DEVICES)
    dtb = tmp_path / "virt.dtb"
    qemu.dump_dtb(m, dtb)
    p = model.model_platform(dtb, m)
    run = model.run_model(p, resolve(variant).variant, model.boot_config(p, m, None), facts)
    c = compare(parse_console((DATA / log).read_text()), run,
                [f.name for f in m.all_functions()])
    assert c.agree, [r for r in c.devices + c.titles if not r.agree]  # type: ignore[operator]


@pytest.mark.kernel_tree
def test_with_the_v614_lookup_the_model_would_disagree(tmp_path: Path) -> None:
    # the mechanism matters: looking the SMMU up on the bus (v6.14) groups
    # every function at registration -- the host bridge and pci-testdev too,
    # no late probe -- which the 6.12 kernel does not do
    m = qemu.machine(qemu.SMMUV3, DEVICES)
    dtb = tmp_path / "virt.dtb"
    qemu.dump_dtb(m, dtb)
    p = model.model_platform(dtb, m)
    run = model.run_model(p, resolve("NEXT").variant, model.boot_config(p, m, None))
    c = compare(parse_console((DATA / "virt-smmuv3-NEXT.log").read_text()), run,
                [f.name for f in m.all_functions()])
    assert not c.agree
    assert run.group_of("0000:00:00.0") == ["0000:00:00.0"]
    assert [t.title for t in c.titles if not t.agree] == ["WARNING in __iommu_probe_device"]
