"""Deterministic concurrency (issue 6): the threads of a boot, schedules that
explore their interleavings, deadlock / hung-task reports, replay.

Everything runs on the bundled real board ``rk3568-odroid-m1`` (176 DT nodes,
100 devices, three rockchip IOMMU instances) unless a test says otherwise.
Concurrency comes from the boot inputs a user would have: ``driver_async_probe=``
(IOMMU drivers included) and asynchronous client drivers.

Variants: ``rk_iommu_probe.dma_dev = before_register`` is applied wherever the
test is about something else than rockchip's own ``dma_dev`` bug, because that
bug panics the boot first (under NEXT always; under V614 with async probing,
see :func:`test_v614_rockchip_async_probe_reaches_the_null_dma_dev`).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fuzz.crashstore import make_reproducer
from harness import findings as fnd
from harness import variant
from harness.base.initcall import driver_initcall_level, driver_link_order
from harness.board import Board, load_board
from harness.boot import Boot, BootConfig, DriverConfig, boot_config_from_json, boot_config_to_json
from harness.findings import Finding
from harness.kernel import BLOCKED, DEAD, Kernel, kfunc, mutex_lock, set_kernel
from harness.run import Result, run_scenario
from harness.schedules import (
    PctChooser,
    explore_pct,
    find_schedule,
    is_window,
    preemption_bounded,
    random_schedule,
    replay,
    shortest_prefix,
)
from harness.variant import NEXT, V614, Variant
from tests.harness.test_oracles import in_order

BOARD = Path(__file__).resolve().parents[2] / "corpus" / "boards" / "rk3568-odroid-m1.json"

RK_FIX = {"rk_iommu_probe.dma_dev": "before_register"}
DEFER_1_4 = "iommu_device_use_default_domain.defer"

V614_RK = V614.with_values("V614+rk-fix", "V614, dma_dev published before registering", **RK_FIX)
V614_RK_1_4 = V614_RK.with_values("V614+rk-fix+1/4", "V614 with 1/4's -EPROBE_DEFER",
                                  **{DEFER_1_4: NEXT.value(DEFER_1_4)})
NEXT_RK = NEXT.with_values("NEXT+rk-fix", "NEXT, dma_dev published before registering", **RK_FIX)
NEXT_RK_NO_1_4 = NEXT_RK.with_values("NEXT+rk-fix-1/4", "NEXT without 1/4", **{DEFER_1_4: None})

#: every driver probes asynchronously, IOMMU drivers included (driver_async_probe=*)
ALL_ASYNC = BootConfig(driver_async_probe=("*",))
#: the three IOMMU instances probe (and register) concurrently on async workers
IOMMU_ASYNC = BootConfig(driver_async_probe=("rk_iommu",))

W1 = "iommu: driver probe before default domain in really_probe"


@pytest.fixture(scope="module")
def board() -> Board:
    return load_board(BOARD)


@pytest.fixture(scope="module")
def board_no_pcie(board: Board) -> Board:
    """The board with its PCIe host bridge disabled: no root bus scan on init
    (the registration walks are then the first dma_configure callers)."""
    nodes = [dataclasses.replace(n, status="disabled") if n.props.get("device_type") == "pci" else n
             for n in board.nodes]
    return dataclasses.replace(board, nodes=nodes)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    set_kernel(None)
    variant.activate(V614)


def titles(r: Result) -> set[str]:
    return {f.title for f in r.findings}


def outcome(r: Result) -> dict[str, Any]:
    """Everything a run produces that a replay must reproduce exactly."""
    return {"findings": [f.to_json() for f in r.findings], "stats": r.stats, "log": r.log,
            "panicked": r.panicked, "decisions": r.decisions}


# -- the threads of a boot -------------------------------------------------------------------


def test_async_iommu_probe_runs_each_instance_on_its_own_worker(board: Board) -> None:
    boot = Boot(board, NEXT_RK, IOMMU_ASYNC)
    k = boot.run()
    comms = [t.comm for t in k.threads]
    assert comms[0] == "swapper/0"
    workers = [c for c in comms if c.startswith("kworker/async:")]
    assert sorted(workers) == ["kworker/async:fdea0800.iommu", "kworker/async:fdee0800.iommu",
                               "kworker/async:fe043e00.iommu"]
    assert "kworker/u:deferred_probe_work" in comms
    assert all(t.state == DEAD for t in k.threads)
    assert k.findings == [] and k.decisions > 0
    r = run_scenario(board, NEXT_RK, IOMMU_ASYNC)
    assert r.stats == run_scenario(board, NEXT_RK).stats  # same end state as the synchronous boot


def test_modules_load_on_modprobe_threads_after_init(board: Board) -> None:
    cfg = BootConfig(drivers={"rockchip,rk3568-vop": DriverConfig(presence="module")})
    boot = Boot(board, NEXT_RK, cfg)
    k = boot.run()
    modprobe = [t for t in k.threads if t.comm.startswith("modprobe/")]
    assert [t.comm for t in modprobe] == ["modprobe/rockchip,rk3568-vop"]
    # after the initcalls: later than the kworker deferred_probe_initcall() started
    kworker = next(t for t in k.threads if t.comm == "kworker/u:deferred_probe_work")
    assert modprobe[0].pid > kworker.pid
    assert all(t.state == DEAD for t in k.threads) and k.findings == []
    vop = next(d for d in boot.devices() if d.init_name == "fe040000.vop")
    assert vop.driver is not None and vop.driver.name == "rockchip,rk3568-vop"
    assert vop.iommu_group is not None and vop.iommu_group.owner_cnt == 1


def test_iommu_driver_as_a_module_registers_from_modprobe(board: Board) -> None:
    """rk_iommu built as a module: it registers from modprobe after init, racing the
    client retries; the default schedule still ends with every client grouped, and
    exploration reaches W2 (a client bind parses its firmware before the walk)."""
    cfg = BootConfig(iommu_drivers={"rk_iommu": "module"}, async_probe_all=True)
    for v in (V614, NEXT_RK):
        boot = Boot(board, v, cfg)
        k = boot.run()
        assert [t.comm for t in k.threads if t.comm.startswith("modprobe/")] == ["modprobe/rk_iommu"]
        assert k.findings == [] and all(t.state == DEAD for t in k.threads)
        set_kernel(None)
        r = run_scenario(board, v, cfg)
        assert r.stats["grouped_clients"] == r.stats["clients"] == 3
        # all but the PCIe root bus's 00:00.0 (no ID, no driver)
        assert r.stats["bound_drivers"] == r.stats["devices"] - 1
    late = [f for _, r in explore_pct(board, NEXT_RK, cfg, range(5), 0.02, 0.3) for f in r.findings
            if f.title == "WARNING in __iommu_probe_device"]
    assert late and all(f.invariant == 5 for f in late)
    assert any(any(n.startswith("modprobe/rk_iommu") for n in f.threads) for f in late)


@pytest.mark.parametrize("cfg", [BootConfig(), IOMMU_ASYNC, ALL_ASYNC,
                                 BootConfig(async_probe_all=True, config_modules=False),
                                 BootConfig(iommu_drivers={"rk_iommu": "module"}, async_probe_all=True)],
                         ids=["sync", "iommu-async", "all-async", "clients-async", "iommu-module"])
@pytest.mark.parametrize("v", [V614, NEXT, NEXT_RK], ids=lambda v: v.name)
def test_the_default_schedule_never_preempts(board: Board, v: Variant, cfg: BootConfig,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The empty schedule is the synchronous boot: the running thread keeps the CPU at
    every scheduling point, so turning them all off changes nothing at all."""
    with_points = outcome(run_scenario(board, v, cfg))
    monkeypatch.setattr(Kernel, "sched_point", lambda self, where: None)
    without = outcome(run_scenario(board, v, cfg))
    assert without["decisions"] <= with_points["decisions"]  # (blocks and exits still decide)
    assert dict(without, decisions=0) == dict(with_points, decisions=0)


