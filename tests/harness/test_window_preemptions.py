"""Window preemptions (``BootConfig.preempt``, kernel.WindowPreemptions): the
fuzzers' compact schedule -- a few switches at the spec's window points --
and the preemption trail race reports carry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.board import Board, load_board
from harness.boot import BootConfig, boot_config_from_json, boot_config_to_json
from harness.kernel import WindowPreemptions
from harness.klog import render_finding
from harness.run import run_scenario
from harness.variant import NEXT
from mutators.space import resolve

BOARDS = Path(__file__).resolve().parents[2] / "corpus" / "boards"
# every driver probes asynchronously (driver_async_probe=*): both arm-smmu
# instances register from their own workers while clients bind
ASYNC = BootConfig(async_probe_all=True, driver_async_probe=("*",))
DOUBLE_PROBE = "iommu: device probed twice in __iommu_probe_device"
NULL_FWSPEC = "BUG: kernel NULL pointer dereference in __iommu_probe_device"
# Window decisions around the second arm-smmu's registration walk on this board
# (about 1,400 in all; the per-driver initcall levels and the PCIe root-bus
# scan of issue 16 moved the walk from ~60 to ~210; with fw_devlink=on it is
# around ~240), each preempted for the first or the second other thread.
AROUND_THE_WALK = [(k, c) for k in range(180, 260, 2) for c in (0, 1)]


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
    found = next((p for p in AROUND_THE_WALK
                  if DOUBLE_PROBE in titles(db845c, replace(ASYNC, preempt=(p,)))), None)
    assert found, f"no single window preemption among {AROUND_THE_WALK} shows the double probe"
    cfg = replace(ASYNC, preempt=(found,))
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
    plain = run_scenario(db845c, NEXT, replace(ASYNC, schedule=r.schedule))
    assert [x.title for x in plain.findings] == [x.title for x in r.findings]


def test_drop_revalidate_closes_the_double_probe(db845c: Board) -> None:
    """The single preemptions around the walk that show NEXT's double probe
    and its NULL fwspec (k 202..224, both choices) show neither on the variant
    that revalidates after retaking the lock."""
    fixed = NEXT.with_values("NEXT+revalidate", "",
                             **{"iommu_init_device.dma_configure_lock": "drop_revalidate"})
    near = [(k, c) for k in range(202, 226, 2) for c in (0, 1)]
    assert any(NULL_FWSPEC in titles(db845c, replace(ASYNC, preempt=(p,))) for p in near[:2])
    for p in near:
        got = [f.title for f in run_scenario(db845c, fixed, replace(ASYNC, preempt=(p,))).findings]
        assert DOUBLE_PROBE not in got and NULL_FWSPEC not in got, p


def test_bad_preempt_in_a_reproducer_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="preempt"):
        boot_config_from_json({"preempt": [["x", 1]]})


def test_the_double_probe_needs_no_fw_devlink_off(db845c: Board) -> None:
    """fw_devlink=on (the kernel's default on DT) holds clients until their
    IOMMU probed, not the two registration walks: W3 stays reachable."""
    cfg = replace(ASYNC, fw_devlink="on")
    assert titles(db845c, cfg) == []
    assert any(DOUBLE_PROBE in titles(db845c, replace(cfg, preempt=(p,))) for p in AROUND_THE_WALK)


def test_decisions_the_chooser_would_not_take_are_skipped_without_changing_the_run(db845c: Board) -> None:
    """The scheduler decides in sched_point() where WindowPreemptions keeps the
    running thread (outside window points): the same run as asking the
    chooser at every point (a plain function: no ``keeps_current``) and as
    recording every decision (which goes through the full pick)."""
    preempt = tuple(AROUND_THE_WALK[:8])
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
#: both arm-smmu instances probe on async workers; one preemption around the
#: 5040000 walk's dma_configure of a 15000000 client (window decisions
#: ~325-361) lets init bind that client meanwhile
SMMU_ASYNC = BootConfig(driver_async_probe=("arm-smmu",))
AROUND_W5 = [(k, 1) for k in range(310, 390)]


def test_w5_dma_range_map_freed_by_a_failing_bind_under_the_walk(db845c: Board) -> None:
    """W5 (spec §3.5): the registration walk's dma_configure of a client of the
    other, not yet registered, SMMU installs dev->dma_range_map and defers in
    of_iommu_configure(); init's bind of the same client tests "already
    set" unlocked, adopts that map, defers too, and device_unbind_cleanup()
    frees it -- then the walk's -EPROBE_DEFER path kfree()s it again.  Under
    device_lock (the bind's own lock) the two are serialised: no double free
    at any of the same preemptions; both plain boots are clean."""
    bug, fixed = resolve(W5_BUG).variant, resolve(W5_FIXED).variant
    assert run_scenario(db845c, bug, SMMU_ASYNC).findings == []
    assert run_scenario(db845c, fixed, SMMU_ASYNC).findings == []
    hit = next((r for p in AROUND_W5
                for r in [run_scenario(db845c, bug, replace(SMMU_ASYNC, preempt=(p,)))]
                if W5 in [f.title for f in r.findings]), None)
    assert hit is not None, f"no single window preemption among {AROUND_W5[0]}..{AROUND_W5[-1]} shows W5"
    f = next(f for f in hit.findings if f.title == W5)
    assert f.trace[:3] == ["of_dma_configure_id", "platform_dma_configure", "__iommu_probe_device"]
    assert "iommu_device_register" in f.trace and f.preemptions
    for p in AROUND_W5:
        got = [x.title for x in run_scenario(db845c, fixed, replace(SMMU_ASYNC, preempt=(p,))).findings]
        assert W5 not in got, p
