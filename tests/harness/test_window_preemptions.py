"""Window preemptions (``BootConfig.preempt``, kernel.WindowPreemptions): the
fuzzers' compact schedule -- a few switches at the spec's window points --
and the preemption trail race reports carry."""

from __future__ import annotations

import functools
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.board import Board, load_board
from harness.boot import BootConfig, boot_config_from_json, boot_config_to_json
from harness.kernel import Kthread, WindowPreemptions, is_window, window_device
from harness.klog import render_finding
from harness.run import run_scenario
from harness.schedules import explore_pct, lower_preemptions
from harness.variant import NEXT, Variant
from mutators.space import resolve

BOARDS = Path(__file__).resolve().parents[2] / "corpus" / "boards"
# every driver probes asynchronously (driver_async_probe=*): both arm-smmu
# instances register from their own workers while clients bind
ASYNC = BootConfig(async_probe_all=True, driver_async_probe=("*",))
# ... with fw_devlink=permissive: the links are made but hold nothing.  With
# the default (rpm) the Adreno SMMU (5040000) waits for its gcc clocks and
# gpucc GDSC, which wait for the RPMh clocks below apps_rsc: it registers
# from deferred probing, after late_initcall, and its walk overlaps the apps
# SMMU's only when that supplier chain binds meanwhile -- several probes on
# other workers, more than one window preemption (PCT reaches it: see
# test_the_double_probe_needs_no_fw_devlink_off).  Permissive lets both
# instances probe at device_initcall, as every boot did before fw_devlink.
PERMISSIVE = replace(ASYNC, fw_devlink="permissive")
DOUBLE_PROBE = "iommu: device probed twice in __iommu_probe_device"
NULL_FWSPEC = "BUG: kernel NULL pointer dereference in __iommu_probe_device"
# Some window preemptions early in the boot (a boot makes about 1,100).
SOME_WINDOWS = [(k, c) for k in range(180, 260, 2) for c in (0, 1)]
# The lock NEXT drops around dma_configure in iommu_init_device: W3's window
DROPPED_LOCK = "mutex_unlock iommu_probe_device_lock"


def window_decisions(board: Board, v: Variant, cfg: BootConfig) -> list[tuple[int, str, str]]:
    """(k, thread, point) of each window decision of the plain run of ``cfg``:
    the decisions ``WindowPreemptions`` counts, where a preemption can go."""
    out: list[tuple[int, str, str]] = []

    def keep(runnable: list[Kthread], cur: Kthread | None, where: str) -> int:
        if cur is None or cur not in runnable:
            return 0
        if is_window(where):
            out.append((len(out), cur.comm, where))
        return runnable.index(cur)

    run_scenario(board, v, replace(cfg, preempt=()), chooser=keep)
    return out


def walk_preemptions(board: Board, v: Variant, cfg: BootConfig) -> list[tuple[int, int]]:
    """One preemption, for the first or the second other thread, at each
    decision where an IOMMU's worker drops ``iommu_probe_device_lock``: the
    registration walks' windows, found in the run instead of pinned (the boot
    order moves them: per-driver initcall levels, the PCIe scan, link order
    and fw_devlink each did)."""
    return [(k, c) for k, comm, where in window_decisions(board, v, cfg)
            if comm.startswith("kworker/async:") and comm.endswith(".iommu") and where == DROPPED_LOCK
            for c in (0, 1)]


@functools.cache
def w3_preemptions() -> dict[str, list[tuple[int, int]]]:
    """NEXT's W3 on sdm845-db845c (PERMISSIVE): the single walk preemptions
    that show the double probe or the NULL fwspec, a few of each."""
    board = load_board(BOARDS / "sdm845-db845c.json")
    hits: dict[str, list[tuple[int, int]]] = {DOUBLE_PROBE: [], NULL_FWSPEC: []}
    for p in walk_preemptions(board, NEXT, PERMISSIVE):
        got = titles(board, replace(PERMISSIVE, preempt=(p,)))
        for t in hits:
            if t in got:
                hits[t].append(p)
        if min(len(h) for h in hits.values()) >= 3:
            break
    return hits


