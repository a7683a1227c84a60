"""The minimiser: fewer devices, drivers, events and schedule choices, same title."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fuzz.gen import FuzzInput, with_cfg
from fuzz.minimise import (
    Minimiser,
    _aim,
    _bulk_devices,
    _closure,
    _keep,
    _node_named,
    _relevant,
    _restrict,
    _schedule,
    _units,
    minimise,
)
from fuzz.runcache import RunCache
from fuzz.variant_arg import resolve
from harness.boot import BootConfig, DriverConfig
from harness.errno import EPROBE_DEFER
from harness.kernel import is_window
from harness.run import run_scenario
from harness.schedules import lower_preemptions
from harness.variant import NEXT, V614
from tests.fuzz.helpers import RK, SEED_TITLE, board
from tests.harness.test_window_preemptions import DOUBLE_PROBE, PERMISSIVE, w3_preemptions


def noisy_seed_scenario() -> FuzzInput:
    b = board(RK)
    clients = [n.path for n in b.platform.nodes if n.iommus][:3]
    compat = [n.compatible[0] for n in b.platform.nodes if n.compatible and not n.iommus][5:8]
    cfg = BootConfig(
        drivers={c: DriverConfig(probe_ret=-EPROBE_DEFER) for c in compat},
        schedule=[1, 2, 3, 1, 0, 2], deferred_probe_timeout=30, driver_order=tuple(compat[:2]),
        events=tuple(("unbind", c) for c in clients))
    return FuzzInput(RK, b.platform, cfg)


def test_minimise_keeps_title_and_the_iommu_its_client_needs() -> None:
    s = noisy_seed_scenario()
    assert SEED_TITLE in [f.title for f in run_scenario(s.platform, NEXT, s.cfg).findings]
    m = minimise(s, NEXT, SEED_TITLE)
    out = m.scenario
    assert m.finding.title == SEED_TITLE
    assert [f.title for f in run_scenario(out.platform, NEXT, out.cfg).findings] == [SEED_TITLE]
    assert out.cfg.events == () and out.cfg.schedule == [] and out.cfg.driver_order == ()
    assert out.cfg.deferred_probe_timeout == 10
    assert m.devices_before > 150 and m.devices_after <= 3
    paths = {n.path for n in out.platform.nodes}
    # every remaining client's IOMMU is still there
    for n in out.platform.nodes:
        for r in n.iommus:
            assert r.iommu in paths
    assert any(n.iommu_cells is not None for n in out.platform.nodes)
    assert m.runs < 200


def test_the_devices_no_iommu_needs_go_in_one_run_before_the_other_passes() -> None:
    """The schedule, configuration and event passes then boot the IOMMUs, their
    clients and the ancestors of those only; a drop that loses the title is not taken."""
    s = noisy_seed_scenario()
    m = Minimiser(NEXT, SEED_TITLE)
    assert m.fails(s)
    out = _bulk_devices(m, s)
    assert m.runs == 2
    paths = [n.path for n in out.platform.nodes]
    assert set(paths) == _relevant(s.platform) | {"/"} and len(paths) < len(s.platform.nodes)
    assert out.cfg == s.cfg and SEED_TITLE in [f.title for f in
                                               run_scenario(out.platform, NEXT, out.cfg).findings]

    class Never(Minimiser):
        def fails(self, s: FuzzInput) -> bool:
            self.runs += 1
            return False

    never = Never(NEXT, SEED_TITLE)
    assert _bulk_devices(never, s) is s and never.runs == 1


def test_minimise_refuses_a_scenario_without_the_finding() -> None:
    s = FuzzInput(RK, board(RK).platform, BootConfig())
    with pytest.raises(ValueError):
        minimise(s, V614, SEED_TITLE)


def test_minimise_respects_its_budget() -> None:
    m = minimise(noisy_seed_scenario(), NEXT, SEED_TITLE, budget=5)
    assert m.runs <= 6  # the budget plus the confirming run
    assert m.finding.title == SEED_TITLE


def test_restrict_refuses_dangling_references() -> None:
    p = board(RK).platform
    client = next(n for n in p.nodes if n.iommus)
    keep_client_only = {client.path}
    assert _restrict(p, keep_client_only) is None
    ok = _restrict(p, {client.path, client.iommus[0].iommu})
    assert ok is not None and {n.path for n in ok.nodes} == {"/", client.path, client.iommus[0].iommu}


def test_with_cfg_copies() -> None:
    s = FuzzInput(RK, board(RK).platform, BootConfig(schedule=[1]))
    t = with_cfg(s, schedule=[])
    assert s.cfg.schedule == [1] and t.cfg.schedule == []


def test_cutting_the_schedule_keeps_the_window_preemption_where_it_was() -> None:
    """A window preemption counts window decisions after the schedule, so the
    schedule it depends on cannot be cut naively: the minimiser re-anchors it.

    The W3 double probe on sdm845-db845c under NEXT (fw_devlink=permissive:
    both arm-smmu walks at device_initcall) needs one window preemption in a
    registration walk; here it comes after a 300-entry schedule (the run's
    own first 300 decisions) with the preemption counted from there.  The
    schedule pass cuts all of it and puts the preemption back at the
    decision it took."""
    db845c = board("sdm845-db845c").platform
    found = w3_preemptions()[DOUBLE_PROBE][0]
    k, c = found
    r = run_scenario(db845c, NEXT, replace(PERMISSIVE, preempt=(found,)), record=True)
    assert r.schedule is not None and r.where is not None
    n = 300
    before = sum(is_window(w) for w in r.where[:n])
    assert 0 < before <= k
    s = FuzzInput("sdm845-db845c", db845c, replace(PERMISSIVE, schedule=r.schedule[:n],
                                                   preempt=((k - before, c),)))
    m = Minimiser(NEXT, DOUBLE_PROBE)
    assert m.fails(s)
    # cutting the schedule without re-anchoring moves the preemption: no double probe
    assert not m.fails(with_cfg(s, schedule=[]))
    out = _schedule(m, s)
    assert out.cfg.schedule == [] and out.cfg.preempt == (found,)
    assert m.fails(out)


# -- window preemptions aimed at their devices ------------------------------------

# A race on the seed board: both rk_iommu instances register from async
# workers (every driver asynchronous) and one worker's registration walk is
# preempted under the IOMMU lock at a qos node, for the other worker, which
# then finds a half-initialised device.  Written as a device-aimed
# preemption and lowered to the absolute one it takes, as the session hands
# it to the minimiser (its ``k`` moves with every change to the boot order;
# the device and its decision do not).
RK_FIX = resolve("NEXT+rk_iommu_probe.dma_dev:=before_register").variant
NULL_FWSPEC = "BUG: kernel NULL pointer dereference in __iommu_probe_device"
QOS = "/qos@fe158300"
RACE = BootConfig(async_probe_all=True, driver_async_probe=("rk_iommu",),
                  preempt_dev=((QOS, 1, 0),))


def race_scenario(extra: tuple[tuple[int, int], ...] = ()) -> FuzzInput:
    p = board(RK).platform
    low = lower_preemptions(p, RK_FIX, RACE)
    return FuzzInput(RK, p, replace(low, preempt=low.preempt + extra))


def test_an_absolute_preemption_keeps_the_whole_board_in_the_bulk_drop() -> None:
    """What the aimed form is for: dropping the devices no IOMMU needs takes
    window decisions out of the boot before the preemption's, which then
    lands elsewhere, and the race is gone."""
    s = race_scenario()
    assert len(s.cfg.preempt) == 1 and s.cfg.preempt_dev == ()
    m = Minimiser(RK_FIX, NULL_FWSPEC)
    assert m.fails(s)
    assert _bulk_devices(m, s) is s


def test_aiming_keeps_the_run_and_names_the_device_of_each_switch() -> None:
    s = race_scenario(extra=((100_000, 1),))  # past the last window decision: never fires
    m = Minimiser(RK_FIX, NULL_FWSPEC)
    assert m.fails(s)
    runs = m.runs
    aimed = _aim(m, s)
    assert m.runs == runs + 1
    assert aimed.cfg.preempt == () and aimed.cfg.preempt_dev == ((QOS, 1, 0),)
    before = run_scenario(s.platform, RK_FIX, s.cfg)
    after = run_scenario(aimed.platform, RK_FIX, aimed.cfg)
    assert [f.to_json() for f in after.findings] == [f.to_json() for f in before.findings]
    # and back: the absolute preemption it takes is the one that fired
    assert lower_preemptions(s.platform, RK_FIX, aimed.cfg).preempt == s.cfg.preempt[:1]
    # what the bulk drop keeps: the switch's device and its ancestors beside
    # the IOMMUs and their clients; the aimed form survives the drop
    assert m.finding is not None
    keep = _keep(m, aimed)
    assert QOS in keep and QOS not in _relevant(s.platform)
    small = _bulk_devices(m, aimed)
    assert small is not aimed and QOS in {n.path for n in small.platform.nodes}
    assert NULL_FWSPEC in [f.title for f in run_scenario(small.platform, RK_FIX, small.cfg).findings]


def test_a_whole_board_race_is_minimised_in_few_runs_to_an_absolute_reproducer() -> None:
    """The seed board's race above kept 39 of 173 devices in 120 runs when
    preemptions stayed absolute; aimed, the bulk drop takes the board down
    to the IOMMUs, their clients and the qos node in one run."""
    s = race_scenario()
    m = minimise(s, RK_FIX, NULL_FWSPEC)
    out = m.scenario
    assert m.finding.title == NULL_FWSPEC
    assert out.cfg.preempt_dev == () and len(out.cfg.preempt) == 1
    assert NULL_FWSPEC in [f.title for f in run_scenario(out.platform, RK_FIX, out.cfg).findings]
    assert m.devices_before > 150 and m.devices_after <= 5
    assert m.runs < 40


def test_the_finding_device_is_kept_by_its_bus_id() -> None:
    p = board(RK).platform
    assert _node_named(p, "fe158300.qos") == QOS
    assert _node_named(p, "no-such.device") is None


# -- the device pass ---------------------------------------------------------------


def test_closure_drops_the_subtree_of_a_dropped_node() -> None:
    p = board("sdm845-db845c").platform
    units = _units(p)
    rsc = "/soc@0/rsc@179c0000"
    inside = [u for u in units if u.startswith(rsc + "/")]
    assert inside
    kept = _closure(p, [u for u in units if u != rsc])
    assert not set(inside) & set(kept)
    assert len(kept) == len(units) - 1 - len(inside)


def test_ddmin_runs_a_closed_candidate_once() -> None:
    """Dropping a parent, or the parent and its child, closes to the same
    board: the second is answered by the first's run."""

    class Count(Minimiser):
        def __init__(self) -> None:
            super().__init__(RK_FIX, "any")
            self.seen: list[tuple[str, ...]] = []

        def fails(self, s: FuzzInput) -> bool:
            self.runs += 1
            self.seen.append(tuple(n.path for n in s.platform.nodes))
            return False

    p = board(RK).platform
    top = next(n.path for n in p.nodes if n.path.count("/") == 1
               and any(c.path.startswith(n.path + "/") for c in p.nodes))
    sub = [u for u in _units(p) if u == top or u.startswith(top + "/")]
    small = _restrict(p, set(sub))
    assert small is not None
    s = FuzzInput(RK, small, BootConfig())
    m = Count()
    units = _units(small)
    m.ddmin(units, lambda kept: FuzzInput(RK, _restrict(small, set(kept)) or small, BootConfig()),
            s, close=lambda kept: _closure(small, kept))
    assert m.runs > 1 and len(m.seen) == len(set(m.seen))