# -- done-when 1: the race 1/4 addresses, reached by exploring schedules ----------------------


def _walk_beside(f: Finding) -> bool:
    """A registration walk is among the other threads of a concurrent finding."""
    return any("bus_iommu_probe" in t or "iommu_device_register" in t for t in f.threads.values())


@pytest.mark.parametrize("without, with_, cfg, n, p, p_window", [
    (V614_RK, V614_RK_1_4, ALL_ASYNC, 60, 0.2, 0.5),
    (NEXT_RK_NO_1_4, NEXT_RK, IOMMU_ASYNC, 120, 0.02, 0.2),
], ids=["V614", "NEXT"])
def test_w1_race_reachable_without_1_4_and_unreachable_with_it(
        board: Board, without: Variant, with_: Variant, cfg: BootConfig, n: int, p: float,
        p_window: float) -> None:
    """Patch 1/4: a client bound while the registration walk has grouped it but not yet
    made the group's default domain, then switched to iommu-dma under its driver.
    PCT exploration over ``n`` seeds (no schedule is hand-picked): some reach it without
    1/4, none with 1/4 -- neither the same seeds nor the exact schedules that hit.
    (V614 reaches it through the bind-time replay: the walk groups a client between
    its of_iommu_configure() and its iommu_probe_device(); NEXT through the walk's
    own firmware parsing.)"""
    seeds = range(n)
    hits = [(seed, r) for seed, r in explore_pct(board, without, cfg, seeds, p, p_window)
            if W1 in titles(r)]
    assert hits, "W1 not reached"
    switched = raced = 0
    for _, r in hits:
        f = next(f for f in r.findings if f.title == W1)
        assert f.kind == fnd.ISOLATION and f.invariant == 4
        assert "really_probe" in f.trace
        # a concurrent finding carries the other threads' traces: the walk is among them
        if not _walk_beside(f):
            # ... unless the walks died before it (an oops inside iommu_device_register,
            # W4): their groups never get a default domain -- the aftermath, not the race
            assert any(x.kind == fnd.OOPS and "iommu_device_register" in x.trace
                       for x in r.findings), f.threads
            continue
        raced += 1
        # the switch to iommu-dma under the bound driver follows when the walk gets to
        # make the default domain (invariant 6)
        switched += any(x.title.startswith("iommu: DMA ops changed under a bound driver")
                        and x.device == f.device and x.invariant == 6 for x in r.findings)
    assert raced and switched
    assert all(W1 not in titles(r) for _, r in explore_pct(board, with_, cfg, seeds, p, p_window))
    for _, r in hits:
        assert r.schedule is not None
        assert W1 not in titles(replay(board, with_, cfg, r.schedule))
        assert W1 in titles(replay(board, without, cfg, r.schedule))


