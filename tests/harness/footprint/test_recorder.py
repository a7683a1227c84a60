"""harness/footprint/recorder.py: what each scheduling step reads and
writes, named by kernel names, with the containers a thread keeps."""

from __future__ import annotations

from harness.base import dd
from harness.board import Board
from harness.footprint.hooks import Hooks
from harness.footprint.recorder import Recorder
from harness.footprint.step import READ, WRITE, independent
from harness.kernel import Kernel, kernel, set_kernel
from harness.run import run_scenario
from tests.harness.footprint.scenarios import IOMMU_ASYNC, NEXT_RK
from tests.harness.synthetic import run_program


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