def test_a_title_no_bulk_drop_keeps_is_minimised_in_fewer_runs() -> None:
    """sdm845-db845c: the GPU SMMU's client (the gmu) bound without a group
    needs qcom_scm (no IOMMU client, no supplier in DT), so the bulk drop
    loses the title and the device pass works on the whole board (391
    nodes).  Dropping each chunk's subtrees with it took 83 runs to 9
    devices; refusing such chunks as dangling, 100 runs to 10 devices."""
    p = board("sdm845-db845c").platform
    title = "iommu: missing IOMMU group for bound device"
    s = FuzzInput("sdm845-db845c", p, BootConfig(async_probe_all=True, config_modules=False))
    m0 = Minimiser(RK_FIX, title)
    assert m0.fails(s) and _bulk_devices(m0, s) is s
    m = minimise(s, RK_FIX, title)
    out = m.scenario
    assert title in [f.title for f in run_scenario(out.platform, RK_FIX, out.cfg).findings]
    assert m.devices_after <= 9 and m.runs < 95


def test_what_earlier_reproducers_kept_rescues_the_bulk_drop() -> None:
    """The second title of a session on sdm845-db845c: the bulk drop alone
    loses it (the SMMU waits for qcom_scm), with the nodes the first
    reproducer kept it holds, in one more run, and every later pass boots
    a board of a few dozen nodes instead of 391."""
    p = board("sdm845-db845c").platform
    title = "iommu: missing IOMMU group for bound device"
    s = FuzzInput("sdm845-db845c", p, BootConfig(async_probe_all=True, config_modules=False))
    cache = RunCache(RK_FIX)
    first = minimise(s, RK_FIX, title, cache=cache)
    assert cache.kept[p.name] == {n.path for n in first.scenario.platform.nodes} - {"/"}
    alone = Minimiser(RK_FIX, title)
    assert alone.fails(s) and _bulk_devices(alone, s) is s and not alone.learned
    m = Minimiser(RK_FIX, title, cache=cache)
    assert m.fails(s)
    runs = m.runs
    out = _bulk_devices(m, s)
    assert m.runs == runs + 2
    kept = {n.path for n in out.platform.nodes}
    assert cache.kept[p.name] <= kept and len(kept) < len(p.nodes) // 4
    # the device pass then tries to drop the other nodes first
    assert m.learned == cache.kept[p.name]
    assert title in [f.title for f in run_scenario(out.platform, RK_FIX, out.cfg).findings]
