"""The scenario generator: providers, the plain boot, determinism, JSON round trip."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.bundled import load_bundled
from fuzz.gen import (
    MAX_DEVICE_WINDOW,
    MAX_PREEMPTIONS,
    ByteProvider,
    FuzzInput,
    from_bytes,
    pci_roots,
    scenario_from_bytes_strategy,
    scenarios,
    window_targets,
)
from harness.boot import EVENT_OPS, BootConfig, boot_config_from_json
from harness.run import run_scenario
from harness.variant import NEXT, V614
from tests.fuzz.helpers import RK, SEED_TITLE, ctx

BOARDS = (RK, "sun50i-h6-orangepi-3", "fvp-base-revc")


def test_byte_provider_reads_big_endian_and_defaults_to_low_end() -> None:
    p = ByteProvider(bytes([5, 1, 2]))
    assert p.ConsumeIntInRange(0, 9) == 5
    assert p.ConsumeIntInRange(0, 0xFFFF) == 0x0102
    assert p.ConsumeIntInRange(3, 7) == 3  # exhausted: the low end
    assert p.ConsumeBool() is False
    assert ByteProvider(bytes([9])).ConsumeIntInRange(0, 3) == 1  # wraps into the range
    assert ByteProvider(b"\x01").PickValueInList(["a", "b"]) == "b"


def test_empty_input_is_the_plain_boot_of_board_zero() -> None:
    c = ctx(*BOARDS)
    s = from_bytes(b"", c)
    assert s.board == RK and s.mutation is None
    assert s.cfg == BootConfig()
    assert [f.title for f in run_scenario(s.platform, NEXT, s.cfg).findings] == [SEED_TITLE]
    # bytes([i]) selects board i, defaults otherwise
    s2 = from_bytes(bytes([2]), c)
    assert s2.board == "fvp-base-revc" and s2.cfg == BootConfig()


def test_generation_is_deterministic_and_varied() -> None:
    c = ctx(*BOARDS)
    rng = random.Random(7)
    datas = [rng.randbytes(rng.randint(1, 64)) for _ in range(60)]
    a = [from_bytes(d, c).describe() for d in datas]
    b = [from_bytes(d, c).describe() for d in datas]
    assert a == b
    assert len(set(a)) > 50
    scen = [from_bytes(d, c) for d in datas]
    assert any(s.mutation for s in scen)
    assert any(s.cfg.events for s in scen)
    assert any(s.cfg.schedule for s in scen)
    assert any(s.cfg.drivers for s in scen)
    assert all(op in EVENT_OPS for s in scen for op, _ in s.cfg.events)


def test_config_json_round_trip() -> None:
    c = ctx(*BOARDS)
    rng = random.Random(3)
    for _ in range(40):
        s = from_bytes(rng.randbytes(48), c)
        back = boot_config_from_json(s.config_json(), list(s.cfg.schedule))
        assert back == s.cfg


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(s=scenarios(ctx(*BOARDS)))
def test_hypothesis_strategy_scenarios_run(s: FuzzInput) -> None:
    r = run_scenario(s.platform, V614, s.cfg)
    assert r.platform == s.platform.name


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(s=scenario_from_bytes_strategy(ctx(*BOARDS)), extra=st.integers(0, 3))
def test_binary_strategy_drives_the_same_generator(s: FuzzInput, extra: int) -> None:
    assert s.board in BOARDS
    run_scenario(s.platform, NEXT, s.cfg)


def test_reorder_devices_keeps_subtrees_whole_and_parents_first() -> None:
    from fuzz.gen import reorder_devices
    from harness.board import Board

    p = ctx(RK).boards[0].platform
    q = reorder_devices(p, random.Random(4))
    assert sorted(n.path for n in q.nodes) == sorted(n.path for n in p.nodes)
    assert [n.path for n in q.nodes] != [n.path for n in p.nodes]
    seen: set[str] = set()
    for n in q.nodes:
        assert n.parent_path is None or n.parent_path in seen
        seen.add(n.path)
    Board.from_json(q.to_json(), "reordered")  # still valid


def test_boot_time_dimensions_are_generated_and_round_trip() -> None:
    """Issue 17's boot-time dimensions: events while userspace starts, the
    fw_devlink= mode, a hot-plugged PCI function with its rescan -- each in
    some generated inputs, none without the race dimensions, all replayable
    from the reproducer's config."""
    c = ctx("sdm845-db845c")
    rng = random.Random(7)
    inputs = [from_bytes(rng.randbytes(rng.randint(1, 64)), c) for _ in range(600)]
    during = [s for s in inputs if s.cfg.events_during_boot]
    devlink = [s for s in inputs if s.cfg.fw_devlink != "rpm" or s.cfg.fw_devlink_strict]
    hot = [s for s in inputs if s.cfg.pci]
    assert during and devlink and hot
    assert all(s.cfg.events for s in during)
    for s in hot:
        [spec] = s.cfg.pci
        assert spec.startswith("hotplug:") and s.cfg.events[-1][0] == "rescan"
        # a host bridge of the board (or of its DT mutation)
        assert s.cfg.events[-1][1] in {path for path, _, _ in pci_roots(s.platform)}
    for s in (during[0], devlink[0], hot[0]):
        assert boot_config_from_json(s.config_json(), s.cfg.schedule) == s.cfg
    old = ctx("sdm845-db845c", races=False)
    rng = random.Random(7)
    assert not any(s.cfg.events_during_boot or s.cfg.pci or s.cfg.fw_devlink != "rpm"
                   for s in (from_bytes(rng.randbytes(rng.randint(1, 64)), old) for _ in range(200)))


def test_window_targets_group_each_iommu_with_its_clients() -> None:
    board = load_bundled("sdm845-db845c")
    groups = window_targets(board)
    iommus = [n.path for n in board.nodes if n.iommu_cells is not None and n.available()]
    # one group per IOMMU instance, led by it, with the nodes naming it
    assert sorted(g[0] for g in groups) == sorted(iommus)
    by_path = {n.path: n for n in board.nodes}
    for g in groups:
        for path in g[1:]:
            n = by_path[path]
            assert g[0] in {r.iommu for r in n.iommus} | {e.iommu for e in n.iommu_map}
    clients = {n.path for n in board.nodes if (n.iommus or n.iommu_map) and n.available()}
    assert {p for g in groups for p in g[1:]} == clients


def test_generated_preemptions_aim_at_windows_and_leave_out_the_plain_schedule() -> None:
    """Window preemptions come absolute (k-th window decision) or aimed at a
    device (i-th window decision about it); an input with either has no plain
    schedule (which the preemptions would count past), one without may."""
    c = ctx("sdm845-db845c")
    rng = random.Random(11)
    inputs = [from_bytes(rng.randbytes(rng.randint(1, 64)), c) for _ in range(400)]
    aimed = [s for s in inputs if s.cfg.preempt_dev]
    absolute = [s for s in inputs if s.cfg.preempt]
    assert aimed and absolute
    for s in aimed:
        assert len(s.cfg.preempt_dev) + len(s.cfg.preempt) <= MAX_PREEMPTIONS
        aims = {p for g in window_targets(s.platform) for p in g}  # its DT mutation's too
        assert all(d in aims and 0 <= i <= MAX_DEVICE_WINDOW for d, i, _ in s.cfg.preempt_dev)
        assert boot_config_from_json(s.config_json(), s.cfg.schedule) == s.cfg
    assert not any(s.cfg.schedule for s in aimed + absolute)
    assert any(s.cfg.schedule for s in inputs)
