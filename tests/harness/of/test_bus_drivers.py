"""Bus drivers that populate their DT children at probe (drivers/bus/)."""

from __future__ import annotations

from harness.board import Board, Node
from harness.boot import Boot, BootConfig
from harness.kernel import set_kernel
from harness.variant import V614


def _board() -> Board:
    cells = {"#address-cells": [1], "#size-cells": [1]}
    return Board("buses", nodes=[
        Node("/", props=dict(cells)),
        Node("/ocp", compatible=("simple-pm-bus",), props={**cells, "ranges": True}),
        Node("/ocp/l4@4a000000", compatible=("ti,omap4-l4-cfg", "simple-pm-bus"),
             props={**cells, "reg": [0x4A000000, 0x1000], "ranges": [0, 0x4A000000, 0x100000]}),
        Node("/ocp/l4@4a000000/target-module@56000", compatible=("ti,sysc-omap2", "ti,sysc"),
             props={**cells, "reg": [0x56000, 4], "ranges": [0, 0x56000, 0x1000]}),
        Node("/ocp/l4@4a000000/target-module@56000/dma-controller@0",
             compatible=("ti,omap4430-sdma",), props={"reg": [0, 0x1000]}),
        Node("/ocp/dsp", compatible=("ti,omap4-dsp",)),
    ])


def test_children_appear_when_their_bus_driver_probes() -> None:
    b = Boot(_board(), V614, BootConfig())
    try:
        b.run()
        devs = {d.init_name: d for d in b.devices()}
        assert set(devs) == {"ocp", "4a000000.l4", "4a056000.target-module",
                             "4a056000.dma-controller", "ocp:dsp"}
        drivers = {n: d.driver.name for n, d in devs.items()}
        assert drivers["ocp"] == drivers["4a000000.l4"] == "simple-pm-bus"
        assert drivers["4a056000.target-module"] == "ti-sysc"
        # a leaf gets its (generic) client driver; it was added by ti-sysc
        assert drivers["4a056000.dma-controller"] == "ti,omap4430-sdma"
        assert devs["4a056000.dma-controller"].parent is devs["4a056000.target-module"]
        # no generic client driver was made for a compatible a bus driver owns
        assert "ti,omap4-l4-cfg" not in {d.driver.name for d in b.client_drivers}
    finally:
        set_kernel(None)


def test_without_the_bus_drivers_nothing_below_them_exists() -> None:
    p = _board()
    p.nodes[1] = Node("/ocp", compatible=("vendor,opaque-bus",), props=p.nodes[1].props)
    b = Boot(p, V614, BootConfig())
    try:
        b.run()
        assert {d.init_name for d in b.devices()} == {"ocp"}
    finally:
        set_kernel(None)
