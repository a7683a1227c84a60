"""Device names: drivers/of/device.c of_device_make_bus_id()."""

from __future__ import annotations

from harness.board import Board, Node
from harness.of.node import DeviceTree
from harness.of.platform import of_device_make_bus_id, of_translate_address


def _tree(*nodes: Node) -> DeviceTree:
    root = Node("/", props={"#address-cells": [1], "#size-cells": [1]})
    return DeviceTree(Board("t", nodes=[root, *nodes]))


def _bus(path: str, ranges: object, reg: list[int] | None = None) -> Node:
    props: dict[str, object] = {"#address-cells": [1], "#size-cells": [1], "ranges": ranges}
    if reg is not None:
        props["reg"] = reg
    return Node(path, compatible=("simple-pm-bus",), props=props)


def test_reg_is_translated_through_the_parents_ranges() -> None:
    # OMAP4: interconnect@4a000000 { ranges = <0 0x4a000000 0x1000000>; }
    #          target-module@66000 { ranges = <0 0x66000 0x1000>; mmu@0 { reg = <0 0x100>; } }
    t = _tree(_bus("/ocp", True),
              _bus("/ocp/ic@4a000000", [0, 0x4A000000, 0x1000000], [0x4A000000, 0x1000]),
              _bus("/ocp/ic@4a000000/tm@66000", [0, 0x66000, 0x1000], [0x66000, 4]),
              Node("/ocp/ic@4a000000/tm@66000/mmu@0", props={"reg": [0, 0x100]}))
    mmu = t.find("/ocp/ic@4a000000/tm@66000/mmu@0")
    assert of_translate_address(mmu) == 0x4A066000
    assert of_device_make_bus_id(mmu) == "4a066000.mmu"


def test_reg_not_the_unit_address_and_no_padding() -> None:
    # rk356x: video-codec@fdea0400 { reg = <0x0 0xfdea0000 0x0 0x800>; }
    root = Node("/", props={"#address-cells": [2], "#size-cells": [2], "ranges": True})
    t = DeviceTree(Board("t", nodes=[
        root, Node("/video-codec@fdea0400", props={"reg": [0, 0xFDEA0000, 0, 0x800]}),
        Node("/mixer@100000", props={"reg": [0, 0x100000, 0, 0x100]})]))
    assert of_device_make_bus_id(t.find("/video-codec@fdea0400")) == "fdea0000.video-codec"
    assert of_device_make_bus_id(t.find("/mixer@100000")) == "100000.mixer"


def test_untranslatable_nodes_are_named_by_their_path() -> None:
    # no "reg" on dsp, none on ocp: "ocp:dsp"; a parent without "ranges" stops translation
    t = _tree(_bus("/ocp", True), Node("/ocp/dsp"),
              Node("/ocp/bus@1000", props={"#address-cells": [1], "#size-cells": [1],
                                           "reg": [0x1000, 0x100]}),
              Node("/ocp/bus@1000/dev@10", props={"reg": [0x10, 4]}))
    assert of_device_make_bus_id(t.find("/ocp/dsp")) == "ocp:dsp"
    assert of_device_make_bus_id(t.find("/ocp/bus@1000/dev@10")) == "1000.bus:dev@10"


def test_platforms_without_ranges_keep_unit_address_names() -> None:
    t = DeviceTree(Board("old", nodes=[Node("/"), Node("/soc"),
                                          Node("/soc/iommu@30f0000", props={"reg": [0x30F0000]})]))
    assert of_device_make_bus_id(t.find("/soc/iommu@30f0000")) == "30f0000.iommu"
