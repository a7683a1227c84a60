"""The oracles of spec §5, one invariant at a time.

For each invariant the model checks there is a *positive control* (a variant,
boot configuration or small platform that violates it, asserting the specific
finding) and a *negative control* (V614 and a correct variant on the same
platform do not report it).  Violations are built only from what the model does
by mechanism: guard-site values (``Variant.with_values``), ``BootConfig``
inputs, small platforms, and -- for races -- stored schedules.

Schedules: each entry picks a runnable thread by index (creation order) at a
scheduling point where more than one thread can run.  The race schedules are
searched for when a test first needs them (``harness.schedules.find_schedule``:
PCT exploration until a run shows the race -- its title, device and thread
role --, then ``shortest_prefix``), not pinned: a change of the boot order or
of the model's scheduling points moves the decision indices, never the
mechanism the tests assert (the link-order and fw_devlink boot of issue 16
moved every one of them: chain_board's simple-bus now binds at device level
before the IOMMUs register).  Deterministic: the same model finds the same
schedule.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import findings as fnd
from harness import variant
from harness.base.platform import (
    PLATFORM_DRIVER_DRIVER_OFFSET,
    PLATFORM_DRIVER_MANAGED_DMA_OFFSET,
    platform_bus_type,
)
from harness.board import Board, IommuRef, Node
from harness.boot import Boot, BootConfig, DriverConfig
from harness.device import device
from harness.findings import Finding
from harness.iommu import iommu as iommu_core
from harness.iommu.structs import dev_iommu
from harness.kernel import Kernel, kfunc, mutex_lock, mutex_unlock, set_kernel
from harness.run import Result, run_scenario
from harness.schedules import find_schedule
from harness.variant import NEXT, V614, G, P, Variant

# -- variants --------------------------------------------------------------------------------

#: NEXT with the rockchip fix: dma_dev published before iommu_device_register()
FIX = NEXT.with_values("NEXT+rk-fix", "NEXT, rk_iommu_probe sets dma_dev before registering",
                       **{"rk_iommu_probe.dma_dev": "before_register"})


def fix_with(name: str, **sites: Any) -> Variant:
    return FIX.with_values(name, name, **sites)


def v614_with(name: str, **sites: Any) -> Variant:
    return V614.with_values(name, name, **sites)


# -- small platforms -------------------------------------------------------------------------

RK = ("rockchip,rk3568-iommu",)
SMMU = ("arm,smmu-v3",)


def _soc(dma_ranges: tuple[tuple[int, int, int], ...] | None = None) -> list[Node]:
    return [Node("/"), Node("/soc", compatible=("simple-bus",), dma_ranges=dma_ranges)]


def rk_board(clients: int = 2, dma_ranges: bool = False) -> Board:
    """One rockchip IOMMU and ``clients`` masters behind it."""
    nodes = _soc(((0, 0, 0x80000000),) if dma_ranges else None)
    nodes.append(Node("/soc/iommu@1", compatible=RK, iommu_cells=0))
    for i in range(clients):
        nodes.append(Node(f"/soc/vop@{2 + i}", compatible=(f"rockchip,rk3568-vop{i}",),
                          iommus=(IommuRef("/soc/iommu@1", ()),)))
    return Board("rk-board", nodes=nodes)


def amba_board() -> Board:
    """A PrimeCell DMA controller behind a rockchip IOMMU (amba bus)."""
    return Board("amba-board", nodes=_soc() + [
        Node("/soc/iommu@1", compatible=RK, iommu_cells=0),
        Node("/soc/dma@4", compatible=("arm,pl330", "arm,primecell"),
             iommus=(IommuRef("/soc/iommu@1", ()),))])


def mixed_board() -> Board:
    """A master naming a rockchip IOMMU and an SMMUv3: the second iommu_fwspec_init()
    fails (-EINVAL, other ops) after the first allocated dev->iommu."""
    return Board("mixed-board", nodes=_soc() + [
        Node("/soc/iommu@1", compatible=RK, iommu_cells=0),
        Node("/soc/smmu@5", compatible=SMMU, iommu_cells=1),
        Node("/soc/vop@2", compatible=("rockchip,rk3568-vop",),
             iommus=(IommuRef("/soc/iommu@1", ()), IommuRef("/soc/smmu@5", (7,))))])


def chain_board() -> Board:
    """iommu@1 is itself a master of iommu@9 (later in DT order), so it defers at
    device_initcall and registers from the deferred-probe kworker, while the
    asynchronously probing clients vop/isp run in their own threads."""
    return Board("chain-board", nodes=_soc(((0, 0, 0x80000000),)) + [
        Node("/soc/iommu@1", compatible=RK, iommu_cells=0, iommus=(IommuRef("/soc/iommu@9", ()),)),
        Node("/soc/vop@2", compatible=("rockchip,rk3568-vop",), iommus=(IommuRef("/soc/iommu@1", ()),)),
        Node("/soc/isp@3", compatible=("rockchip,rk3568-isp",), iommus=(IommuRef("/soc/iommu@1", ()),)),
        Node("/soc/iommu@9", compatible=RK, iommu_cells=0)])


def w5_board() -> Board:
    """chain_board's IOMMU pair plus a camera behind an SMMUv3 whose driver is absent
    (its IOMMU probe always defers) and dma-ranges on the bus."""
    return Board("w5-board", nodes=_soc(((0, 0, 0x80000000),)) + [
        Node("/soc/iommu@1", compatible=RK, iommu_cells=0, iommus=(IommuRef("/soc/iommu@9", ()),)),
        Node("/soc/cam@3", compatible=("vendor,cam",), iommus=(IommuRef("/soc/smmu@5", (3,)),)),
        Node("/soc/smmu@5", compatible=SMMU, iommu_cells=1),
        Node("/soc/iommu@9", compatible=RK, iommu_cells=0)])


RACE = {"async_probe_all": True, "config_modules": False}  # driver_async_probe=*, no modules

# -- race schedules (see the module docstring) ------------------------------------------------

W4_OOPS = "BUG: unable to handle kernel paging request in platform_dma_configure"
NO_1_4 = {"iommu_device_use_default_domain.defer": None}
W5_CFG: dict[str, Any] = {"iommu_drivers": {"arm-smmu-v3": "absent"}, **RACE}


def _has(r: Result, title: str, device: str, thread: str = "") -> bool:
    return any(f.title == title and f.device == device and f.thread.startswith(thread)
               for f in r.findings)


def _w2_late_probe(r: Result) -> bool:
    """W2: one late probe (NEXT's WARN), at vop's own async bind."""
    late = [f for f in r.findings if f.title == "WARNING in __iommu_probe_device" and f.invariant == 5]
    return len(late) == 1 and late[0].device == "2.vop" and late[0].thread.startswith("kworker/async:2.vop")


def _w4_toctou(r: Result) -> bool:
    """W4: one oops, the walk's hook (deferred-probe kworker) faulting on a stale drv."""
    o = [f for f in r.findings if f.kind == fnd.OOPS]
    return len(o) == 1 and o[0].title == W4_OOPS and o[0].thread.startswith("kworker/u:deferred_probe_work")


def _w4_probed_while_binding(r: Result) -> bool:
    """The walk probes vop while vop's bind is past its dma_configure."""
    return (_has(r, "iommu: DMA ops changed under a bound driver in iommu_setup_dma_ops", "2.vop")
            and _has(r, "iommu: driver probe without IOMMU group in really_probe", "2.vop"))


def _w1_default_domain(r: Result) -> bool:
    """W1: vop's async bind claims its group before the walk made the default domain."""
    return (_has(r, "iommu: driver probe before default domain in really_probe", "2.vop",
                 "kworker/async:2.vop")
            and _has(r, "iommu: DMA ops changed under a bound driver in iommu_setup_dma_ops", "2.vop"))


def _w5_double_free(r: Result) -> bool:
    return _has(r, "dma_range_map freed twice in of_dma_configure_id", "3.cam")


@functools.cache
def race_schedule(name: str) -> list[int]:
    """The schedule of a race of this module, searched for on its board."""
    board, v, cfg, holds = {
        "W2": (chain_board, FIX, RACE, _w2_late_probe),
        "W4": (chain_board, FIX, RACE, _w4_toctou),
        "W4-bind": (chain_board, FIX, RACE, _w4_probed_while_binding),
        "W1": (chain_board, fix_with("next-without-1/4", **NO_1_4), RACE, _w1_default_domain),
        "W5": (w5_board, FIX, W5_CFG, _w5_double_free),
    }[name]
    sched = find_schedule(board(), v, BootConfig(**cfg), holds)
    assert sched is not None, f"{name}: no schedule shows the race"
    return sched


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _reset_model_globals() -> Iterator[None]:
    yield
    set_kernel(None)
    variant.activate(V614)


def run(p: Board, v: Variant, **cfg: Any) -> Result:
    return run_scenario(p, v, BootConfig(**cfg))


def with_title(r: Result, prefix: str) -> list[Finding]:
    return [f for f in r.findings if f.title.startswith(prefix)]


def one(r: Result, prefix: str) -> Finding:
    found = with_title(r, prefix)
    assert found, f"no finding titled {prefix!r} in {[f.title for f in r.findings]}"
    return found[0]


def of_invariant(r: Result, inv: int) -> list[Finding]:
    return [f for f in r.findings if f.invariant == inv]


def oopses(r: Result) -> list[Finding]:
    return [f for f in r.findings if f.kind == fnd.OOPS]


def in_order(trace: list[str], wanted: list[str]) -> bool:
    it = iter(trace)
    return all(any(fn == w for fn in it) for w in wanted)


# -- baseline: V614 and the fixed NEXT boot every small board cleanly --------------------------

BOARDS = {"rk": rk_board, "rk-dma-ranges": lambda: rk_board(dma_ranges=True), "amba": amba_board,
          "chain": chain_board}


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_negative_controls_boot_without_findings(board: str, v: Variant) -> None:
    r = run(BOARDS[board](), v)
    assert r.findings == [] and not r.panicked
    st = r.stats
    assert st["registered_instances"] == st["iommu_instances"]
    assert st["grouped_clients"] == st["clients"] > 0
    assert st["bound_drivers"] == st["devices"] and st["deferred"] == 0


def test_negative_controls_survive_the_race_schedules() -> None:
    """V614 has no IOMMU-layer dma_configure: none of the races of NEXT's walk
    configuring clients exist there (W1 is V614's own: see below)."""
    for name in ("W2", "W4", "W4-bind"):
        sched = race_schedule(name)
        r = run(chain_board(), V614, schedule=sched, **RACE)
        assert r.findings == [], sched


def test_w1_is_a_v614_race_that_1_4_closes() -> None:
    """W1 needs no IOMMU-layer dma_configure: V614 groups the client in the walk
    and makes default domains after the bus walk too, so a bind in between
    claims a group without one (spec W1: "Without 1/4 (V614 semantics) the
    client would bind with dma-direct and be switched to iommu-dma underneath
    it").  Some schedule shows it on V614; NEXT+fix (with 1/4) defers instead."""
    title = "iommu: driver probe before default domain in really_probe"
    sched = find_schedule(chain_board(), V614, BootConfig(**RACE), lambda r: bool(with_title(r, title)))
    assert sched is not None
    f = one(run(chain_board(), V614, schedule=sched, **RACE), title)
    assert f.invariant == 4 and f.thread.startswith(f"kworker/async:{f.device}")
    assert with_title(run(chain_board(), FIX, schedule=sched, **RACE), title) == []


# -- 1: no NULL / bogus dereference --------------------------------------------------------------


def test_inv1_positive_rockchip_next_devm_kmalloc_on_null_dma_dev() -> None:
    r = run(rk_board(), NEXT)
    [f] = oopses(r)
    assert f.title == "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
    assert f.trace[0] == "devm_kmalloc" and f.fault_address == 0x3E8
    assert in_order(f.trace, ["rk_iommu_of_xlate", "of_iommu_configure", "platform_dma_configure",
                              "__iommu_probe_device", "probe_iommu_group", "iommu_device_register",
                              "rk_iommu_probe", "really_probe"])
    assert f.device == "2.vop" and f.thread == "swapper/0/1" and r.panicked


def test_inv1_positive_platform_hook_without_driver_check_is_a_paging_request() -> None:
    """NEXT minus the 4/4 ``!dev->driver`` in platform_dma_configure: the IOMMU-layer call
    (dev->driver NULL) reads ``drv->driver_managed_dma`` through container_of(NULL)."""
    v = fix_with("platform-no-driver-check",
                 **{"platform_dma_configure.use_default_domain": G(P("!ret"), P("!drv->driver_managed_dma"))})
    r = run(rk_board(), v)
    [f] = oopses(r)
    assert f.title == "BUG: unable to handle kernel paging request in platform_dma_configure"
    expected = (PLATFORM_DRIVER_MANAGED_DMA_OFFSET - PLATFORM_DRIVER_DRIVER_OFFSET) & (2**64 - 1)
    assert f.fault_address == expected and 0 < expected < 0x1000
    assert "(->driver_managed_dma)" in f.message
    # DT devices are populated (arch_initcall_sync) before iommu_subsys_init registers the
    # bus notifier (subsys_initcall): the registration walk is the first IOMMU-layer call
    assert in_order(f.trace, ["platform_dma_configure", "__iommu_probe_device", "probe_iommu_group",
                              "iommu_device_register"])
    assert r.panicked
    # the same guard is V614's, harmless there: V614 never calls the hook without a driver
    assert oopses(run(rk_board(), V614)) == []


def test_inv1_positive_amba_hook_without_driver_check_is_a_null_dereference() -> None:
    """amba_driver embeds its device_driver first: container_of(NULL) is NULL."""
    v = fix_with("amba-no-driver-check",
                 **{"amba_dma_configure.use_default_domain": G(P("!ret"), P("!drv->driver_managed_dma"))})
    r = run(amba_board(), v)
    [f] = oopses(r)
    assert f.title == "BUG: kernel NULL pointer dereference in amba_dma_configure"
    assert f.fault_address == 0 and f.device == "4.dma"
    # short-circuit: at device_add the parse defers (ret != 0), so drv is only read in the walk
    assert in_order(f.trace, ["amba_dma_configure", "__iommu_probe_device", "probe_iommu_group",
                              "iommu_device_register"])


def test_inv1_positive_w4_toctou_on_dev_driver_in_the_fixed_next() -> None:
    """W4: the walk's IOMMU-layer dma_configure for a client derives ``drv`` while
    dev->driver is NULL; the client's async bind stores dev->driver before the 4/4 guard
    re-reads it.  (Which device it is follows the boot order: ``soc`` while its
    simple-bus driver registered after the IOMMUs, a client of iommu@1 since it
    links before drivers/pci/.)"""
    r = run(chain_board(), FIX, schedule=race_schedule("W4"), **RACE)
    [f] = oopses(r)
    assert f.title == "BUG: unable to handle kernel paging request in platform_dma_configure"
    assert f.device in ("2.vop", "3.isp", "soc") and f.thread.startswith("kworker/u:deferred_probe_work")
    assert in_order(f.trace, ["platform_dma_configure", "__iommu_probe_device", "probe_iommu_group",
                              "iommu_device_register", "rk_iommu_probe", "deferred_probe_work_func"])
    assert not r.panicked  # a kworker died, not init


# -- 2: lock discipline ------------------------------------------------------------------------


def test_inv2_positive_dma_configure_under_the_probe_lock_deadlocks() -> None:
    r = run(rk_board(), fix_with("hold-lock", **{"iommu_init_device.dma_configure_lock": "hold"}))
    under = one(r, "dma_configure under iommu_probe_device_lock in of_dma_configure_id")
    assert under.kind == fnd.DEADLOCK and under.invariant == 2
    rec = one(r, "possible deadlock in of_iommu_configure")
    assert rec.kind == fnd.DEADLOCK and rec.invariant == 2
    assert "recursive locking" in rec.message and "iommu_probe_device_lock" in rec.message
    assert in_order(rec.trace, ["of_iommu_configure", "of_dma_configure_id", "platform_dma_configure",
                                "__iommu_probe_device", "probe_iommu_group", "iommu_device_register"])
    assert not r.panicked  # init sleeps forever on its own lock


@pytest.mark.parametrize("v", [V614, FIX, fix_with("revalidate", **{
    "iommu_init_device.dma_configure_lock": "drop_revalidate"})], ids=lambda v: v.name)
def test_inv2_negative_lock_dropped_around_dma_configure(v: Variant) -> None:
    r = run(rk_board(), v)
    assert [f for f in r.findings if f.kind == fnd.DEADLOCK or f.invariant == 2] == []


def _in_kernel(fn: Any, v: Variant = V614) -> Kernel:
    k = Kernel()
    set_kernel(k)
    variant.activate(v)
    k.kthread_create("swapper/0", fn)
    k.run()
    return k


@pytest.mark.parametrize("fn, guilty", [("dev_iommu_get", "dev_iommu_get"),
                                        # a generic helper: the title names its caller
                                        ("dev_iommu_priv_set", "unlocked_caller")])
def test_inv2_positive_lockdep_assert_held_without_the_probe_lock(fn: str, guilty: str) -> None:
    """Constructed: model helpers that require iommu_probe_device_lock, called without it."""
    dev = device("c0.client", platform_bus_type)
    dev.iommu = dev_iommu()
    call = {"dev_iommu_get": lambda: iommu_core.dev_iommu_get(dev),
            "dev_iommu_priv_set": lambda: iommu_core.dev_iommu_priv_set(dev, object())}[fn]

    @kfunc
    def unlocked_caller() -> None:
        call()

    @kfunc
    def locked_caller() -> None:
        mutex_lock(iommu_core.iommu_probe_device_lock())
        call()
        mutex_unlock(iommu_core.iommu_probe_device_lock())

    assert _in_kernel(locked_caller).findings == []
    [f] = _in_kernel(unlocked_caller).findings
    assert f.kind == fnd.WARNING and f.invariant == 2 and f.title == f"WARNING in {guilty}"
    assert f.trace[:3] == ["lockdep_assert_held", fn, "unlocked_caller"]
    assert f.message == "lockdep_assert_held(iommu_probe_device_lock) failed"
    assert f.device == "c0.client"


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
def test_inv2_group_mutex_nests_inside_the_probe_lock(v: Variant) -> None:
    """Negative: a real boot records probe lock -> group->mutex only.  Positive
    (constructed): taking the probe lock under a group->mutex is a lockdep report."""
    boot = Boot(rk_board(), v, BootConfig())
    k = boot.run()
    assert k.lock_order.get("iommu_probe_device_lock", set()) >= {"&group->mutex"}
    assert "iommu_probe_device_lock" not in k.lock_order.get("&group->mutex", set())
    assert k.findings == []

    group = next(d.iommu_group for d in boot.devices() if d.iommu_group is not None)

    @kfunc
    def inverted_nesting() -> None:
        mutex_lock(group.mutex)
        mutex_lock(iommu_core.iommu_probe_device_lock())

    k.kthread_create("kworker/u:inv", inverted_nesting)
    k.run()
    f = [f for f in k.findings if f.title == "possible deadlock in inverted_nesting"]
    assert len(f) == 1 and f[0].invariant == 2
    assert "&group->mutex -> iommu_probe_device_lock" in f[0].message


# -- 3: probe exactly once, one group entry ---------------------------------------------------


def test_inv3_positive_v614_replay_in_next_probes_twice() -> None:
    """NEXT with V614's unconditional OF replay: the walk's dma_configure replays
    iommu_probe_device(), which completes the probe inside the outer one."""
    v = fix_with("next-v614-replay", **{"of_iommu_configure.replay": V614.value("of_iommu_configure.replay")})
    r = run(rk_board(), v)
    for dev in ("2.vop", "3.vop"):
        twice = [f for f in with_title(r, "iommu: device probed twice in __iommu_probe_device")
                 if f.device == dev]
        assert len(twice) == 1 and twice[0].kind == fnd.GROUP and twice[0].invariant == 3
        added = [f for f in with_title(r, "iommu: device added to its group twice") if f.device == dev]
        assert len(added) == 1 and added[0].invariant == 3
    assert in_order(one(r, "iommu: device probed twice").trace,
                    ["__iommu_probe_device", "probe_iommu_group", "iommu_device_register"])


def test_inv3_positive_drop_revalidate_still_adds_the_device_to_its_group_twice() -> None:
    """The ``drop_revalidate`` lock alternative returns 0 when someone else grouped the
    device during the window; __iommu_probe_device then adds it to the group again
    (probe_device itself ran once)."""
    v = fix_with("next-v614-replay-revalidate", **{
        "of_iommu_configure.replay": V614.value("of_iommu_configure.replay"),
        "iommu_init_device.dma_configure_lock": "drop_revalidate"})
    r = run(rk_board(), v)
    assert {f.device for f in with_title(r, "iommu: device added to its group twice")} == {"2.vop", "3.vop"}
    assert with_title(r, "iommu: device probed twice") == []


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
def test_inv3_negative(v: Variant) -> None:
    assert of_invariant(run(rk_board(), v), 3) == []


# -- 4: a driver probes only with its IOMMU group and default domain -----------------------


def test_inv4_positive_no_replay_binds_without_a_group() -> None:
    """V614 without the OF replay: the bind parses the fwspec but nobody probes the device."""
    r = run(rk_board(clients=1), v614_with("v614-no-replay", **{"of_iommu_configure.replay": None}))
    f = one(r, "iommu: driver probe without IOMMU group in really_probe")
    assert f.kind == fnd.ISOLATION and f.invariant == 4 and f.device == "2.vop"
    assert "1.iommu is registered" in f.message


def test_inv4_positive_w1_without_1_4_binds_before_the_default_domain() -> None:
    """W1: the walk grouped vop but default domains are made after the bus walk; vop's
    async bind claims the group in between.  With 1/4 the claim defers instead."""
    no_defer = fix_with("next-without-1/4", **{"iommu_device_use_default_domain.defer": None})
    r = run(chain_board(), no_defer, schedule=race_schedule("W1"), **RACE)
    [f] = [f for f in with_title(r, "iommu: driver probe before default domain in really_probe")
           if f.device == "2.vop"]
    assert f.invariant == 4 and f.thread.startswith("kworker/async:2.vop")
    # and the DMA ops switch underneath the bound driver when the walk finishes (6)
    assert one(r, "iommu: DMA ops changed under a bound driver").device == "2.vop"

    fixed = run(chain_board(), FIX, schedule=race_schedule("W1"), **RACE)
    assert with_title(fixed, "iommu: driver probe before default domain") == []


def test_inv4_negative_driver_managed_dma_needs_no_default_domain() -> None:
    """A driver_managed_dma driver does not use the kernel DMA API: the C skips
    1/4's iommu_device_use_default_domain() for it, and its probe before the
    default domain is not a finding -- the same W1 schedule with 1/4 present."""
    cfg: dict[str, Any] = {"drivers": {"rockchip,rk3568-vop": DriverConfig(async_probe=True,
                                                                          driver_managed_dma=True)}}
    r = run(chain_board(), FIX, schedule=race_schedule("W1"), **RACE, **cfg)
    assert with_title(r, "iommu: driver probe before default domain") == []


@pytest.mark.parametrize("v", [V614, FIX, fix_with("next-without-1/4", **{
    "iommu_device_use_default_domain.defer": None})], ids=lambda v: v.name)
def test_inv4_negative_synchronous_boot(v: Variant) -> None:
    """V614 has no 1/4 and needs none in the synchronous boot; neither does NEXT."""
    for board in (rk_board(), chain_board()):
        assert of_invariant(run(board, v), 4) == []


# -- 5: no late IOMMU probe at driver bind (NEXT's dev_WARN) ------------------------------


def _late(r: Result) -> list[Finding]:
    return [f for f in r.findings if f.title == "WARNING in __iommu_probe_device" and f.invariant == 5]


def test_inv5_positive_next_without_the_iommu_layer_dma_configure() -> None:
    """Without 4/4's dma_configure call no walk parses firmware: every client's IOMMU probe
    happens at bind, through the OF replay, with dev->driver set."""
    r = run(rk_board(clients=1), fix_with("next-no-init-dma-configure",
                                          **{"iommu_init_device.dma_configure": None}))
    [f] = _late(r)
    assert f.kind == fnd.WARNING and f.device == "2.vop"
    assert f.message == "late IOMMU probe at driver bind, something fishy here!"
    assert in_order(f.trace, ["__iommu_probe_device", "iommu_probe_device", "of_iommu_configure",
                              "of_dma_configure_id", "platform_dma_configure", "really_probe"])


def test_inv5_positive_w2_replay_window() -> None:
    """W2: vop's async bind sets dev->driver before iommu@1's walk reaches it, so the walk
    skips dma_configure; the bind then parses with dev->iommu NULL and replays."""
    r = run(chain_board(), FIX, schedule=race_schedule("W2"), **RACE)
    [f] = _late(r)
    assert f.device == "2.vop" and f.thread.startswith("kworker/async:2.vop")
    assert in_order(f.trace, ["iommu_probe_device", "of_iommu_configure", "really_probe",
                              "__driver_attach_async_helper"])


def test_inv5_negative() -> None:
    assert _late(run(rk_board(), FIX)) == []
    assert _late(run(rk_board(), V614)) == []  # the WARN is not in V614's code
    assert _late(run(chain_board(), V614, schedule=race_schedule("W2"), **RACE)) == []


# -- 6: no DMA through a device without its default domain (extra) -------------------------


@pytest.mark.parametrize("base", [V614, FIX], ids=lambda v: v.name)
def test_inv6_positive_hook_that_never_claims_the_default_domain(base: Variant) -> None:
    v = base.with_values("no-claim", "", **{"platform_dma_configure.use_default_domain": None})
    r = run(rk_board(clients=1), v)
    f = one(r, "iommu: driver probe without default domain ownership in really_probe")
    assert f.invariant == 6 and f.device == "2.vop"
    assert one(r, "iommu: bound device without default domain").invariant == 6


def test_inv6_positive_walk_probes_a_device_whose_driver_is_probing() -> None:
    r = run(chain_board(), FIX, schedule=race_schedule("W4-bind"), **RACE)
    f = one(r, "iommu: DMA ops changed under a bound driver in iommu_setup_dma_ops")
    assert f.invariant == 6 and f.device == "2.vop"
    assert one(r, "iommu: driver probe without IOMMU group in really_probe").device == "2.vop"


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
def test_inv6_negative(v: Variant) -> None:
    assert of_invariant(run(rk_board(), v), 6) == []


# -- 7: group correctness ------------------------------------------------------------------------


def test_inv7_positive_bound_client_left_without_a_group() -> None:
    r = run(rk_board(clients=1), v614_with("v614-no-replay", **{"of_iommu_configure.replay": None}))
    f = one(r, "iommu: missing IOMMU group for bound device")
    assert f.kind == fnd.GROUP and f.invariant == 7 and f.device == "2.vop"


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
def test_inv7_negative_single_group_instance_groups_all_clients_together(v: Variant) -> None:
    boot = Boot(rk_board(clients=3), v, BootConfig())
    k = boot.run()
    assert k.findings == []
    clients = [d for d in boot.devices() if d.init_name.endswith(".vop")]
    groups = {id(d.iommu_group) for d in clients}
    assert len(clients) == 3 and len(groups) == 1
    inst = clients[0].iommu.iommu_dev
    assert clients[0].iommu_group is inst.singleton_group
    assert [g.dev for g in inst.singleton_group.devices] == clients


# -- 8: dma_configure not replayed at bind -------------------------------------------------------


def test_inv8_positive_init_device_dma_configure_without_the_driver_check() -> None:
    """V614 + the 4/4 call without ``!dev->driver``: the bind's OF replay re-enters
    dma_configure from iommu_init_device."""
    v = v614_with("v614-dma-configure-always",
                  **{"iommu_init_device.dma_configure": G(P("dev->bus->dma_configure"))})
    r = run(rk_board(clients=1), v)
    f = one(r, "dma_configure replayed during driver bind in of_dma_configure_id")
    assert f.kind == fnd.WARNING and f.invariant == 8 and f.device == "2.vop"
    assert f.message == "2 dma_configure calls in one bind attempt"
    assert in_order(f.trace, ["of_dma_configure_id", "platform_dma_configure", "__iommu_probe_device",
                              "iommu_probe_device", "of_iommu_configure", "of_dma_configure_id",
                              "platform_dma_configure", "really_probe"])


def test_inv8_positive_next_race_reenters_dma_configure_at_bind() -> None:
    v = fix_with("next-dma-configure-always",
                 **{"iommu_init_device.dma_configure": G(P("dev->bus->dma_configure"))})
    r = run(chain_board(), v, schedule=race_schedule("W2"), **RACE)
    assert one(r, "dma_configure replayed during driver bind").device == "2.vop"
    # the synchronous boot never binds an unprobed client in NEXT
    assert of_invariant(run(chain_board(), v), 8) == []


def test_inv8_negative() -> None:
    for v in (V614, FIX):
        assert of_invariant(run(rk_board(), v), 8) == []
    # W2 makes the fixed NEXT probe late (5) but does not re-run dma_configure
    assert of_invariant(run(chain_board(), FIX, schedule=race_schedule("W2"), **RACE), 8) == []


# -- 9: dma_range_map set once, freed once ----------------------------------------------------


def test_inv9_positive_next_without_the_skip_reparses_over_the_walks_map() -> None:
    v = fix_with("next-no-skip", **{"of_dma_configure_id.skip_range_map": None})
    r = run(rk_board(clients=1, dma_ranges=True), v)
    over = {f.device: f for f in with_title(r, "dma_range_map overwritten in of_dma_configure_id")}
    # every device the IOMMU layer configured before its bind: the client (the IOMMU itself
    # was populated before the bus notifier existed, and the walk skips it: no "iommus")
    assert set(over) == {"2.vop"}
    f = over["2.vop"]
    assert f.invariant == 9 and "leaks" in f.message
    assert in_order(f.trace, ["of_dma_configure_id", "platform_dma_configure", "really_probe"])


@pytest.mark.parametrize("v", [V614, FIX], ids=lambda v: v.name)
@pytest.mark.parametrize("probe_ret", [0, -12, -517], ids=["bound", "ENOMEM", "EPROBE_DEFER"])
def test_inv9_negative_maps_freed_once_even_when_the_driver_fails(v: Variant, probe_ret: int) -> None:
    cfg = {"drivers": {"rockchip,rk3568-vop0": DriverConfig(probe_ret=probe_ret)}}
    r = run(rk_board(clients=1, dma_ranges=True), v, **cfg)
    assert of_invariant(r, 9) == []


def test_inv9_positive_w5_double_free_of_the_range_map() -> None:
    """W5: cam's failing async bind frees the map the walk's IOMMU-layer call stored
    (device_unbind_cleanup); that call then sees -EPROBE_DEFER from the absent SMMU and
    kfree()s it again."""
    r = run(w5_board(), FIX, schedule=race_schedule("W5"), iommu_drivers={"arm-smmu-v3": "absent"},
            **RACE)
    f = one(r, "dma_range_map freed twice in of_dma_configure_id")
    assert f.device == "3.cam" and f.invariant == 9
    assert in_order(f.trace, ["of_dma_configure_id", "platform_dma_configure", "__iommu_probe_device",
                              "probe_iommu_group", "iommu_device_register"])
    assert run(w5_board(), V614, schedule=race_schedule("W5"), iommu_drivers={"arm-smmu-v3": "absent"},
               **RACE).findings == []


# -- 10: dev->iommu presence restored by a failed of_iommu_configure --------------------------


def _dev_iommu_left(r: Result) -> list[Finding]:
    return with_title(r, "iommu: dev->iommu state changed by failed of_iommu_configure in of_iommu_configure")


def test_inv10_positive_next_with_v614_cleanup() -> None:
    v = fix_with("next-fwspec-free-cleanup", **{"of_iommu_configure.cleanup": "fwspec_free"})
    r = run(mixed_board(), v)
    [f] = _dev_iommu_left(r)
    assert f.invariant == 10 and f.device == "2.vop"
    assert f.message == "present on entry: False, now: True"
    assert in_order(f.trace, ["of_iommu_configure", "of_dma_configure_id", "really_probe"])


def test_inv10_negative_exact_cleanup() -> None:
    assert of_invariant(run(mixed_board(), FIX), 10) == []
    for v in (V614, FIX):
        assert of_invariant(run(rk_board(), v), 10) == []


def test_inv10_v614_frees_exactly_what_it_allocated() -> None:
    """The 6.12 C (drivers/iommu/of_iommu.c:154-157) already has the dev_iommu_present
    form, so V614 keeps dev->iommu as it found it; the bare iommu_fwspec_free() is a
    mutation of V614 and trips the check there too."""
    assert _dev_iommu_left(run(mixed_board(), V614)) == []
    v = V614.with_values("v614-fwspec-free", "", **{"of_iommu_configure.cleanup": "fwspec_free"})
    [f] = _dev_iommu_left(run(mixed_board(), v))
    assert f.device == "2.vop"


# -- 12/16: instance state published before use ------------------------------------------------


def test_inv12_positive_rockchip_callback_runs_before_dma_dev_is_published() -> None:
    r = run(chain_board(), NEXT)
    [f] = oopses(r)
    assert f.title == "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
    # inside the first instance's own probe(), before iommu_device_register() returned
    assert in_order(f.trace, ["rk_iommu_of_xlate", "iommu_device_register", "rk_iommu_probe"])
    assert f.device == "1.iommu"


def test_inv12_negative_dma_dev_before_register() -> None:
    for board in (rk_board(), chain_board(), amba_board()):
        r = run(board, FIX)
        assert oopses(r) == [] and r.stats["grouped_clients"] == r.stats["clients"]


@pytest.mark.kernel_tree
def test_inv12_real_board(kernel_tree: Path) -> None:
    from corpus.dt import load_platform_file

    p = load_platform_file(kernel_tree / "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts")
    [f] = oopses(run(p, NEXT))
    assert f.title == "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
    for v in (FIX, V614):
        r = run(p, v)
        assert r.findings == [], (v.name, [x.title for x in r.findings])
        st = r.stats
        assert st["clients"] > 0 and st["grouped_clients"] == st["clients"]
        assert st["groups"] == st["registered_instances"] == st["iommu_instances"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
