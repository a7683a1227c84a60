"""harness/bus/pci.py: pci_device_group as drivers/iommu/iommu.c L1515 and
of_pci_find_child_device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.board import Board, Node
from harness.bus.pci import (
    of_pci_find_child_device,
    pci_acs_init,
    pci_bus_type,
    pci_dev,
    pci_device_group,
    pci_request_acs,
)
from harness.kernel import Kernel, set_kernel
from harness.of.node import DeviceTree


@pytest.fixture(autouse=True)
def kernel() -> Iterator[None]:
    set_kernel(Kernel())
    pci_bus_type.reset()
    yield
    pci_bus_type.reset()
    set_kernel(None)


def fn(rid: int, *, aliases: tuple[int, ...] = (), mf: bool = False, acs: bool = False,
       segment: int = 0, host: Any = None) -> pci_dev:
    p = pci_dev(f"{segment:04x}:{rid >> 8:02x}:{(rid >> 3) & 0x1f:02x}.{rid & 7}", rid, host, segment)
    p.dma_alias_mask = list(aliases)
    p.multifunction = mf
    p.acs = acs
    pci_bus_type.devices.append(p.dev)
    return p


def probe(*fns: pci_dev) -> list[Any]:
    """Group each function in turn, as a registration walk would."""
    out = []
    for f in fns:
        f.dev.iommu_group = pci_device_group(f.dev)
        out.append(f.dev.iommu_group)
    return out


def test_single_functions_get_their_own_groups() -> None:
    a, b = probe(fn(0x08), fn(0x10))
    assert a is not b


def test_mutual_aliases_share_and_do_not_loop() -> None:
    x, y = fn(0x100, aliases=(0x101,)), fn(0x101, aliases=(0x100,))
    gx, gy = probe(x, y)
    assert gx is gy and gx.refcount == 2


def test_alias_only_on_the_same_bus_and_segment() -> None:
    a = fn(0x100)
    b = fn(0x101, aliases=(0x100,), segment=1)  # same rid pattern, other segment
    ga, gb = probe(a, b)
    assert ga is not gb


def test_non_acs_functions_of_a_slot_share_acs_ones_do_not() -> None:
    f0, f1, f2 = fn(0x00F8, mf=True), fn(0x00F9, mf=True), fn(0x00FA, mf=True, acs=True)
    other_slot = fn(0x0100, mf=True)
    g0, g1, g2, g3 = probe(f0, f1, f2, other_slot)
    assert g0 is g1 and g2 is not g0 and g3 is not g0


def test_alias_of_a_non_isolated_function_joins_the_slot_group() -> None:
    f0, f1 = fn(0x00F8, mf=True), fn(0x00F9, mf=True)
    aliasing = fn(0x00E0, aliases=(0x00F9,))  # aliases a function of the slot
    g0, g1, ga = probe(f0, f1, aliasing)
    assert g0 is g1 is ga


def test_of_pci_find_child_device_by_devfn_on_the_root_bus() -> None:
    plat = Board(name="t", nodes=[
        Node("/"), Node("/pcie@0", props={"bus-range": [0, 255]}),
        Node("/pcie@0/iommu@1,0", props={"reg": [0x800, 0, 0, 0, 0]})])
    tree = DeviceTree(plat)
    host = tree.find("/pcie@0")
    assert of_pci_find_child_device(host, 0x08) is tree.find("/pcie@0/iommu@1,0")
    assert of_pci_find_child_device(host, 0x10) is None
    assert of_pci_find_child_device(host, 0x108) is None  # bus 1: not the root bus
    assert of_pci_find_child_device(None, 0x08) is None


# -- ACS: pci_request_acs() sets a flag pci_enable_acs() reads at pci_device_add ----------------

def test_acs_requested_before_the_function_is_added_isolates_it() -> None:
    pci_request_acs()
    f0, f1 = fn(0x00F8, mf=True), fn(0x00F9, mf=True)
    for f in (f0, f1):
        f.acs_cap = True
        pci_acs_init(f)  # pci_init_capabilities() in pci_device_add()
    g0, g1 = probe(f0, f1)
    assert f0.acs and f1.acs and g0 is not g1


def test_acs_requested_after_the_function_is_added_does_not() -> None:
    f0, f1 = fn(0x00F8, mf=True), fn(0x00F9, mf=True)
    for f in (f0, f1):
        f.acs_cap = True
        pci_acs_init(f)
    pci_request_acs()  # of_iommu_configure() at bind: too late for these two
    g0, g1 = probe(f0, f1)
    assert not f0.acs and g0 is g1


def test_acs_request_without_the_capability_changes_nothing() -> None:
    pci_request_acs()
    f0, f1 = fn(0x00F8, mf=True), fn(0x00F9, mf=True)
    for f in (f0, f1):
        pci_acs_init(f)
    g0, g1 = probe(f0, f1)
    assert not f0.acs and g0 is g1