@pytest.fixture(scope="module")
def db845c() -> Board:
    return load_board(BOARDS / "sdm845-db845c.json")


def titles(board: Board, cfg: BootConfig) -> list[str]:
    return [f.title for f in run_scenario(board, NEXT, cfg).findings]


def test_no_preemption_is_the_plain_schedule(db845c: Board) -> None:
    plain = run_scenario(db845c, NEXT, ASYNC, record=True)
    assert plain.findings == []
    # preemption points past the last window decision change nothing
    late = run_scenario(db845c, NEXT, replace(ASYNC, preempt=((100_000, 1),)), record=True)
    assert late.schedule == plain.schedule


def test_one_window_preemption_shows_the_w3_double_probe_on_next(db845c: Board) -> None:
    """Two arm-smmu instances register from async workers; one preemption at a
    window point lets both walks probe the same device through the lock NEXT
    drops around dma_configure (W3): interleaving-only, the plain boot is clean."""
    assert titles(db845c, PERMISSIVE) == []
    hits = w3_preemptions()[DOUBLE_PROBE]
    assert hits, "no single walk preemption shows the double probe"
    cfg = replace(PERMISSIVE, preempt=(hits[0],))
    r = run_scenario(db845c, NEXT, cfg, record=True)
    f = next(f for f in r.findings if f.title == DOUBLE_PROBE)
    # the report: the other thread's stack and the preemption that led there
    assert f.threads and f.preemptions
    assert any(" -> " in p and " at " in p for p in f.preemptions)
    log = "\n".join(render_finding(f))
    assert "other thread" in log and "preempted on the way here:" in log
    # replays: from the reproducer's config, and from the recorded plain schedule
    again = run_scenario(db845c, NEXT, boot_config_from_json(boot_config_to_json(cfg)))
    assert [x.title for x in again.findings] == [x.title for x in r.findings]
    assert r.schedule is not None
    plain = run_scenario(db845c, NEXT, replace(PERMISSIVE, schedule=r.schedule))
    assert [x.title for x in plain.findings] == [x.title for x in r.findings]


def test_drop_revalidate_closes_the_double_probe(db845c: Board) -> None:
    """The single walk preemptions that show NEXT's double probe and its NULL
    fwspec show neither on the variant that revalidates after retaking the lock."""
    fixed = NEXT.with_values("NEXT+revalidate", "",
                             **{"iommu_init_device.dma_configure_lock": "drop_revalidate"})
    hits = w3_preemptions()
    assert hits[DOUBLE_PROBE] and hits[NULL_FWSPEC]
    for p in hits[DOUBLE_PROBE] + hits[NULL_FWSPEC]:
        got = [f.title for f in run_scenario(db845c, fixed, replace(PERMISSIVE, preempt=(p,))).findings]
        assert DOUBLE_PROBE not in got and NULL_FWSPEC not in got, p


def test_bad_preempt_in_a_reproducer_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="preempt"):
        boot_config_from_json({"preempt": [["x", 1]]})
    for bad in ([["/soc@0/gpu@5000000", 1]], [[1, 2, 3]], [["/soc@0/gpu@5000000", -1, 0]], "x"):
        with pytest.raises(ValueError, match="preempt_dev"):
            boot_config_from_json({"preempt_dev": bad})
    good = BootConfig(preempt_dev=(("/soc@0/gpu@5000000", 5, 1),))
    assert boot_config_from_json(boot_config_to_json(good)) == good


