"""The model's runtime (harness/kernel.py): threads, the scheduler, mutexes,
lockdep, oopses by mechanism and call traces, exercised with tiny model
functions instead of the probe path.

Every test builds its own :class:`Kernel`, runs it, and inspects the findings
and thread states; ``schedule`` lists pin the interleavings (each entry is an
index into the runnable threads, in creation order, consumed only at
scheduling points where more than one thread can run).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import findings as fnd
from harness.kernel import (
    BLOCKED,
    DEAD,
    FIELD_OFFSETS,
    WARN_ON,
    WARN_ON_ONCE,
    BogusPointer,
    Completion,
    Kernel,
    Kthread,
    Mutex,
    WindowPreemptions,
    kernel,
    kfunc,
    kfunc_named,
    kinline,
    lockdep_assert_held,
    mutex_lock,
    mutex_unlock,
    set_kernel,
    stack_trace,
)


@pytest.fixture(autouse=True)
def _no_kernel_left() -> Iterator[None]:
    yield
    set_kernel(None)


def boot(*threads: tuple[str, Callable[..., Any]], schedule: list[int] | None = None) -> Kernel:
    """Run ``threads`` (comm, fn) on a fresh kernel; the first one is pid 1 (init)."""
    k = Kernel(schedule)
    set_kernel(k)
    for comm, fn in threads:
        k.kthread_create(comm, fn)
    k.run()
    return k


def thread(k: Kernel, comm: str) -> Kthread:
    return next(t for t in k.threads if t.comm == comm)


def only(k: Kernel, kind: str) -> fnd.Finding:
    found = [f for f in k.findings if f.kind == kind]
    assert len(found) == 1, k.findings
    return found[0]


# -- tiny model functions ------------------------------------------------------------------


class Dev:
    """Stands for a struct device: ``current_device_name`` reads ``init_name``."""

    def __init__(self, name: str) -> None:
        self.init_name = name
        self.numa_node = -1


@kfunc
def leaf_null(dev: Dev | None) -> int:
    return dev.numa_node  # type: ignore[union-attr]  # the NULL dereference is the point


@kinline
def inlined_helper(dev: Dev | None) -> int:
    return leaf_null(dev)


@kfunc
def outer_caller(dev: Dev | None) -> int:
    return inlined_helper(dev)


# -- scheduling, blocking and wake-up ---------------------------------------------------------


def test_empty_schedule_runs_threads_one_after_another() -> None:
    order: list[str] = []
    k = boot(("swapper/0", lambda: order.append("init")),
             ("kworker/0", lambda: order.append("worker")))
    assert order == ["init", "worker"]
    assert all(t.state == DEAD for t in k.threads)
    assert k.findings == [] and not k.panicked
    # one decision when both were runnable at the start, none afterwards
    assert k.decisions == 1


def test_schedule_picks_the_runnable_thread_by_index() -> None:
    order: list[str] = []
    boot(("swapper/0", lambda: order.append("init")),
         ("kworker/0", lambda: order.append("worker")), schedule=[1])
    assert order == ["worker", "init"]


def test_mutex_blocks_the_second_locker_until_unlock_wakes_it() -> None:
    m = Mutex("test_lock")
    events: list[str] = []
    seen: dict[str, Any] = {}

    @kfunc
    def holder() -> None:
        mutex_lock(m)
        events.append("A:locked")
        kernel().sched_point("test:holding")  # schedule says: let B run now
        b = thread(kernel(), "B")
        seen.update(state=b.state, on=b.waiting_on, blocked_in=list(b.blocked_in),
                    waiters=list(m.waiters))
        events.append("A:unlock")
        mutex_unlock(m)
        events.append("A:done")

    @kfunc
    def contender() -> None:
        events.append("B:try")
        mutex_lock(m)
        events.append("B:locked")
        assert m.owner is kernel().current
        mutex_unlock(m)

    # decisions: start -> A; A's mutex_lock -> A; A's sched point -> B; B's mutex_lock -> B
    k = boot(("A", holder), ("B", contender), schedule=[0, 0, 1, 1])
    assert events == ["A:locked", "B:try", "A:unlock", "A:done", "B:locked"]
    b = thread(k, "B")
    assert seen["state"] == BLOCKED and seen["on"] is m and seen["waiters"] == [b]
    # where B slept: its mutex_lock inside contender
    assert seen["blocked_in"][:2] == ["mutex_lock", "contender"]
    assert m.owner is None and m.waiters == []
    assert k.findings == []
    assert all(t.state == DEAD for t in k.threads)


def test_completion_block_and_wake() -> None:
    done = Completion("test_done")
    events: list[str] = []

    @kfunc
    def waiter() -> None:
        k = kernel()
        t = k.current
        assert t is not None
        done.waiters.append(t)
        events.append("wait")
        k.block(t, done)
        events.append("woken")

    @kfunc
    def waker() -> None:
        k = kernel()
        events.append("complete")
        for t in done.waiters:
            k.wake(t)
        done.waiters.clear()

    k = boot(("swapper/0", waiter), ("kworker/0", waker))
    assert events == ["wait", "complete", "woken"]
    assert all(t.state == DEAD for t in k.threads) and k.findings == []


# -- deadlocks and lockdep ----------------------------------------------------------------------


def test_recursive_lock_is_a_deadlock_finding_with_the_trace() -> None:
    m = Mutex("probe_lock")

    @kfunc
    def inner_takes_it_again() -> None:
        mutex_lock(m)

    @kfunc
    def outer_holds_it() -> None:
        mutex_lock(m)
        inner_takes_it_again()

    k = boot(("swapper/0", outer_holds_it))
    f = only(k, fnd.DEADLOCK)
    assert f.title == "possible deadlock in inner_takes_it_again"
    assert f.trace == ["inner_takes_it_again", "outer_holds_it", "ret_from_fork"]
    assert f.invariant == 2
    assert "recursive locking" in f.message and "probe_lock" in f.message
    assert f.thread == "swapper/0/1"
    # the thread sleeps forever on its own lock: not panicked, not dead
    t = thread(k, "swapper/0")
    assert t.state == BLOCKED and t.waiting_on is m and not k.panicked


def _abba(ma: Mutex, mb: Mutex) -> Kernel:
    @kfunc
    def a_takes_a_then_b() -> None:
        mutex_lock(ma)
        kernel().sched_point("test:a")
        mutex_lock(mb)

    @kfunc
    def b_takes_b_then_a() -> None:
        mutex_lock(mb)
        mutex_lock(ma)

    # start -> A; A's lock(ma) -> A; A's sched point -> B; B's lock(mb) -> B;
    # B's lock(ma) blocks (A owns it) -> A runs; A's lock(mb) closes the cycle.
    return boot(("A", a_takes_a_then_b), ("B", b_takes_b_then_a), schedule=[0, 0, 1, 1, 1])


def test_abba_with_two_lock_classes_is_reported_by_lockdep_with_both_traces() -> None:
    k = _abba(Mutex("lock_a"), Mutex("lock_b"))
    f = only(k, fnd.DEADLOCK)
    assert f.title == "possible deadlock in a_takes_a_then_b"
    assert f.invariant == 2
    assert "circular locking dependency: lock_a -> lock_b and lock_b -> lock_a" in f.message
    assert f.thread == "A/1"
    assert f.trace == ["a_takes_a_then_b", "ret_from_fork"]
    # the other thread's trace: where it established lock_b -> lock_a
    assert f.threads == {"earlier": ["b_takes_b_then_a", "ret_from_fork"]}
    assert [t.state for t in k.threads] == [BLOCKED, BLOCKED]


def test_abba_within_one_lock_class_is_a_circular_wait_with_both_traces() -> None:
    # lockdep does not order two locks of one class (like two group->mutex);
    # the wait-for cycle is still found when the second thread closes it.
    k = _abba(Mutex("&group->mutex(0)", "&group->mutex"), Mutex("&group->mutex(1)", "&group->mutex"))
    f = only(k, fnd.DEADLOCK)
    assert f.title == "possible deadlock in a_takes_a_then_b"
    assert "circular wait: A/1 acquires &group->mutex(1) held by B/2" in f.message
    assert f.trace == ["a_takes_a_then_b", "ret_from_fork"]
    assert f.threads == {"B/2": ["mutex_lock", "b_takes_b_then_a", "ret_from_fork"]}


def test_lockdep_reports_an_order_inversion_without_a_hang() -> None:
    outer, inner = Mutex("iommu_probe_device_lock"), Mutex("&group->mutex(3)", "&group->mutex")

    @kfunc
    def probe_path() -> None:  # the legitimate nesting: probe lock, then group mutex
        mutex_lock(outer)
        mutex_lock(inner)
        mutex_unlock(inner)
        mutex_unlock(outer)

    @kfunc
    def inverted_path() -> None:
        mutex_lock(inner)
        mutex_lock(outer)
        mutex_unlock(outer)
        mutex_unlock(inner)

    k = boot(("swapper/0", probe_path), ("kworker/0", inverted_path))
    f = only(k, fnd.DEADLOCK)
    assert f.title == "possible deadlock in inverted_path"
    assert "&group->mutex -> iommu_probe_device_lock" in f.message
    assert f.threads == {"earlier": ["probe_path", "ret_from_fork"]}
    assert k.lock_order == {"iommu_probe_device_lock": {"&group->mutex"},
                            "&group->mutex": {"iommu_probe_device_lock"}}
    assert all(t.state == DEAD for t in k.threads)


def test_lockdep_assert_held_warns_when_the_lock_is_not_held() -> None:
    m = Mutex("iommu_probe_device_lock")

    @kfunc
    def needs_the_lock(dev: Dev) -> None:
        lockdep_assert_held(m)

    @kfunc
    def caller_with_lock() -> None:
        mutex_lock(m)
        needs_the_lock(Dev("ok.dev"))
        mutex_unlock(m)

    @kfunc
    def caller_without_lock() -> None:
        needs_the_lock(Dev("bad.dev"))

    k = boot(("swapper/0", caller_with_lock), ("kworker/0", caller_without_lock))
    f = only(k, fnd.WARNING)
    assert f.title == "WARNING in needs_the_lock"
    assert f.device == "bad.dev" and f.invariant == 2
    assert f.message == "lockdep_assert_held(iommu_probe_device_lock) failed"
    assert f.trace == ["lockdep_assert_held", "needs_the_lock", "caller_without_lock", "ret_from_fork"]


def test_unlock_by_a_non_owner_warns_and_leaves_the_lock_alone() -> None:
    m = Mutex("test_lock")

    @kfunc
    def owner() -> None:
        mutex_lock(m)

    @kfunc
    def intruder() -> None:
        mutex_unlock(m)

    k = boot(("swapper/0", owner), ("kworker/0", intruder))
    f = only(k, fnd.WARNING)
    assert f.title == "WARNING in mutex_unlock" and f.function == "intruder"
    assert m.owner is thread(k, "swapper/0")


# -- oopses -------------------------------------------------------------------------------------


def test_oops_in_init_panics_and_stops_the_run() -> None:
    after: list[str] = []

    @kfunc
    def init_fn() -> None:
        outer_caller(None)
        after.append("init continued")

    k = boot(("swapper/0", init_fn), ("kworker/0", lambda: after.append("worker ran")))
    f = only(k, fnd.OOPS)
    assert k.panicked
    assert after == []  # "Attempted to kill init!": nothing runs after the panic
    assert f.thread == "swapper/0/1"
    assert f.title == "BUG: kernel NULL pointer dereference in leaf_null"


def test_oops_in_a_worker_kills_only_it_and_its_lock_waiters_hang() -> None:
    m = Mutex("iommu_probe_device_lock")
    after: list[str] = []

    @kfunc
    def init_fn() -> None:
        after.append("init ran")

    @kfunc
    def oopsing_worker() -> None:
        mutex_lock(m)
        outer_caller(None)  # dies here with m held

    @kfunc
    def waiter_on_lock() -> None:
        mutex_lock(m)
        after.append("waiter got the lock")

    k = boot(("swapper/0", init_fn), ("kworker/u:1", oopsing_worker), ("kworker/u:2", waiter_on_lock))
    assert not k.panicked
    assert after == ["init ran"]
    assert thread(k, "swapper/0").state == DEAD
    assert thread(k, "kworker/u:1").state == DEAD
    assert thread(k, "kworker/u:2").state == BLOCKED
    assert m.owner is thread(k, "kworker/u:1")  # make_task_dead() keeps its locks held

    oops = only(k, fnd.OOPS)
    assert oops.thread == "kworker/u:1/2"
    assert oops.trace == ["leaf_null", "outer_caller", "oopsing_worker", "ret_from_fork"]

    hung = only(k, fnd.DEADLOCK)
    assert hung.title == "INFO: task hung in waiter_on_lock"
    assert hung.thread == "kworker/u:2/3"
    assert hung.trace == ["mutex_lock", "waiter_on_lock", "ret_from_fork"]
    assert "held by dead kworker/u:1/2" in hung.message


def test_waiter_on_a_completion_whose_completer_died_is_reported_hung() -> None:
    done = Completion("work_done")

    @kfunc
    def init_waits_for_work() -> None:
        k = kernel()
        t = k.current
        assert t is not None
        done.waiters.append(t)
        k.block(t, done)

    @kfunc
    def worker_oopses_before_completing() -> None:
        outer_caller(None)

    k = boot(("swapper/0", init_waits_for_work), ("kworker/u:1", worker_oopses_before_completing))
    assert thread(k, "swapper/0").state == BLOCKED
    hung = only(k, fnd.DEADLOCK)
    assert hung.title == "INFO: task hung in init_waits_for_work"
    assert hung.thread == "swapper/0/1"
    assert hung.message == "swapper/0/1 waiting for work_done that nobody will complete"
    # the thread that could have completed it, where it died
    assert hung.threads == {"kworker/u:1/2": ["leaf_null", "outer_caller",
                                              "worker_oopses_before_completing", "ret_from_fork"]}


def test_null_dereference_oops_names_the_field_offset_and_device() -> None:
    @kfunc
    def faults_on_dev(dev: Dev) -> None:
        leaf_null(None)

    k = boot(("swapper/0", lambda: faults_on_dev(Dev("fe040000.vop"))))
    f = only(k, fnd.OOPS)
    assert f.fault_address == FIELD_OFFSETS["numa_node"] == 0x3E8
    assert f.message == "NULL pointer dereference at virtual address 00000000000003e8 (->numa_node)"
    # the innermost frame with a ``dev`` local names the device
    assert f.device == "fe040000.vop"
    assert f.function == "leaf_null"


def test_bogus_pointer_access_is_a_paging_request_oops() -> None:
    bogus = BogusPointer("struct platform_driver", 0x99)

    @kfunc
    def reads_driver_managed_dma() -> bool:
        return bool(bogus.driver_managed_dma)

    assert bogus  # non-NULL: guards that test the pointer itself pass
    k = boot(("swapper/0", reads_driver_managed_dma))
    f = only(k, fnd.OOPS)
    assert f.title == "BUG: unable to handle kernel paging request in reads_driver_managed_dma"
    assert f.fault_address == 0x99
    assert f.message == "paging request at virtual address 0000000000000099 (->driver_managed_dma)"


def test_call_through_a_null_function_pointer_oopses() -> None:
    hook: Any = None

    @kfunc
    def calls_hook() -> None:
        hook(1)

    k = boot(("swapper/0", calls_hook))
    f = only(k, fnd.OOPS)
    assert f.title == "BUG: kernel NULL pointer dereference in calls_hook"
    assert "(*NULL)()" in f.message


def test_other_python_errors_are_not_turned_into_oopses() -> None:
    table: dict[str, int] = {}

    @kfunc
    def model_bug() -> None:
        table["missing"]  # noqa: B018 - a bug in the model, not a kernel oops

    with pytest.raises(KeyError):
        boot(("swapper/0", model_bug))


# -- traces and WARNs ----------------------------------------------------------------------------


def test_kfunc_frames_appear_in_traces_kinline_frames_do_not() -> None:
    traces: list[list[str]] = []

    @kfunc
    def leaf() -> None:
        traces.append(stack_trace(sys._getframe(0)))

    def plain_python_helper() -> None:  # neither decorator: invisible too
        leaf()

    @kinline
    def inlined() -> None:
        plain_python_helper()

    @kfunc_named("module_driver_init_alias")
    def renamed() -> None:
        inlined()

    @kfunc
    def dynamic() -> None:
        __kframe__ = "rk_iommu_driver_init"  # noqa: F841 - read by stack_trace
        renamed()

    boot(("swapper/0", dynamic))
    assert traces == [["leaf", "module_driver_init_alias", "rk_iommu_driver_init", "ret_from_fork"]]


def test_oops_trace_skips_inlined_frames() -> None:
    k = boot(("swapper/0", lambda: outer_caller(None)))
    f = only(k, fnd.OOPS)
    assert f.trace == ["leaf_null", "outer_caller", "ret_from_fork"]


def test_titles_skip_generic_frames() -> None:
    @kfunc
    def devm_kmalloc(dev: Dev | None) -> int:  # a GENERIC_FRAMES name: the caller is guilty
        return dev.numa_node  # type: ignore[union-attr]

    @kfunc
    def rk_like_of_xlate() -> None:
        devm_kmalloc(None)

    k = boot(("swapper/0", rk_like_of_xlate))
    f = only(k, fnd.OOPS)
    assert f.trace[0] == "devm_kmalloc"
    assert f.title == "BUG: kernel NULL pointer dereference in rk_like_of_xlate"


def test_warn_on_and_warn_on_once() -> None:
    @kfunc
    def warns() -> None:
        assert WARN_ON(True, "first", invariant=14)
        assert not WARN_ON(False, "never")

    @kfunc
    def warns_once() -> None:
        for _ in range(3):
            assert WARN_ON_ONCE(True, "key", "once only")

    @kfunc
    def run() -> None:
        warns()
        warns_once()
        warns_once()

    k = boot(("swapper/0", run))
    assert [(f.title, f.message, f.invariant) for f in k.findings] == [
        ("WARNING in warns", "first", 14),
        ("WARNING in warns_once", "once only", None),
    ]
    assert k.findings[0].trace == ["warns", "run", "ret_from_fork"]
    assert k.warned_once == {"key"}


def test_findings_deduplicate_by_title_and_device() -> None:
    @kfunc
    def warn_for(dev: Dev) -> None:
        WARN_ON(True, f"about {dev.init_name}")

    @kfunc
    def run() -> None:
        for name in ("a", "b", "a"):
            warn_for(Dev(name))

    k = boot(("swapper/0", run))
    assert [(f.title, f.device) for f in k.findings] == [("WARNING in warn_for", "a"),
                                                         ("WARNING in warn_for", "b")]


def test_wait_exit_returns_on_death_or_when_a_timer_fires_on_an_idle_system() -> None:
    m = Mutex("never_released")
    results: list[bool] = []

    @kfunc
    def dies() -> None:
        outer_caller(None)

    @kfunc
    def sleeps_forever() -> None:
        mutex_lock(m)
        mutex_lock(m)  # recursive: asleep for good

    @kfunc
    def parent() -> None:
        k = kernel()
        results.append(k.wait_exit([k.kthread_create("child/a", dies)]))
        results.append(k.wait_exit([k.kthread_create("child/b", sleeps_forever)], timeout=True))

    k = boot(("swapper/0", parent))
    assert results == [True, False]
    assert thread(k, "swapper/0").state == DEAD
    assert thread(k, "child/b").state == BLOCKED
    assert [f.title for f in k.findings] == ["BUG: kernel NULL pointer dereference in leaf_null",
                                             "possible deadlock in sleeps_forever"]


# -- fast paths (issue 13): the same decisions as the general path ----------------------------


def test_uncontended_mutex_fast_path_takes_and_releases_the_lock_without_a_decision() -> None:
    m = Mutex("fast_lock")
    seen: dict[str, Any] = {}

    @kfunc
    def alone() -> None:
        mutex_lock(m)
        t = kernel().current
        seen.update(owner=m.owner is t, held=list(t.held) if t else None,
                    frame=m.owner_frame is not None and m.owner_frame.f_code is alone.__code__)
        mutex_unlock(m)
        seen.update(after=(m.owner, m.owner_frame, list(t.held) if t else None))

    k = Kernel(record=True)
    set_kernel(k)
    k.kthread_create("swapper/0", alone)
    k.run()
    assert seen["owner"] and seen["held"] == [m] and seen["frame"]
    assert seen["after"] == (None, None, [])
    assert k.decisions == 0 and k.record == [] and k.findings == []


def test_mutex_is_a_scheduling_point_when_another_thread_is_runnable() -> None:
    # Two runnable threads: lock and unlock are decisions (the fast path must
    # not be taken), recorded by their point names.
    m = Mutex("contended")

    @kfunc
    def locker() -> None:
        mutex_lock(m)
        mutex_unlock(m)

    k = Kernel(record=True)
    set_kernel(k)
    k.kthread_create("A", locker)
    k.kthread_create("B", locker)
    k.run()
    assert k.record_where[:3] == ["exit", "mutex_lock contended", "mutex_unlock contended"]
    assert all(t.state == DEAD for t in k.threads) and k.findings == []


def test_mutex_fast_path_records_lockdep_order_under_a_held_lock() -> None:
    # Nested: the inner lock is taken with another held, so lockdep sees the
    # edge even though no other thread could run (no fast path then).
    a, b = Mutex("outer"), Mutex("inner")

    @kfunc
    def nested() -> None:
        mutex_lock(a)
        mutex_lock(b)
        mutex_unlock(b)
        mutex_unlock(a)

    k = boot(("swapper/0", nested))
    assert k.lock_order == {"outer": {"inner"}}
    assert a.owner is None and b.owner is None


def test_unlock_out_of_order_releases_the_right_lock() -> None:
    a, b = Mutex("first"), Mutex("second")
    seen: dict[str, Any] = {}

    @kfunc
    def interleaved() -> None:
        mutex_lock(a)
        mutex_lock(b)
        mutex_unlock(a)  # not the innermost: the general path
        t = kernel().current
        seen["held"] = list(t.held) if t else None
        mutex_unlock(b)

    k = boot(("swapper/0", interleaved))
    assert seen["held"] == [b] and k.findings == []


def test_chooser_gets_a_copy_of_the_run_queue() -> None:
    got: list[list[Kthread]] = []

    def chooser(runnable: list[Kthread], cur: Kthread | None, where: str) -> int:
        got.append(runnable)
        runnable.clear()  # a strategy scribbling on its argument changes nothing
        return 0

    k = Kernel(chooser=chooser)
    set_kernel(k)
    k.kthread_create("A", lambda: None)
    k.kthread_create("B", lambda: None)
    k.run()
    assert got and all(t.state == DEAD for t in k.threads)
    assert k.runqueue == []


def test_threads_of_later_boots_run_on_the_carriers_of_earlier_ones_with_the_same_stacks() -> None:
    traces: list[list[str]] = []

    @kfunc
    def work() -> None:
        traces.append(stack_trace(sys._getframe(0)))

    def two_threads() -> Kernel:
        return boot(("A", work), ("B", work))

    first = two_threads()
    carriers = {id(t.glet) for t in first.threads}
    second = two_threads()
    # the dead threads' greenlets carried the next boot's threads (no new
    # interpreter frame stack per thread), and a thread's stack still ends
    # at ret_from_fork
    assert {id(t.glet) for t in second.threads} <= carriers
    assert first.threads[0].glet is first.threads[1].glet  # A was dead when B started
    assert traces == [["work", "ret_from_fork"]] * 4
    assert all(t.state == DEAD for t in first.threads + second.threads)


def test_a_thread_blocked_for_good_keeps_its_carrier_out_of_the_pool() -> None:
    lock = Mutex("m")

    def holder() -> None:
        mutex_lock(lock)  # never released: the waiter hangs

    def waiter() -> None:
        mutex_lock(lock)

    k = boot(("holder", holder), ("waiter", waiter))
    w = thread(k, "waiter")
    assert w.state == BLOCKED
    again = boot(("A", lambda: None), ("B", lambda: None))
    assert w.glet not in {t.glet for t in again.threads}
    assert all(t.state == DEAD for t in again.threads)


def test_device_aimed_preemptions_stop_walking_the_stack_once_every_aim_is_behind() -> None:
    @kfunc
    def at_window(dev: Dev) -> None:
        kernel().sched_point("device_set_driver")  # a window point

    def a() -> None:
        at_window(Dev("d0"))

    def b() -> None:
        at_window(Dev("d1"))
        at_window(Dev("d1"))

    wp = WindowPreemptions((), (("d0", 0, 0),))
    k = Kernel(chooser=wp)
    set_kernel(k)
    k.kthread_create("A", a)
    k.kthread_create("B", b)
    k.run()
    # the aimed decision switched A -> B; B's two window decisions came after
    # the last aim, so nobody asked which device they were about
    assert wp.fired == [(0, 0)] and wp.seen == 3
    assert wp.dev_seen == {"d0": 1} and wp.dev_ahead == {}
    assert all(t.state == DEAD for t in k.threads)
