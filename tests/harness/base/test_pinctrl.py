"""harness/base/pinctrl.py: pinctrl_bind_pins() in really_probe()
(drivers/base/pinctrl.c, drivers/pinctrl/devicetree.c) -- a consumer with
pinctrl-0 defers until its pin controller has probed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corpus.bundled import load_bundled
from corpus.dt import load_platform_file
from harness.base import dd
from harness.base.devlink import DevlinkState, supplier_paths
from harness.board import Board, Node
from harness.boot import ABSENT, BootConfig, DriverConfig
from harness.errno import EINVAL, EPROBE_DEFER
from harness.kernel import kernel
from harness.run import run_scenario
from harness.variant import V614

_CFG = 0x20  # the pin configuration node's phandle


def _board(*, ctrl_status: str = "okay", cfg_props: dict[str, Any] | None = None,
           consumer_props: dict[str, Any] | None = None, ctrl_props: dict[str, Any] | None = None,
           extra: tuple[Node, ...] = ()) -> Board:
    """A consumer whose pinctrl-0 names a configuration node of a pin
    controller that comes after it in DT order."""
    return Board("pins", nodes=[
        Node("/"), Node("/soc", compatible=("simple-bus",)),
        Node("/soc/dev@1", compatible=("vendor,dev",),
             props={"pinctrl-0": [_CFG], **(consumer_props or {})}),
        Node("/soc/pinctrl@2", compatible=("vendor,pinctrl",), status=ctrl_status,
             props=dict(ctrl_props or {})),
        Node("/soc/pinctrl@2/uart-pins", phandle=_CFG, props=dict(cfg_props or {})),
        *extra])


# the consumer's driver registers at core_initcall, the pin controller's at
# device level: without an order from fw_devlink the consumer probes first
_EARLY = {"vendor,dev": DriverConfig(initcall="core")}


def _record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, bool]]:
    """(device, pinctrl_bind_pins() return, pin controller bound) per call."""
    seen: list[tuple[str, int, bool]] = []
    real = dd.pinctrl.pinctrl_bind_pins

    def bind(dev: Any) -> int:
        ret = real(dev)
        ctl = dd.pinctrl.state().device_of(kernel().globals["of_root"].by_path["/soc/pinctrl@2"])
        seen.append((dev.init_name, ret, ctl is not None and ctl.driver is not None
                     and ctl in ctl.driver.devices))
        return ret

    monkeypatch.setattr(dd.pinctrl, "pinctrl_bind_pins", bind)
    return seen


def _dev(seen: list[tuple[str, int, bool]]) -> list[tuple[int, bool]]:
    return [(ret, bound) for name, ret, bound in seen if name == "1.dev"]


@pytest.mark.parametrize("mode", ["off", "permissive"])
def test_consumer_defers_until_its_pin_controller_probed(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """No fw_devlink order: the consumer's probe reaches pinctrl_bind_pins()
    before the pin controller registered (-EPROBE_DEFER, dt_to_map_one_config()
    found no controller up to the root), and binds once it has."""
    seen = _record(monkeypatch)
    r = run_scenario(_board(), V614, BootConfig(drivers=_EARLY, fw_devlink=mode))
    assert _dev(seen)[0] == (-EPROBE_DEFER, False)
    assert _dev(seen)[-1] == (0, True)
    assert r.stats["bound_drivers"] == 3 and r.stats["deferred"] == 0


def test_fw_devlink_orders_it_first() -> None:
    """fw_devlink's pinctrl-0 link (property.c DEFINE_SIMPLE_PROP(pinctrl0))
    holds the consumer ("wait for supplier": the configuration node has no
    device) until the controller binds, so pinctrl_bind_pins() never defers."""
    b = _board()
    assert DevlinkState("rpm", b.nodes, []).suppliers == {"/soc/dev@1": ["/soc/pinctrl@2/uart-pins"]}


def test_fw_devlink_holds_so_pins_bind_first_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch)
    r = run_scenario(_board(), V614, BootConfig(drivers=_EARLY))
    assert _dev(seen) == [(0, True)]
    assert r.stats["bound_drivers"] == 3


def test_a_disabled_pin_controller_holds_the_consumer_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    """of_link_to_phandle() makes no link to a disabled supplier, but the pins
    still need a controller: with CONFIG_MODULES dt_to_map_one_config() keeps
    deferring and no timeout relaxes it; without modules it is -ENODEV, which
    pinctrl_bind_pins() ignores (the device probes without its pins)."""
    b = _board(ctrl_status="disabled")
    assert DevlinkState("rpm", b.nodes, []).suppliers == {}
    seen = _record(monkeypatch)
    r = run_scenario(b, V614, BootConfig())
    assert {ret for ret, _ in _dev(seen)} == {-EPROBE_DEFER}
    assert r.stats["bound_drivers"] == 1 and r.stats["deferred"] == 1
    assert any("1.dev: deferred probe pending" in line for line in r.log)
    seen.clear()
    r = run_scenario(b, V614, BootConfig(config_modules=False))
    assert _dev(seen)[-1] == (0, False) and r.stats["bound_drivers"] == 2


def test_pinctrl_use_default_does_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A walked node with pinctrl-use-default: -ENODEV even with modules."""
    seen = _record(monkeypatch)
    r = run_scenario(_board(ctrl_status="disabled", cfg_props={"pinctrl-use-default": True}), V614,
                     BootConfig())
    assert _dev(seen) == [(0, False)] and r.stats["bound_drivers"] == 2


