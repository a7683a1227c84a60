"""virtio-iommu (harness/iommu/drivers/virtio_iommu.py) and the virtio bus
(harness/bus/virtio.py) on the hand-written binding-example platforms."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness import findings as fnd
from harness.board import Board
from harness.bus.virtio import VIRTIO_ID_IOMMU, virtio_pci_id
from harness.errno import ENODEV
from harness.iommu.drivers.virtio_iommu import viommu_ops
from harness.iommu.iommu import IommuCoreState
from harness.run import run_scenario
from harness.variant import NEXT, V614

from .conftest import Run, example

PCI_ENDPOINTS = ["0000:00:00.0", "0000:00:02.0", "0000:00:03.0", "0000:00:04.0",
                 "0001:00:00.0", "0001:00:01.0"]
VIOMMU_FN = "0000:00:01.0"
LATE = "late IOMMU probe at driver bind, something fishy here!"


@pytest.fixture
def pci() -> Board:
    return example("virtio-iommu-pci-example")


@pytest.fixture
def mmio() -> Board:
    return example("virtio-iommu-mmio-example")


def _virtio(r: Run) -> list[object]:
    return r.boot.kernel.globals.get("virtio_devices", [])


def test_virtio_pci_ids() -> None:
    assert virtio_pci_id("pci1af4,1057") == 0x1057 and virtio_pci_id("virtio,pci-iommu") == 0x1057
    assert virtio_pci_id("pci8086,10d3") is None and virtio_pci_id("pci1af4,zz") is None


def test_v614_endpoints_grouped_before_their_drivers_probe(boot_recorded: Callable[..., Run],
                                                           pci: Board) -> None:
    r = boot_recorded(pci, V614, viommu_ops)
    assert r.findings == []
    (inst,) = r.boot.kernel.state(IommuCoreState).iommu_device_list
    # registered with the transport's fwnode: the PCI function's DT child node
    assert inst.fwnode is r.dev(VIOMMU_FN).of_node.fwnode
    assert r.dev(VIOMMU_FN).of_node.full_name == "/pcie@40000000/iommu@1,0"
    for name in PCI_ENDPOINTS + ["60000000.ethernet"]:
        d = r.dev(name)
        assert d.iommu_group is not None and d.iommu.iommu_dev is inst, name
        if name in r.at_probe:  # generic client drivers (the others are virtio-pci)
            at = r.at_probe[name]
            assert at.group is not None and at.default_domain and at.owner_cnt >= 1, name
    # iommu-map: endpoint IDs (rid, or 0x10000 + rid on the second bridge)
    assert r.dev("0000:00:02.0").iommu.fwspec.ids == [0x10]
    assert r.dev("0001:00:01.0").iommu.fwspec.ids == [0x10008]
    assert r.dev("60000000.ethernet").iommu.fwspec.ids == [0x20000]
    # the IOMMU's own function is left out of the iommu-map
    assert r.group(VIOMMU_FN) is None


def test_virtio_devices_appear_when_the_transport_binds(boot_recorded: Callable[..., Run],
                                                        pci: Board) -> None:
    r = boot_recorded(pci, V614, viommu_ops)
    vdevs = {v.dev.parent.init_name: v for v in _virtio(r)}  # type: ignore[attr-defined]
    assert set(vdevs) == {VIOMMU_FN, "0000:00:02.0", "0000:00:03.0"}
    viommu = vdevs[VIOMMU_FN]
    assert viommu.id_device == VIRTIO_ID_IOMMU and viommu.priv is not None  # type: ignore[attr-defined]
    assert viommu.dev.driver.name == "virtio_iommu"  # type: ignore[attr-defined]
    assert r.dev(VIOMMU_FN).driver.name == "virtio-pci"
    # virtio-net's PCI function waited for the IOMMU: it bound through the
    # deferred-probe retry and then has its group
    assert r.dev("0000:00:02.0").driver.name == "virtio-pci"
    assert r.dev("0000:00:02.0").iommu_group is not None


def test_next_walk_cannot_find_the_unbound_viommu(boot_recorded: Callable[..., Run],
                                                  pci: Board) -> None:
    r = boot_recorded(pci, NEXT, viommu_ops)
    # the registration walk (inside viommu_probe) reaches viommu_probe_device
    # for each endpoint: driver_find_device() sees no bound virtio_iommu device
    for name in PCI_ENDPOINTS + ["60000000.ethernet"]:
        assert r.results(name)[0] == -ENODEV and r.results(name)[-1] == 0, name
    # the bind-time replay then probes it with dev->driver set
    late = [f for f in r.findings if f.message == LATE]
    assert {f.device for f in late} == set(PCI_ENDPOINTS + ["60000000.ethernet"])
    assert all(f.kind == fnd.WARNING for f in r.findings)


def test_v614_walk_never_reaches_probe_device(boot_recorded: Callable[..., Run], pci: Board) -> None:
    r = boot_recorded(pci, V614, viommu_ops)
    # no fwspec before bind in V614: only the bind-time replay probes
    for name in PCI_ENDPOINTS:
        assert r.results(name) == [0], name


def test_publishing_priv_first_does_not_help_an_unbound_device(boot_recorded: Callable[..., Run],
                                                               pci: Board) -> None:
    v = NEXT.with_values("NEXT+viommu-priv-first", "priv before register",
                         **{"viommu_probe.priv": "before_register"})
    r = boot_recorded(pci, v, viommu_ops)
    assert r.results("0000:00:02.0")[0] == -ENODEV
    assert any(f.message == LATE for f in r.findings)


def test_mmio_transport(boot_recorded: Callable[..., Run], mmio: Board) -> None:
    r = boot_recorded(mmio, V614, viommu_ops)
    assert r.findings == []
    (inst,) = r.boot.kernel.state(IommuCoreState).iommu_device_list
    assert inst.fwnode is r.dev("3100.iommu").of_node.fwnode
    assert r.dev("3000.virtio").iommu.iommu_dev is inst
    assert r.dev("3000.virtio").iommu.fwspec.ids == [23]
    assert r.group("3200.virtio") is None and r.group("3100.iommu") is None
    assert {v.id_device for v in _virtio(r)} >= {VIRTIO_ID_IOMMU}  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["virtio-iommu-pci-example", "virtio-iommu-mmio-example"])
@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_runs_under_both_variants(name: str, v: object) -> None:
    res = run_scenario(example(name), v)  # type: ignore[arg-type]
    assert not res.panicked and res.stats["registered_instances"] == 1
    assert res.stats["iommu_instances"] == 1


def test_transport_without_firmware_node_registers_a_null_fwnode(pci: Board) -> None:
    """The virtio-pci function without the binding's child node: dev_fwnode()
    of the transport is NULL, so the instance takes devices without a fwspec
    and viommu_probe_device() reads fwspec->iommu_fwnode through NULL."""
    pci.nodes = [n for n in pci.nodes if not n.path.endswith("iommu@1,0")]
    for n in pci.nodes:
        n.iommu_map = ()
        n.iommus = ()
    res = run_scenario(pci, V614)
    oops = [f for f in res.findings if f.kind == fnd.OOPS]
    assert oops and oops[0].function == "viommu_probe_device"
    assert oops[0].trace[:2] == ["viommu_probe_device", "__iommu_probe_device"]


# -- ACPI VIOT (harness/acpi/viot.py) ------------------------------------------------


@pytest.fixture
def viot() -> Board:
    return example("x86-viot-example")


VIOT_ENDPOINTS = ["0000:00:00.0", "0000:00:02.0", "0000:00:03.0", "0000:00:1f.0", "0000:00:1f.2",
                  "0000:00:1f.3"]


def test_viot_v614_endpoints_grouped_before_their_drivers_probe(boot_recorded: Callable[..., Run],
                                                                viot: Board) -> None:
    r = boot_recorded(viot, V614, viommu_ops)
    assert r.findings == []
    (inst,) = r.boot.kernel.state(IommuCoreState).iommu_device_list
    # viot_get_pci_iommu_fwnode(): the function had no fwnode, VIOT made one
    assert inst.fwnode is r.dev(VIOMMU_FN).fwnode and inst.fwnode.name.startswith("viot-static:")
    for name in VIOT_ENDPOINTS:
        assert r.dev(name).iommu.iommu_dev is inst, name
        if name in r.at_probe:
            assert r.at_probe[name].group is not None and r.at_probe[name].default_domain, name
    # epid = rid - bdf_start + endpoint_start; "We're not translating ourself"
    assert r.dev("0000:00:02.0").iommu.fwspec.ids == [0x10]
    assert r.group(VIOMMU_FN) is None and r.group("PNP0501:00") is None
    assert r.group("0000:00:1f.0") is r.group("0000:00:1f.2")


def test_viot_next_endpoints_bind_without_their_iommu(boot_recorded: Callable[..., Run],
                                                      viot: Board) -> None:
    """What the model says for NEXT: the walk's viommu_probe_device() cannot
    find the unbound virtio-iommu (-ENODEV frees dev->iommu), and the ACPI
    path no longer replays iommu_probe_device() at bind: the fwspec made at
    bind stays without a group."""
    r = boot_recorded(viot, NEXT, viommu_ops)
    for name in VIOT_ENDPOINTS:
        assert r.results(name) == [-ENODEV], name
        d = r.dev(name)
        assert r.bound(name) and d.iommu_group is None and d.iommu.fwspec is not None, name
    titles = {(f.title, f.device) for f in r.findings}
    assert ("iommu: driver probe without IOMMU group in really_probe", "0000:00:02.0") in titles
    assert all(f.invariant in (4, 7) for f in r.findings)


def test_viot_without_the_iommu_function_describes_nothing(viot: Board) -> None:
    viot.extra_devices = [e for e in viot.extra_devices if e.name != VIOMMU_FN]
    res = run_scenario(viot, V614)
    assert res.findings == [] and res.stats["registered_instances"] == 0
    assert "ACPI: VIOT: Could not find PCI IOMMU" in res.log