def test_the_other_windows_are_reached_by_exploration(board: Board) -> None:
    """W2, W3 and W4 of spec 3.5 on the real board, NEXT+rk-fix with the IOMMUs probing
    (and registering) concurrently, 30 PCT seeds -- each by its own mechanism."""
    found: dict[str, Finding] = {}
    overlapping = 0
    for _, r in explore_pct(board, NEXT_RK, IOMMU_ASYNC, range(30), 0.02, 0.3):
        for f in r.findings:
            found.setdefault(f.title, f)
            # two IOMMU instances inside iommu_device_register() at once (spec 6 (f))
            overlapping += "iommu_device_register" in f.trace and any(
                "iommu_device_register" in t for t in f.threads.values())
    assert overlapping
    # W2: a client bind parses its firmware before the walk reaches it -> late probe
    w2 = found["WARNING in __iommu_probe_device"]
    assert w2.invariant == 5 and w2.trace[:3] == ["__iommu_probe_device", "iommu_probe_device",
                                                   "of_iommu_configure"]
    assert "really_probe" in w2.trace
    # W3: dev->iommu freed by another thread while iommu_init_device() had the lock dropped
    w3 = found["BUG: kernel NULL pointer dereference in __iommu_probe_device"]
    assert w3.message.endswith("(->fwspec)") and "probe_iommu_group" in w3.trace
    # W4: dev->driver stored by a bind between the bus hook's two reads
    w4 = found["BUG: unable to handle kernel paging request in platform_dma_configure"]
    assert "(->driver_managed_dma)" in w4.message and "iommu_device_register" in w4.trace
    # W3 is gone when iommu_init_device() revalidates after re-taking the lock
    revalidate = NEXT_RK.with_values("NEXT+rk-fix+revalidate", "",
                                     **{"iommu_init_device.dma_configure_lock": "drop_revalidate"})
    assert not [r for _, r in explore_pct(board, revalidate, IOMMU_ASYNC, range(30), 0.02, 0.3)
                if w3.title in titles(r)]


@pytest.mark.slow
def test_w1_bounded_exhaustive_one_deviation_at_the_windows(board: Board) -> None:
    """Every schedule that deviates once from the synchronous default, at a named
    window point other than a lock operation (668 runs each)."""

    def at(where: str) -> bool:
        return is_window(where) and not where.startswith("mutex")

    without = [r for r in preemption_bounded(board, NEXT_RK_NO_1_4, IOMMU_ASYNC, 1, at) if W1 in titles(r)]
    assert without
    assert not [r for r in preemption_bounded(board, NEXT_RK, IOMMU_ASYNC, 1, at) if W1 in titles(r)]


