"""PCI functions described in a device tree become PCI extra devices."""

from __future__ import annotations

from corpus.pci_dt import dt_pci_functions, with_dt_pci_functions
from harness.board import Board, ExtraDevice, Node


def _board(port_status: str = "okay") -> Board:
    pci = {"device_type": "pci", "#address-cells": [3], "#size-cells": [2]}
    return Board("pci", nodes=[
        Node("/"), Node("/soc"),
        Node("/soc/pcie@690000000", compatible=("apple,pcie",),
             props={**pci, "reg": [6, 0x90000000, 0, 0x1000000], "linux,pci-domain": [2]}),
        Node("/soc/pcie@690000000/pci@0,0", status=port_status, props={**pci, "reg": [0, 0, 0, 0, 0]}),
        Node("/soc/pcie@690000000/pci@0,0/wifi@0,0", compatible=("pci14e4,4425",),
             props={"reg": [0x10000, 0, 0, 0, 0]}),
        Node("/soc/pcie@690000000/pci@0,0/bluetooth@0,1", compatible=("pci14e4,5f69",),
             props={"reg": [0x10100, 0, 0, 0, 0]}),
        Node("/soc/pcie@690000000/pci@2,0", props={**pci, "reg": [0x1000, 0, 0, 0, 0]}),
    ])


def test_functions_behind_the_host_bridge() -> None:
    got = [(e.name, e.rid, e.parent, e.compatible) for e in dt_pci_functions(_board())]
    host = "/soc/pcie@690000000"
    assert got == [("0002:00:00.0", 0x000, host, ("pci:pci@0,0",)),
                   ("0002:01:00.0", 0x100, host, ("pci14e4,4425",)),
                   ("0002:01:00.1", 0x101, host, ("pci14e4,5f69",)),
                   ("0002:00:02.0", 0x010, host, ("pci:pci@2,0",))]


def test_disabled_bridges_hide_their_functions() -> None:
    assert [e.name for e in dt_pci_functions(_board("disabled"))] == ["0002:00:02.0"]


def test_existing_extra_devices_win() -> None:
    p = _board()
    p.extra_devices = [ExtraDevice("0002:01:00.0", "pci", "/soc/pcie@690000000", 0x100, ("mine",))]
    q = with_dt_pci_functions(p)
    assert [e.compatible for e in q.extra_devices if e.name == "0002:01:00.0"] == [("mine",)]
    assert len(q.extra_devices) == 4 and len(p.extra_devices) == 1