def test_a_pin_controller_with_no_driver_holds_its_consumers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The controller never probes (its driver absent): the consumer never
    binds, under fw_devlink (the fwnode link to the configuration node is
    never relaxed) and without it (pinctrl_bind_pins())."""
    for mode in ("rpm", "off"):
        absent = {"vendor,pinctrl": DriverConfig(presence=ABSENT)}
        r = run_scenario(_board(), V614, BootConfig(fw_devlink=mode, drivers=absent))
        assert r.stats["bound_drivers"] == 1 and r.stats["deferred"] == 1


def test_the_controllers_own_pins_are_a_hog(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pin controller's own pinctrl-0 names its own configuration node:
    the walk reaches the probing device's node ("do not defer probing of
    hogs"), so it binds; fw_devlink's link to its own descendant is a cycle."""
    b = _board(ctrl_props={"pinctrl-0": [_CFG]}, consumer_props={"pinctrl-0": [_CFG]})
    assert DevlinkState("rpm", b.nodes, []).suppliers == {"/soc/dev@1": ["/soc/pinctrl@2/uart-pins"]}
    seen = _record(monkeypatch)
    r = run_scenario(b, V614, BootConfig(fw_devlink="off"))
    assert [ret for name, ret, _ in seen if name == "2.pinctrl"] == [0]
    assert r.stats["bound_drivers"] == 3


def test_a_cycle_fw_devlink_relaxes_is_held_by_the_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pin controller takes a clock from the consumer, which takes its
    pins from the controller: __fw_devlink_relax_cycles() enforces neither
    link, and pinctrl_bind_pins() still holds the consumer until the
    controller has probed."""
    b = _board(consumer_props={"#clock-cells": [0]}, ctrl_props={"clocks": [0x30]})
    b.nodes[2].phandle = 0x30
    assert DevlinkState("rpm", b.nodes, []).suppliers == {}
    seen = _record(monkeypatch)
    r = run_scenario(b, V614, BootConfig(drivers=_EARLY))
    assert _dev(seen)[0] == (-EPROBE_DEFER, False) and _dev(seen)[-1] == (0, True)
    assert r.stats["bound_drivers"] == 3


def test_an_unknown_phandle_fails_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """pinctrl_dt_to_map(): "prop %s index %i invalid phandle", -EINVAL, a
    probe failure that is not retried."""
    b = _board(consumer_props={"pinctrl-0": [0x99]})
    seen = _record(monkeypatch)
    r = run_scenario(b, V614, BootConfig())
    assert {ret for ret, _ in _dev(seen)} == {-EINVAL}
    assert any("1.dev: prop pinctrl-0 index 0 invalid phandle" in line for line in r.log)
    assert r.stats["bound_drivers"] == 2 and r.stats["deferred"] == 0


def test_real_board_pins_wait_for_tlmm_without_fw_devlink(monkeypatch: pytest.MonkeyPatch) -> None:
    """sdm845-db845c: with fw_devlink=off some consumers of the TLMM's pins
    probe before the TLMM (pinctrl-sdm845 registers at arch_initcall, ...)
    and defer in pinctrl_bind_pins(); the default boot's pinctrl-N links
    order them after it, and every device binds either way."""
    board = load_bundled("sdm845-db845c")
    calls: list[tuple[str, int]] = []
    real = dd.pinctrl.pinctrl_bind_pins

    def bind(dev: Any) -> int:
        ret = real(dev)
        calls.append((dev.init_name, ret))
        return ret

    monkeypatch.setattr(dd.pinctrl, "pinctrl_bind_pins", bind)
    off = run_scenario(board, V614, BootConfig(fw_devlink="off"))
    deferred = {name for name, ret in calls if ret == -EPROBE_DEFER}
    assert deferred and all((name, 0) in calls for name in deferred)
    calls.clear()
    on = run_scenario(board, V614, BootConfig())
    assert calls and all(ret == 0 for _, ret in calls)
    assert off.stats["deferred"] == on.stats["deferred"] == 0
    assert off.stats["bound_drivers"] == on.stats["bound_drivers"]


@pytest.mark.kernel_tree
def test_sun50i_h6_r_i2c_waits_for_r_pio_through_a_relaxed_cycle(kernel_tree: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """sun50i-h6-pine-h64 (6.12 DT): R_PIO's vcc-pm-supply is the AXP805's
    aldo1, a PMIC below r_i2c, and r_i2c's pinctrl-0 names R_PIO's r-i2c-pins:
    a cycle, so fw_devlink enforces neither link (__fw_devlink_relax_cycles())
    and r_i2c (device level, DT order before R_PIO) reaches
    pinctrl_bind_pins() before R_PIO has probed -- deferred there, bound once
    R_PIO is."""
    board = load_platform_file(kernel_tree / "arch/arm64/boot/dts/allwinner/sun50i-h6-pine-h64.dts")
    links = DevlinkState("rpm", board.nodes, []).suppliers
    assert "/soc/pinctrl@7022000/r-i2c-pins" not in links.get("/soc/i2c@7081400", [])
    assert "/soc/pinctrl@7022000/r-i2c-pins" in supplier_paths(
        board.node_map()["/soc/i2c@7081400"], {n.phandle: n for n in board.nodes if n.phandle is not None})
    calls: list[int] = []
    real = dd.pinctrl.pinctrl_bind_pins

    def bind(dev: Any) -> int:
        ret = real(dev)
        if dev.init_name == "7081400.i2c":
            calls.append(ret)
        return ret

    monkeypatch.setattr(dd.pinctrl, "pinctrl_bind_pins", bind)
    r = run_scenario(board, V614, BootConfig())
    assert calls[0] == -EPROBE_DEFER and calls[-1] == 0
    assert r.stats["deferred"] == 0 and r.findings == []