def test_v614_rockchip_async_probe_reaches_the_null_dma_dev(board: Board) -> None:
    """V614's rk_iommu_probe publishes dma_dev after iommu_device_register() (spec 3.8);
    with the IOMMUs probing asynchronously a client bind on init can run
    rk_iommu_of_xlate in between -- the 2022 Scarlet report's root cause."""
    oops = "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
    hits = [r for _, r in explore_pct(board, V614, IOMMU_ASYNC, range(20), 0.02, 0.3) if oops in titles(r)]
    assert hits
    f = next(f for f in hits[0].findings if f.title == oops)
    assert f.trace[0] == "devm_kmalloc" and "really_probe" in f.trace and "of_iommu_configure" in f.trace
    assert f.thread == "swapper/0/1" and hits[0].panicked  # a client bind on init
    assert f.trace[:3] == ["devm_kmalloc", "rk_iommu_of_xlate", "of_iommu_xlate"]
    assert any("rk_iommu_probe" in t for t in f.threads.values())  # an IOMMU still registering
    assert not [r for _, r in explore_pct(board, V614_RK, IOMMU_ASYNC, range(20), 0.02, 0.3)
                if oops in titles(r)]


def test_root_bus_scan_deadlocks_init_under_the_lock_holding_variant(board: Board) -> None:
    """The PCIe host bridge probes at device level and adds 00:00.0 after
    iommu_subsys_init registered the bus notifier: under the lock-holding
    variant the notifier's iommu_probe_device() re-enters the lock in the
    function's own dma_configure, on init, before any IOMMU registered.

    That needs fw_devlink not to hold the host: on the default boot its
    vpcie3v3-supply (vcc3v3_pcie, whose vin-supply vcc3v3_sys comes later in
    DT order) keeps it waiting until deferred probing, and rk_iommu's
    registration walk deadlocks first (as on board_no_pcie, below)."""
    r = run_scenario(board, HOLD)
    [f] = [f for f in r.findings if f.title == "possible deadlock in of_iommu_configure"]
    assert in_order(f.trace, ["probe_iommu_group", "iommu_device_register", "rk_iommu_probe"])
    r = run_scenario(board, HOLD, BootConfig(fw_devlink="permissive"))
    [f] = [f for f in r.findings if f.title == "possible deadlock in of_iommu_configure"]
    assert f.thread == "swapper/0/1" and f.device is not None and f.device.endswith(":00:00.0")
    assert in_order(f.trace, ["pci_dma_configure", "iommu_bus_notifier", "device_add", "pci_device_add",
                              "pci_scan_root_bus", "pci_host_common_probe"])
    assert r.stats["registered_instances"] == 0


# -- done-when 2: a constructed deadlock, with both stacks --------------------------------------


HOLD = NEXT_RK.with_values("NEXT+rk-fix+hold", "iommu_probe_device_lock held across dma_configure",
                           **{"iommu_init_device.dma_configure_lock": "hold"})


def test_lock_held_across_dma_configure_deadlocks_with_both_stacks(board_no_pcie: Board) -> None:
    board = board_no_pcie
    r = run_scenario(board, HOLD)
    [f] = [f for f in r.findings if f.title == "possible deadlock in of_iommu_configure"]
    assert f.kind == fnd.DEADLOCK and f.invariant == 2 and f.thread == "swapper/0/1"
    assert "recursive locking" in f.message and "iommu_probe_device_lock" in f.message
    # the second acquisition ...
    assert f.trace[:4] == ["of_iommu_configure", "of_dma_configure_id", "platform_dma_configure",
                           "__iommu_probe_device"]
    # ... and where the same thread took the lock first
    held = f.threads["swapper/0/1 acquired iommu_probe_device_lock at"]
    assert held[:3] == ["probe_iommu_group", "bus_for_each_dev", "iommu_device_register"]
    # init never comes back: only the drivers that register before rk_iommu
    # bound -- those of earlier initcall levels (pinctrl, regulators, ...) and
    # the device-level ones linked before drivers/iommu/ (clk/, phy/, soc/, ...)
    early = [n for n in board.nodes
             if n.compatible and (driver_initcall_level(n.compatible) != "device"
                                  or driver_link_order(n.compatible) is not None)]
    assert early and r.stats["bound_drivers"] <= len(early)
    assert r.stats["grouped_clients"] == 0


