"""Footprints (harness/footprint.py): what each scheduling step reads and
writes, recorded for a run only, named by kernel names, complete for the
state the windows and oracles read."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import footprint
from harness.base import dd
from harness.base.platform import platform_bus_type
from harness.board import Board, load_board
from harness.boot import BootConfig
from harness.device import device
from harness.footprint import READ, WRITE, Footprint, Hooks, Recorder, independent
from harness.kernel import Kernel, kernel, set_kernel
from harness.run import run_scenario
from harness.variant import NEXT
from tests.harness.synthetic import run_program

BOARDS = Path(__file__).resolve().parents[2] / "corpus" / "boards"
NEXT_RK = NEXT.with_values("NEXT+rk-fix", "", **{"rk_iommu_probe.dma_dev": "before_register"})
IOMMU_ASYNC = BootConfig(driver_async_probe=("rk_iommu",))
ALL_ASYNC = BootConfig(async_probe_all=True, driver_async_probe=("*",))


@pytest.fixture(scope="module")
def rk() -> Board:
    return load_board(BOARDS / "rk3568-odroid-m1.json")


@pytest.fixture(scope="module")
def db845c() -> Board:
    return load_board(BOARDS / "sdm845-db845c.json")


def fp(pid: int, reads: set[object] = frozenset(), writes: set[object] = frozenset()) -> Footprint:  # type: ignore[assignment]
    return Footprint(pid, frozenset(reads), frozenset(writes))


def test_the_independence_relation() -> None:
    driver_a = (("device", "a"), "driver")
    driver_b = (("device", "b"), "driver")
    assert independent(fp(1, {driver_a}), fp(2, {driver_a}))  # two reads commute
    assert not independent(fp(1, {driver_a}), fp(2, writes={driver_a}))  # read / write
    assert not independent(fp(1, writes={driver_a}), fp(2, writes={driver_a}))  # write / write
    assert independent(fp(1, writes={driver_a}), fp(2, {driver_b}, {driver_b}))  # other objects
    assert not independent(fp(1), fp(1))  # one thread's steps never commute
    assert not independent(Footprint(1, frozenset(), frozenset(), opaque=True), fp(2))


def test_first_touch_names_are_compared_by_class_after_the_runs_part() -> None:
    """An object named by the order it was first touched in (no kernel name)
    may have another such name in a run that parted before that touch: the
    carried footprint then conflicts with any object of its class."""
    grp = ("#", "iommu_group", 7)
    step = Footprint(2, frozenset(), frozenset({(("#", "iommu_group", 9), "default_domain")}),
                     cls_writes=frozenset({("iommu_group", "default_domain")}))
    sleeper = Footprint(1, frozenset({(grp, "default_domain")}), frozenset())
    assert independent(sleeper, step)
    assert not independent(sleeper.coarsen({grp: 40}, since=30), step)  # touched after the part
    assert independent(sleeper.coarsen({grp: 20}, since=30), step)  # same name in both runs


def test_recording_is_for_the_run_only_and_changes_nothing(rk: Board) -> None:
    plain = run_scenario(rk, NEXT_RK, IOMMU_ASYNC, record=True)
    r = run_scenario(rk, NEXT_RK, IOMMU_ASYNC, footprints=True)
    # the same run, decision for decision
    assert r.schedule == plain.schedule and r.where == plain.where
    assert [f.title for f in r.findings] == [f.title for f in plain.findings]
    assert r.windows == plain.windows
    # the hooks are gone
    assert "__getattribute__" not in vars(device) and "__setattr__" not in vars(device)
    assert footprint._REC is None
    tr = r.trace
    assert tr is not None and len(tr.steps) == len(r.schedule)
    assert not tr.violations and not any(s.opaque for s in tr.steps)


def test_window_steps_name_the_state_of_their_window(rk: Board) -> None:
    """The step a thread runs from device_set_driver writes dev->driver (W4's
    writer); steps from a bus hook's dev->driver point go on with the
    device's DMA set-up (the group's default domain claimed for its driver)."""
    r = run_scenario(rk, NEXT_RK, IOMMU_ASYNC, footprints=True)
    assert r.trace is not None and r.where is not None
    steps = r.trace.steps
    setters = [steps[i] for i, w in enumerate(r.where) if w == "device_set_driver"]
    assert setters and all(any(k[1] == "driver" and k[0][0] == "device" for k in s.writes) for s in setters)
    readers = [steps[i] for i, w in enumerate(r.where) if w == "platform_dma_configure:dev->driver"]
    assert readers and any(any(k[0][0] == "device" and k[1] == "iommu_group" for k in s.reads)
                           for s in readers)
    # the registration walk's steps take iommu_probe_device_lock
    assert any((("lock", "iommu_probe_device_lock"), "owner") in s.reads | s.writes for s in steps)


@pytest.mark.parametrize("board_name,cfg", [("rk3568-odroid-m1", IOMMU_ASYNC),
                                            ("sdm845-db845c", ALL_ASYNC)])
def test_every_change_of_an_audited_container_is_recorded(
        board_name: str, cfg: BootConfig, rk: Board, db845c: Board,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An audited container (a klist, iommu_device_list, a group's devices)
    is read as a read: every place that changes it must say so
    (fp_write).  Each one read in a step is compared with its content at
    the step's end; a change without a recorded write fails here."""
    monkeypatch.setattr(footprint, "AUDIT", True)
    board = rk if board_name.startswith("rk") else db845c
    v = NEXT_RK if board is rk else NEXT
    r = run_scenario(board, v, cfg, footprints=True)
    assert r.trace is not None
    assert r.trace.missing == []
    assert r.trace.violations == []


