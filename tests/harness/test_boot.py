"""BootConfig inputs added for the fuzzers: post-boot events, driver order, JSON form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from corpus.bundled import load_bundled
from harness import kernel as kernel_module
from harness.boot import MODULE, Boot, BootConfig, DriverConfig, boot_config_from_json, boot_config_to_json
from harness.errno import EPROBE_DEFER
from harness.kernel import Kernel, set_kernel
from harness.run import run_scenario
from harness.variant import V614


def _board():
    return load_bundled("sun50i-h6-orangepi-3")


def _client(p) -> str:
    """A populated IOMMU client (nodes below non-simple buses are not devices)."""
    b = Boot(p, V614, BootConfig())
    b.run()
    paths = {d.of_node.full_name for d in b.devices() if d.of_node is not None}
    return next(n.path for n in p.nodes if n.iommus and n.available() and n.path in paths)


def test_unbind_leaves_the_device_unbound_and_bind_binds_it_again() -> None:
    p = _board()
    c = _client(p)
    base = run_scenario(p, V614, BootConfig())
    unbound = run_scenario(p, V614, BootConfig(events=(("unbind", c),)))
    assert unbound.stats["bound_drivers"] == base.stats["bound_drivers"] - 1
    rebound = run_scenario(p, V614, BootConfig(events=(("unbind", c), ("bind", c))))
    assert rebound.stats["bound_drivers"] == base.stats["bound_drivers"]
    assert not rebound.findings


def test_remove_deletes_the_device_and_later_events_on_it_are_skipped() -> None:
    p = _board()
    c = _client(p)
    base = run_scenario(p, V614, BootConfig())
    r = run_scenario(p, V614, BootConfig(events=(("remove", c), ("bind", c), ("unbind", "/nowhere"))))
    assert r.stats["devices"] == base.stats["devices"] - 1
    assert not r.findings


def test_events_run_in_a_userspace_thread_after_init() -> None:
    p = _board()
    b = Boot(p, V614, BootConfig(events=(("unbind", _client(p)),)))
    k = b.run()
    assert [t.comm for t in k.threads][0] == "swapper/0"
    assert "sh" in [t.comm for t in k.threads]


@pytest.fixture
def a_kernel() -> Iterator[Kernel]:
    """A kernel for model code called outside a run (``Boot._drivers()``
    makes the drivers, and some read the kernel's globals); the suite passed
    only when an earlier test had left one set."""
    before = kernel_module._K
    k = Kernel()
    set_kernel(k)
    yield k
    set_kernel(before)


def test_driver_order_registers_those_client_drivers_first(a_kernel: Kernel) -> None:
    p = _board()
    b = Boot(p, V614, BootConfig())
    b._drivers()
    names = [d.driver.name for d in b.client_drivers]
    want = (names[-1], names[-3])
    b2 = Boot(p, V614, BootConfig(driver_order=want))
    b2._drivers()
    assert [d.driver.name for d in b2.client_drivers][:2] == list(want)
    assert sorted(d.driver.name for d in b2.client_drivers) == sorted(names)


def test_json_round_trip_and_errors() -> None:
    cfg = BootConfig(drivers={"a,b": DriverConfig("module", True, -EPROBE_DEFER, True)},
                     iommu_drivers={"rk_iommu": "absent"}, fail_alloc=("domain_alloc",),
                     config_modules=False, deferred_probe_timeout=0, async_probe_all=True,
                     driver_order=("x",), events=(("unbind", "/a"),), schedule=[1, 2])
    j = boot_config_to_json(cfg)
    assert "schedule" not in j
    assert boot_config_from_json(j, [1, 2]) == cfg
    assert boot_config_to_json(BootConfig()) == {}
    with pytest.raises(ValueError):
        boot_config_from_json({"nonsense": 1})
    with pytest.raises(ValueError):
        boot_config_from_json({"events": [["explode", "/a"]]})
    early = BootConfig(drivers={"a,b": DriverConfig(initcall="subsys")}, pci=("00:01.0",),
                       fw_devlink="on")
    assert boot_config_from_json(boot_config_to_json(early)) == early
    # every new field typed before the model sees it (issue 14)
    for bad, field in ((["drivers", {"a,b": {"initcall": "later"}}], "drivers.a,b.initcall"),
                       (["drivers", {"a,b": {"initcall": 3}}], "drivers.a,b.initcall"),
                       (["pci", ["00:01.0\n"]], "pci[0]"), (["pci", "00:01.0"], "pci:"),
                       (["fw_devlink", 1], "fw_devlink")):
        with pytest.raises(ValueError, match=re.escape(field)):
            boot_config_from_json({bad[0]: bad[1]})


def test_events_during_boot_race_the_module_loads() -> None:
    """Userspace's sysfs writes while the modules load (BootConfig.events_during_boot):
    an unbind of a device whose driver is a module finds it not bound yet and
    does nothing, so the device ends bound; after the boot the same unbind
    unbinds it."""
    board = load_bundled("sdm845-db845c")
    drivers = {"qcom,adreno-630.2": DriverConfig(presence=MODULE)}
    events = (("unbind", "/soc@0/gpu@5000000"),)
    after = run_scenario(board, V614, BootConfig(drivers=drivers, events=events))
    during = run_scenario(board, V614, BootConfig(drivers=drivers, events=events, events_during_boot=True))
    plain = run_scenario(board, V614, BootConfig(drivers=drivers))
    assert after.stats["bound_drivers"] == plain.stats["bound_drivers"] - 1
    assert during.stats["bound_drivers"] == plain.stats["bound_drivers"]


def test_a_hot_plugged_pci_function_appears_at_the_rescan() -> None:
    board = load_bundled("sdm845-db845c")
    hot = ("hotplug:0000:00:05.0",)
    plain = run_scenario(board, V614, BootConfig(pci=hot))
    rescan = run_scenario(board, V614, BootConfig(pci=hot, events=(("rescan", "/soc@0/pcie@1c00000"),),
                                                  events_during_boot=True))
    assert rescan.stats["devices"] == plain.stats["devices"] + 1