def test_concurrent_deadlock_carries_every_blocked_threads_stack(board_no_pcie: Board) -> None:
    """The IOMMUs register on async workers: the first one deadlocks on itself inside
    its walk, the others (and the deferred-probe work) sleep behind it on the lock,
    and init hangs in flush_work()."""
    boot = Boot(board_no_pcie, HOLD, IOMMU_ASYNC)
    k = boot.run()
    [f] = [f for f in k.findings if f.title == "possible deadlock in of_iommu_configure"]
    owner = f.thread
    assert owner.startswith("kworker/async:") and owner.endswith(".iommu/2")
    behind = {t.comm for t in k.threads if t.state == BLOCKED and t.waiting_on is not None
              and getattr(t.waiting_on, "name", "") == "iommu_probe_device_lock"}
    assert len(behind) == 4  # the offender and three threads asleep behind it
    for name, trace in f.threads.items():
        if name.startswith(owner):
            continue
        assert trace[:2] == ["mutex_lock", "of_iommu_configure"], (name, trace)
    assert {n.rsplit("/", 1)[0] for n in f.threads if not n.startswith(owner)} == behind - {owner[:-2]}
    hung = [x for x in k.findings if x.title == "INFO: task hung in flush_work"]
    assert len(hung) == 1 and hung[0].thread == "swapper/0/1"
    assert "deferred_probe_work" in hung[0].message
    assert owner in hung[0].threads  # whoever could have completed the work, where it sleeps


def test_a_module_load_that_never_finishes_does_not_hang_init(board_no_pcie: Board) -> None:
    """rk_iommu as a module under the lock-holding variant: modprobe deadlocks on itself
    inside its walk.  Init still gets past waiting for the module loads (the
    deferred-probe timeout fires when nothing else can run)."""
    boot = Boot(board_no_pcie, HOLD, BootConfig(iommu_drivers={"rk_iommu": "module"}))
    k = boot.run()
    [f] = [f for f in k.findings if f.title == "possible deadlock in of_iommu_configure"]
    assert f.thread.startswith("modprobe/rk_iommu") and "do_init_module" in f.trace
    assert not [x for x in k.findings if x.title == "INFO: task hung in kernel_init"]
    # init went on to the timeout work, whose flush waits for the deferred-probe kworker,
    # itself asleep on the lock modprobe holds: reported with both of their stacks
    [hung] = [x for x in k.findings if x.title == "INFO: task hung in flush_work"]
    assert hung.thread == "swapper/0/1" and "deferred_probe_timeout_work_func" in hung.trace
    assert {n.split("/")[0] for n in hung.threads} == {"modprobe", "kworker"}


def test_no_thread_hangs_silently(board: Board) -> None:
    """Across explored NEXT runs (with their real oopses and deadlocks), every thread
    asleep at the end of a run is reported: in a deadlock finding or as a hung task."""
    seen_hung = 0
    for seed in range(25):
        boot = Boot(board, NEXT_RK, IOMMU_ASYNC, chooser=PctChooser(seed, 0.05, 0.5))
        k = boot.run()
        reported = set()
        for f in k.findings:
            if f.kind == fnd.DEADLOCK:
                reported.add(f.thread)
                reported.update(f.threads)
        for t in k.threads:
            if t.state == BLOCKED:
                assert any(n.startswith(f"{t.comm}/{t.pid}") for n in reported), (seed, t)
                seen_hung += 1
        set_kernel(None)
    assert seen_hung > 0  # the property was exercised


# -- lock order (lockdep) --------------------------------------------------------------------


def test_lock_order_of_a_concurrent_boot_and_an_inversion(board: Board) -> None:
    """device_lock -> iommu_probe_device_lock -> group->mutex, in every thread of every
    explored run; taking the device lock under a group mutex is reported with both
    dependency stacks."""
    inverted_edges = {("&group->mutex", "iommu_probe_device_lock"), ("&group->mutex", "&dev->mutex"),
                      ("iommu_probe_device_lock", "&dev->mutex")}
    full = None
    for seed in range(10):
        boot = Boot(board, NEXT_RK, ALL_ASYNC, chooser=PctChooser(seed, 0.01, 0.1))
        k = boot.run()
        edges = {(a, b) for a, bs in k.lock_order.items() for b in bs}
        assert not edges & inverted_edges, seed
        assert not [f for f in k.findings if "circular locking" in f.message]
        if full is None and {("&dev->mutex", "iommu_probe_device_lock"),
                             ("iommu_probe_device_lock", "&group->mutex")} <= edges:
            full = seed
        set_kernel(None)
    assert full is not None
    # the devices live on the global buses: boot that run again
    boot = Boot(board, NEXT_RK, ALL_ASYNC, chooser=PctChooser(full, 0.01, 0.1))
    k = boot.run()
    dev = next(d for d in boot.devices() if d.iommu_group is not None)

    @kfunc
    def inverted(dev: Any) -> None:
        mutex_lock(dev.iommu_group.mutex)
        mutex_lock(dev.mutex)

    k.kthread_create("kworker/u:inv", inverted, dev)
    k.run()
    [f] = [f for f in k.findings if f.title == "possible deadlock in inverted"]
    assert "&group->mutex -> &dev->mutex" in f.message
    assert f.trace[0] == "inverted" and f.threads["earlier"]  # where &dev->mutex -> ... was seen