def test_the_audit_catches_an_unrecorded_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a klist changed without fp_write."""
    monkeypatch.setattr(footprint, "AUDIT", True)
    k = Kernel([], record=True)
    set_kernel(k)
    try:
        with Hooks(Recorder(k)) as rec:
            bus = platform_bus_type

            def sneaky() -> None:
                kernel().sched_point("p")
                bus.devices.append(device("x"))  # no fp_write

            k.kthread_create("a", sneaky)
            k.kthread_create("b", lambda: kernel().sched_point("p"))
            k.run()
        assert rec.trace().missing
    finally:
        set_kernel(None)
        platform_bus_type.reset()


def test_a_container_kept_across_a_point_stays_in_the_footprint() -> None:
    """A thread that took the deferred-probe pending list (not audited) and
    keeps it across a scheduling point may still change it: its next step
    writes it, without reading the attribute again, and so depends on
    another thread's step that reads the list."""
    k = Kernel([0, 1, 1, 0, 0], record=True)  # keeper, reader, reader, keeper, keeper
    set_kernel(k)
    try:
        with Hooks(Recorder(k)) as rec:
            s = dd.state()

            def keeper() -> None:
                lst = s.pending
                kernel().sched_point("kept")
                lst.append(None)
                kernel().sched_point("done")

            def reader() -> None:
                kernel().sched_point("r1")
                _ = len(s.pending)
                kernel().sched_point("r2")

            k.kthread_create("keeper", keeper)
            k.kthread_create("reader", reader)
            k.run()
        tr = rec.trace()
    finally:
        set_kernel(None)
    assert k.record_where[:4] == ["exit", "kept", "r1", "r2"]
    append, read = tr.steps[3], tr.steps[2]
    pending = next(key for key in append.writes if key[1] == "pending")
    # dd.c's statics, named by their creator (0: before any thread ran) and rank
    assert pending[0] == ("#", "DeferredProbeState", (0, 0))
    assert (append.pid, read.pid) == (1, 2)
    assert pending in append.writes  # the reference kept since step 0
    assert pending in read.reads | read.writes
    assert not independent(append, read)


def test_synthetic_runs_record_reads_and_writes() -> None:
    r = run_program([[[("w", "a")], [("r", "b")]], [[("w", "b")]]], [])
    assert r.trace is not None
    a, b = (("device", "a"), "driver"), (("device", "b"), "driver")
    writes = [st for st in r.trace.steps if a in st.writes]
    assert writes and writes[0].pid == 1
    # T0 reads b, then exits; T1, alone, writes it without a decision: one
    # step with both (what ran after a thread ended belongs to its step)
    last = r.trace.steps[-1]
    assert b in last.writes and last.pid == 1 and not r.trace.ends_runnable[-1]
    assert (READ | WRITE) == 3


def test_every_use_of_a_per_device_table_records_its_entry() -> None:
    """The oracles' and fw_refs' tables keyed by device are read without an
    access of their own (footprint.ELEMENTWISE): every function of the model
    that uses one must record the device's entry (``_fp``/``fp_touch``) --
    a new use without it fails here.  (The final checks run after the last
    step and are exempt.)"""
    import ast
    import inspect

    from harness import oracles
    from harness.iommu import fw_refs

    attrs = {a for _, a in footprint.ELEMENTWISE}
    checked = 0
    for mod in (oracles, fw_refs):
        tree = ast.parse(inspect.getsource(mod))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_final") or fn.name == "__init__":
                continue
            used = {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute) and n.attr in attrs}
            if not used:
                continue
            src = ast.unparse(fn)
            for a in used:
                checked += 1
                assert f"'{a}'" in src and ("_fp(" in src or "fp_touch(" in src), (mod.__name__, fn.name, a)
    assert checked >= 10