def test_the_double_probe_needs_no_fw_devlink_off(db845c: Board) -> None:
    """fw_devlink=on (the kernel's default on DT) holds the Adreno SMMU until
    its clock and power-domain suppliers bound -- after late_initcall, from
    deferred probing -- not the race: W3 stays reachable once that supplier
    chain binds while the apps SMMU's walk is still going.  No single window
    preemption gets there (each supplier probes on its own worker); PCT's
    random switches at every scheduling point do, and the recorded schedule
    replays it.  How often it switches is searched too: since the pinctrl-N
    and *-supply links hold more of the supplier chain, few switches reach
    it (p=0.005: first at seed 34; p=0.02: none in 300 seeds), more did
    before (p=0.02)."""
    cfg = replace(ASYNC, fw_devlink="on")
    assert titles(db845c, cfg) == []
    hit = next((r for p in (0.005, 0.02) for _, r in explore_pct(db845c, NEXT, cfg, range(100), p=p)
                if DOUBLE_PROBE in [f.title for f in r.findings]), None)
    assert hit is not None and hit.schedule is not None
    f = next(f for f in hit.findings if f.title == DOUBLE_PROBE)
    # both registration walks: this thread's and another one's
    assert "iommu_device_register" in f.trace
    assert any("iommu_device_register" in t for t in f.threads.values())
    assert DOUBLE_PROBE in titles(db845c, replace(cfg, schedule=hit.schedule))


def test_decisions_the_chooser_would_not_take_are_skipped_without_changing_the_run(db845c: Board) -> None:
    """The scheduler decides in sched_point() where WindowPreemptions keeps the
    running thread (outside window points): the same run as asking the
    chooser at every point (a plain function: no ``keeps_current``) and as
    recording every decision (which goes through the full pick)."""
    preempt = tuple(SOME_WINDOWS[:8])
    cfg = replace(ASYNC, preempt=preempt)
    fast = run_scenario(db845c, NEXT, cfg)
    wp = WindowPreemptions(preempt)
    asked = run_scenario(db845c, NEXT, replace(cfg, preempt=()),
                         chooser=lambda runnable, cur, where: wp(runnable, cur, where))
    recorded = run_scenario(db845c, NEXT, cfg, record=True)
    for other in (asked, recorded):
        assert other.decisions == fast.decisions > 1000
        assert [f.to_json() for f in other.findings] == [f.to_json() for f in fast.findings]
        assert other.log == fast.log
        assert other.windows == fast.windows  # window coverage (engine feedback)
    assert fast.windows
    plain = run_scenario(db845c, NEXT, ASYNC)  # no chooser: window points still recorded
    assert plain.windows == run_scenario(db845c, NEXT, ASYNC, record=True).windows
    assert plain.windows
    assert wp.seen > len(preempt)  # the window points were all put to the chooser


# W5: the RACE_BASE of tests/quality/test_races.py with the replay guard's
# `!dev_iommu_fwspec_get(dev)` (the walk's own replay does not re-enter
# dma_configure), and that base with the IOMMU-layer call under device_lock.
W5_BUG = ("NEXT+rk_iommu_probe.dma_dev:=before_register+platform_dma_configure.driver_read:=once"
          "+iommu_init_device.dma_configure_lock:=drop_revalidate"
          "+iommu_init_device.dma_configure:+!dev->iommu->fwspec")
W5_FIXED = W5_BUG.replace(":=drop_revalidate", ":=device_lock")
W5 = "dma_range_map freed twice in of_dma_configure_id"
#: both arm-smmu instances probe on async workers, clients bind on init and
#: the deferred-probe work
SMMU_ASYNC = BootConfig(driver_async_probe=("arm-smmu",))


@functools.cache
def w5_walk_preemption() -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """The first single walk preemption that shows W5 on W5_BUG (SMMU_ASYNC),
    and the ones tried before it."""
    board = load_board(BOARDS / "sdm845-db845c.json")
    bug = resolve(W5_BUG).variant
    tried: list[tuple[int, int]] = []
    for p in walk_preemptions(board, bug, SMMU_ASYNC):
        tried.append(p)
        if W5 in titles_of(board, W5_BUG, replace(SMMU_ASYNC, preempt=(p,))):
            return p, tried
    return None, tried