# -- done-when 3: replay ------------------------------------------------------------------------


def _replays(board: Board, v: Variant, cfg: BootConfig, seeds: range) -> int:
    checked = 0
    for seed in seeds:
        rng = random.Random(seed)
        if seed % 2:
            first = run_scenario(board, v, cfg, chooser=PctChooser(seed, 0.05, 0.5), record=True)
        else:  # a uniformly random schedule list, as a fuzzer would generate it
            sched = random_schedule(rng, rng.randrange(0, 300))
            first = replay(board, v, cfg, sched)
        assert first.schedule is not None
        again = replay(board, v, cfg, first.schedule)
        assert outcome(again) == outcome(first), seed
        assert again.schedule == first.schedule
        checked += 1
    return checked


def test_random_schedules_replay_identically(board: Board) -> None:
    assert _replays(board, NEXT_RK, IOMMU_ASYNC, range(100)) == 100


@pytest.mark.slow
def test_thousand_random_schedules_replay_identically(board: Board) -> None:
    assert _replays(board, NEXT_RK, ALL_ASYNC, range(1000)) == 1000


def test_repro_replays_a_stored_race_bit_for_bit(board: Board, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A race found by exploration, minimised, stored as a reproducer (schedule + boot
    config) and replayed by ``probefuzz repro`` to the same findings."""
    from fuzz.cli import main
    from harness.variant import variant_to_json

    cfg = IOMMU_ASYNC
    # the exploration of the W1 test above; the first run where W1 is the race
    # (a walk live beside the bind, not one that died before it)
    hit = next(r for _, r in explore_pct(board, NEXT_RK_NO_1_4, cfg, range(120), 0.02, 0.2)
               if any(f.title == W1 and _walk_beside(f) for f in r.findings))
    assert hit.schedule is not None
    short = shortest_prefix(board, NEXT_RK_NO_1_4, cfg, hit.schedule, lambda r: W1 in titles(r))
    assert len(short) <= len(hit.schedule)
    expected = run_scenario(board, NEXT_RK_NO_1_4, BootConfig(**{**cfg.__dict__, "schedule": short}))
    f: Finding = next(x for x in expected.findings if x.title == W1)
    config = boot_config_to_json(cfg)
    assert boot_config_from_json(config, short) == BootConfig(driver_async_probe=("rk_iommu",),
                                                              schedule=short)
    rep = make_reproducer(f, platform=board, variant=variant_to_json(NEXT_RK_NO_1_4), schedule=short,
                          config=config)
    path = tmp_path / "w1.json"
    path.write_text(json.dumps(rep.to_json()))
    assert main(["repro", "--json", str(path)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["findings"] == [x.to_json() for x in expected.findings]
    assert out["stats"] == expected.stats
    bad = dict(rep.to_json(), config={"no_such_field": 1})
    path.write_text(json.dumps(bad))
    assert main(["repro", str(path)]) == 2
    assert "config: unknown field 'no_such_field'" in capsys.readouterr().err


def test_find_schedule_returns_a_short_replayable_witness(board: Board) -> None:
    def w3(r: Result) -> bool:
        return "BUG: kernel NULL pointer dereference in __iommu_probe_device" in titles(r)

    sched = find_schedule(board, NEXT_RK, IOMMU_ASYNC, w3, seeds=30)
    assert sched is not None
    assert w3(run_scenario(board, NEXT_RK, BootConfig(driver_async_probe=("rk_iommu",), schedule=sched)))
    assert not w3(run_scenario(board, NEXT_RK, IOMMU_ASYNC))  # not the default schedule's doing
    assert find_schedule(board, V614_RK, IOMMU_ASYNC, w3, seeds=5, rates=((0.05, 0.3),)) is None