def titles_of(board: Board, variant: str, cfg: BootConfig) -> list[str]:
    return [f.title for f in run_scenario(board, resolve(variant).variant, cfg).findings]


def test_w5_dma_range_map_freed_by_a_failing_bind_under_the_walk(db845c: Board) -> None:
    """W5 (spec §3.5): the registration walk's dma_configure of a client of the
    other, not yet registered, SMMU installs dev->dma_range_map and defers in
    of_iommu_configure(); a bind of the same client tests "already set"
    unlocked, adopts that map, defers too, and device_unbind_cleanup() frees
    it -- then the walk's -EPROBE_DEFER path kfree()s it again.  (With
    fw_devlink the apps SMMU registers first and its walk configures the
    Adreno SMMU's clients, which the deferred-probe work binds once their
    clock suppliers did; before, it was the other way round.)  Under
    device_lock (the bind's own lock) the two are serialised: no double free
    at any of the same preemptions; both plain boots are clean."""
    bug, fixed = resolve(W5_BUG).variant, resolve(W5_FIXED).variant
    assert run_scenario(db845c, bug, SMMU_ASYNC).findings == []
    assert run_scenario(db845c, fixed, SMMU_ASYNC).findings == []
    p, tried = w5_walk_preemption()
    assert p is not None, f"no single walk preemption of {len(tried)} shows W5"
    hit = run_scenario(db845c, bug, replace(SMMU_ASYNC, preempt=(p,)))
    f = next(f for f in hit.findings if f.title == W5)
    assert f.trace[:3] == ["of_dma_configure_id", "platform_dma_configure", "__iommu_probe_device"]
    assert "iommu_device_register" in f.trace and f.preemptions
    for p in tried:
        got = [x.title for x in run_scenario(db845c, fixed, replace(SMMU_ASYNC, preempt=(p,))).findings]
        assert W5 not in got, p


def device_windows(board: Board, v: Variant, cfg: BootConfig) -> list[str | None]:
    """The device (:func:`harness.kernel.window_device`) of each window
    decision of the plain run of ``cfg``, in the order WindowPreemptions counts them."""
    out: list[str | None] = []

    def keep(runnable: list[Kthread], cur: Kthread | None, where: str) -> int:
        if cur is None or cur not in runnable:
            return 0
        if is_window(where):
            out.append(window_device(sys._getframe(1)))
        return runnable.index(cur)

    run_scenario(board, v, replace(cfg, preempt=()), chooser=keep)
    return out


def test_a_device_aimed_preemption_is_the_absolute_one_it_took(db845c: Board) -> None:
    """``preempt_dev`` (device, i, c) switches at the i-th window decision
    about that device: W5's walk preemption, named by its device and its
    occurrence there, shows W5 the same way, and lowered to the absolute
    (k, c) it took it is the same run decision for decision (what the
    minimiser and an old reproducer see)."""
    p, _ = w5_walk_preemption()
    assert p is not None
    k, c = p
    bug = resolve(W5_BUG).variant
    devs = device_windows(db845c, bug, SMMU_ASYNC)
    dev = devs[k]
    assert dev is not None and dev.startswith("/")  # a DT node: an IOMMU client
    i = devs[:k].count(dev)
    aimed = replace(SMMU_ASYNC, preempt_dev=((dev, i, c),))
    a = run_scenario(db845c, bug, aimed, record=True)
    assert W5 in [f.title for f in a.findings]
    low = lower_preemptions(db845c, bug, aimed)
    assert low.preempt == (p,) and low.preempt_dev == ()
    b = run_scenario(db845c, bug, low, record=True)
    assert a.schedule == b.schedule and a.log == b.log
    # the same device, another of its window decisions: not W5
    assert W5 not in titles_of(db845c, W5_BUG, replace(SMMU_ASYNC, preempt_dev=((dev, i + 2, c),)))
