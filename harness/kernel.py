"""The machine the model runs on: threads, the scheduler, mutexes, the log.

Model code is plain Python that reads like the C it models.  Three kernel
mechanisms are provided here so that the rest of the model can stay plain:

* **Call traces.**  Every model function that stands for a kernel function is
  decorated with :func:`kfunc`.  The decorator only records the function's
  code object (no wrapper, no run-time cost); a trace is taken by walking the
  Python stack and keeping the frames whose code is registered.  A frame may
  carry a dynamic kernel name in a local ``__kframe__`` (for instance the
  ``<driver>_driver_init`` initcall that ``module_platform_driver`` generates).

* **Oopses by mechanism.**  A NULL pointer in the model is ``None``.  When model
  code dereferences it (``dev.numa_node`` with ``dev is None``) Python raises
  ``AttributeError`` on ``None``; the thread's top level turns exactly that
  into an oops whose trace is the model stack at the faulting access.  A
  ``container_of()`` of NULL that is *not* NULL (the embedded member is not the
  first one) is a :class:`BogusPointer`, which oopses on any access too.
  Nothing decides in advance that a given driver crashes.

* **Threads.**  Kernel threads (init, kworkers, async probe workers) are
  greenlets run cooperatively.  A thread runs until it blocks or reaches a
  *scheduling point* (every mutex operation and the windows the spec names);
  at a point with more than one runnable thread the scheduler consults the
  run's *schedule*, a list of small integers a fuzzer can generate and a
  reproducer can store.  An empty schedule is the synchronous boot: the
  current thread keeps running while it can.
"""

from __future__ import annotations

import sys
import threading
from bisect import insort
from collections import deque
from collections.abc import Callable
from types import CodeType, FrameType, TracebackType
from typing import Any, TypeVar

import greenlet

from harness import findings as fnd
from harness.findings import Finding, guilty_frame

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S")

# code object -> kernel function name
_KCODE: dict[CodeType, str] = {}
# the code objects of _KCODE with a variable ``dev``: the frames whose locals
# the device walks (window_device, current_device_name) read -- reading a
# frame's f_locals copies all of them, ~1,000 times a concurrent boot
_KCODE_DEV: set[CodeType] = set()


def _kcode(code: CodeType, name: str) -> None:
    if _KCODE.get(code) == name:  # a closure made again (a driver's probe per boot)
        return
    _KCODE[code] = name
    if "dev" in code.co_varnames or "dev" in code.co_cellvars or "dev" in code.co_freevars:
        _KCODE_DEV.add(code)


def kfunc(fn: F) -> F:
    """Mark ``fn`` as the model of the kernel function of the same name."""
    _kcode(fn.__code__, fn.__name__)
    return fn


def kinline(fn: F) -> F:
    """Mark a static function the compiler inlines into its callers on arm64
    builds (the seed's call trace shows which): it appears in no trace."""
    return fn


def kfunc_named(name: str) -> Callable[[F], F]:
    """Like :func:`kfunc` for a model function whose Python name differs."""

    def deco(fn: F) -> F:
        _kcode(fn.__code__, name)
        return fn

    return deco


def _frame_name(frame: FrameType) -> str | None:
    name = _KCODE.get(frame.f_code)
    if name is None:
        return None
    dyn = frame.f_locals.get("__kframe__")
    return dyn if isinstance(dyn, str) else name


def stack_trace(frame: FrameType | None) -> list[str]:
    """Kernel frames from ``frame`` outwards: innermost first."""
    out: list[str] = []
    while frame is not None:
        name = _frame_name(frame)
        if name is not None:
            out.append(name)
        frame = frame.f_back
    return out


def traceback_trace(tb: TracebackType | None) -> list[str]:
    """Kernel frames of an exception's traceback: innermost first."""
    frames: list[FrameType] = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    # The traceback runs from where it was caught to where it was raised; the
    # frames above the catching frame are still on the stack.
    outer = stack_trace(frames[0].f_back) if frames else []
    inner = [n for n in (_frame_name(f) for f in reversed(frames)) if n is not None]
    return inner + outer


class BogusPointer:
    """A non-NULL pointer into the first page: ``container_of(NULL, ...)``
    when the member is not first in its structure.  Any access faults."""

    __slots__ = ("what", "address")

    def __init__(self, what: str, address: int) -> None:
        self.what = what
        self.address = address

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name, self)

    def __bool__(self) -> bool:  # a non-NULL pointer
        return True

    def __repr__(self) -> str:
        return f"<bogus {self.what} pointer {self.address:#x}>"


class KernelPanic(BaseException):
    """The run is over (an oops in init, or the watchdog)."""


class _ThreadKilled(BaseException):
    """Unwinds a thread that oopsed (``make_task_dead``)."""


RUNNABLE = "R"
BLOCKED = "D"
DEAD = "X"


class Kthread:
    """A kernel thread: ``init`` (pid 1), kworkers, async probe workers."""

    __slots__ = ("pid", "comm", "glet", "state", "held", "waiting_on", "fn", "args", "blocked_in",
                 "exit_trace")

    def __init__(self, pid: int, comm: str, fn: Callable[..., Any], args: tuple[Any, ...]):
        self.pid = pid
        self.comm = comm
        self.fn = fn
        self.args = args
        self.glet: greenlet.greenlet | None = None
        self.state = RUNNABLE
        self.held: list[Mutex] = []
        self.waiting_on: object = None
        self.blocked_in: list[str] = []
        # where it died (an oops): the trace hung-task reports show for it
        self.exit_trace: list[str] = []

    def __repr__(self) -> str:
        return f"<{self.comm}/{self.pid} {self.state}>"


#: lock name -> the names of its scheduling points (Mutex)
_MUTEX_POINTS: dict[str, tuple[str, str]] = {}


class Mutex:
    """``struct mutex``: owner, FIFO waiters, a lockdep class name."""

    __slots__ = ("name", "lock_class", "owner", "waiters", "owner_frame", "lock_point",
                 "unlock_point")

    def __init__(self, name: str, lock_class: str | None = None) -> None:
        self.name = name
        self.lock_class = lock_class or name
        self.owner: Kthread | None = None
        self.waiters: list[Kthread] = []
        # The frame that called mutex_lock() for the owner: lockdep's "lock
        # held at" stack, computed only when a report needs it.
        self.owner_frame: FrameType | None = None
        # the names of its scheduling points, made once per lock name (a
        # concurrent boot passes ~1,000 of them; a boot makes ~130 locks)
        points = _MUTEX_POINTS.get(name)
        if points is None:
            points = ("mutex_lock " + name, "mutex_unlock " + name)
            if len(_MUTEX_POINTS) < 8192:
                _MUTEX_POINTS[name] = points
        self.lock_point, self.unlock_point = points

    def __repr__(self) -> str:
        return f"<mutex {self.name} owner={self.owner}>"


class Completion:
    """Something threads wait for: a flushed work item, async probe done."""

    __slots__ = ("name", "waiters")

    def __init__(self, name: str) -> None:
        self.name = name
        self.waiters: list[Kthread] = []


#: An exploration strategy: given the runnable threads (creation order), the
#: current thread (None after a block or exit) and the scheduling point's
#: name ("block" when the current thread went to sleep), the index to run.
Chooser = Callable[[list[Kthread], "Kthread | None", str], int]

#: Scheduling points that open a window of the spec (§3.5, §3.6): the points
#: a window-aimed search preempts at (harness/schedules.py, fuzz/gen.py).
WINDOW_POINTS = (
    "iommu_device_register:listed",  # W2: listed, walk not there yet
    "bus_iommu_probe:groups_queued",  # W1: groups without default domain
    "mutex_unlock iommu_probe_device_lock",  # W3 and the replay window
    "device_set_driver",  # W4 writer
    ":dev->driver",  # W4 reader (bus hooks' re-read)
    "device_add:bus_add_device",  # 3.6: on the bus list, notifier not run
)


#: is_window() per point name seen (a boot names a few hundred points; the
#: names carry lock and device names, so the cache is bounded)
_IS_WINDOW: dict[str, bool] = {}


def is_window(where: str) -> bool:
    """Does the scheduling point ``where`` belong to a named window?"""
    r = _IS_WINDOW.get(where)
    if r is None:
        r = any(w in where for w in WINDOW_POINTS)
        if len(_IS_WINDOW) < 8192:
            _IS_WINDOW[where] = r
    return r


def thread_role(comm: str) -> str:
    """A thread's name without the device or driver it works for
    (``kworker/async:5040000.iommu`` -> ``kworker/async``,
    ``modprobe/arm-smmu`` -> ``modprobe``): what it is, the same on every board."""
    if comm.startswith("kworker/async:"):
        return "kworker/async"
    if comm.startswith("modprobe/"):
        return "modprobe"
    return comm


def window_device(frame: FrameType | None) -> str | None:
    """The device a scheduling point is about: the innermost kernel frame
    (from ``frame`` outwards) with a ``dev`` local -- its DT node's path, or
    its name when it has no node (PCI functions, ACPI devices)."""
    f = frame
    while f is not None:
        if f.f_code in _KCODE_DEV:
            dev = f.f_locals.get("dev")
            name = getattr(dev, "init_name", None) if dev is not None else None
            if isinstance(name, str):
                node = getattr(dev, "of_node", None)
                path = getattr(node, "full_name", None) if node is not None else None
                return path if isinstance(path, str) else name
        f = f.f_back
    return None


class WindowPreemptions:
    """A chooser with a few preemptions at window points, the rest synchronous.

    ``preempt`` holds ``(k, c)`` pairs: at the ``k``-th decision taken at a
    window point (counting from 0), switch from the running thread to
    another runnable one (``c`` modulo their number, creation order).  All
    other decisions take the synchronous default.  This is PCT's shape --
    depth ``d`` = ``len(preempt)`` change points -- restricted to the points
    where the spec's windows open, so a fuzzer mutating a handful of small
    integers reaches the interleavings that matter, and shrinking it
    minimises the number of preemptions.

    ``at_device`` holds ``(device, i, c)`` triples: the same switch at the
    ``i``-th window decision about ``device`` (:func:`window_device`: a DT
    node path or a device name).  A race is two threads at one device; a
    boot makes several hundred window decisions but a device a dozen or so,
    so aiming at a device's windows hits a race's decision with probability
    ~1/(devices x a dozen) whatever else the scenario changes earlier in the
    boot (an absolute ``k`` moves with every decision added before it).
    ``fired`` lists the ``(k, c)`` of every switch taken: as ``preempt``
    alone they replay the same run (:func:`lower_preemptions`).
    """

    __slots__ = ("at", "seen", "dev_at", "dev_seen", "dev_ahead", "fired")

    def __init__(self, preempt: tuple[tuple[int, int], ...],
                 at_device: tuple[tuple[str, int, int], ...] = ()) -> None:
        self.at = dict(preempt)
        self.seen = 0
        self.dev_at = {(d, i): c for d, i, c in at_device}
        self.dev_seen: dict[str, int] = {}
        # device -> the last of its window decisions ``at_device`` aims at,
        # for the devices with one still ahead: once none is, which device
        # a decision is about no longer matters (no stack walk)
        self.dev_ahead: dict[str, int] = {}
        for d, i, _c in at_device:
            self.dev_ahead[d] = max(i, self.dev_ahead.get(d, i))
        self.fired: list[tuple[int, int]] = []

    @staticmethod
    def keeps_current(where: str) -> bool:
        """Would :meth:`__call__` keep a runnable current thread at ``where``
        whatever the run queue?  (The kernel then skips the call.)  Never
        at a window point."""
        w = _IS_WINDOW.get(where)
        return not (is_window(where) if w is None else w)

    def __call__(self, runnable: list[Kthread], cur: Kthread | None, where: str) -> int:
        if cur is None or cur not in runnable:
            return 0
        me = runnable.index(cur)
        w = _IS_WINDOW.get(where)
        if not (is_window(where) if w is None else w):
            return me
        k = self.seen
        self.seen += 1
        c = self.at.get(k)
        if self.dev_ahead:
            # the chooser is called from Kernel._pick() <- sched_point()
            dev = window_device(sys._getframe(1))
            if dev is not None:
                i = self.dev_seen.get(dev, 0)
                self.dev_seen[dev] = i + 1
                if c is None:
                    c = self.dev_at.get((dev, i))
                last = self.dev_ahead.get(dev)
                if last is not None and last <= i:
                    del self.dev_ahead[dev]
        if c is None:
            return me
        self.fired.append((k, c))
        other = c % (len(runnable) - 1)
        return other + (other >= me)


_EXIT = Completion("thread exit")


#: How many of the latest preemptions a finding keeps (a random schedule
#: makes thousands; a found race needs a few).
MAX_PREEMPTIONS_SHOWN = 16


def _outside_windows(where: str) -> bool:
    # the synchronous default keeps the running thread everywhere; at window
    # points the decision goes through _pick(), which records window coverage
    w = _IS_WINDOW.get(where)
    return not (is_window(where) if w is None else w)


def _pid(t: Kthread) -> int:
    return t.pid


class Kernel:
    """One boot of the model: threads, scheduler, global state, findings.

    Scheduling: at a decision (a scheduling point, a block or a thread exit
    with more than one runnable thread) the next entry of ``schedule`` picks
    ``runnable[entry % len(runnable)]`` (runnable threads in creation order).
    When the schedule is used up, ``chooser`` (an exploration strategy) picks,
    or, without one, the current thread keeps running while it can and else
    the oldest runnable thread runs: the synchronous boot.  With ``record``
    set, every decision's index is appended to it, so that the recorded list
    replays the run bit for bit as a plain schedule.
    """

    def __init__(self, schedule: list[int] | None = None,
                 chooser: Chooser | None = None,
                 record: bool = False) -> None:
        self.threads: list[Kthread] = []
        self.current: Kthread | None = None
        self.schedule: list[int] = list(schedule or [])
        self.schedule_pos = 0
        self.decisions = 0
        self.chooser = chooser
        # A chooser may say where it keeps the running thread anyway
        # (WindowPreemptions: everywhere but at window points): there the
        # scheduler neither copies the run queue nor calls it.
        # Without a chooser the running thread is kept everywhere (window
        # points still go through _pick() for their coverage).
        self._chooser_keeps: Callable[[str], bool] | None = (
            _outside_windows if chooser is None else getattr(chooser, "keeps_current", None))
        # ... and that is "everywhere but at window points" (the scheduler
        # then asks _IS_WINDOW itself: no call per point)
        self._keeps_outside_windows = self._chooser_keeps in (_outside_windows,
                                                              WindowPreemptions.keeps_current)
        self.record: list[int] | None = [] if record else None
        # sched_point() takes the kept decision itself (nothing to record)
        # once the schedule is used up: its ~1,400 points a concurrent boot
        # read these two fields, not the five they stand for
        self._sched_keeps = self._keeps_outside_windows and not record
        self._schedule_len = len(self.schedule)
        # with record: per decision, how many threads could run and where
        self.record_widths: list[int] = []
        self.record_where: list[str] = []
        # number of RUNNABLE threads, kept by _set_state (sched_point's fast path)
        self.nr_running = 0
        # the RUNNABLE threads in creation (pid) order, kept by _set_state: the
        # scheduler's run queue, so a decision does not scan every thread
        self.runqueue: list[Kthread] = []
        self.findings: list[Finding] = []
        self.lints: list[Finding] = []  # checks the C does not make (fnd.LINT)
        self._finding_keys: dict[tuple[str, str | None], Finding] = {}
        self.log: list[str] = []
        self.panicked = False
        self._next_pid = 1
        self._root: greenlet.greenlet | None = None
        self._starting: Kthread | None = None  # for the root to start (see _switch_to)
        self._exit_waiters: list[Kthread] = []  # see wait_exit
        self._timers: list[Kthread] = []  # sleepers a timer wakes when all else is idle
        # the latest preemptions (from, to, point), formatted only when a
        # finding is reported: a random schedule preempts thousands of times
        self.preemptions: deque[tuple[Kthread, Kthread, str]] = deque(maxlen=MAX_PREEMPTIONS_SHOWN)
        # window coverage: (window point, the thread there, the thread run
        # next -- itself unless preempted) for every decision taken at a
        # window point (engine feedback)
        self.windows: set[tuple[str, str, str]] = set()
        self._expired: set[int] = set()  # pids whose timer fired
        # lockdep: lock class -> classes acquired while holding it
        self.lock_order: dict[str, set[str]] = {}
        self.lock_order_trace: dict[tuple[str, str], list[str]] = {}
        # deadlock findings and the lock each is about: threads still asleep
        # on that lock at the end of the run are added to the finding.
        self._deadlocks: list[tuple[Finding, Mutex, set[int]]] = []
        # Per-subsystem global state ("static struct device *dma_dev" etc.):
        # named entries, and one object per state class (see :meth:`state`).
        self.globals: dict[Any, Any] = {}
        self.warned_once: set[str] = set()
        # footprint recorder (harness.footprint.recorder.Recorder) while a search asks
        # for the objects each step touches; None otherwise
        self.fp: Any = None

    # -- threads ---------------------------------------------------------

    def kthread_create(self, comm: str, fn: Callable[..., Any], *args: Any) -> Kthread:
        """Create a runnable thread that will run ``fn(*args)``."""
        t = Kthread(self._next_pid, comm, fn, args)
        self._next_pid += 1
        # t.glet: a carrier greenlet, given when the thread starts (_start)
        self.threads.append(t)
        self.nr_running += 1
        self.runqueue.append(t)  # the highest pid so far: the end of the queue
        return t

    def _set_state(self, t: Kthread, state: str) -> None:
        if t.state == state:
            return
        if t.state == RUNNABLE:
            self.nr_running -= 1
            self.runqueue.remove(t)
        elif state == RUNNABLE:
            self.nr_running += 1
            insort(self.runqueue, t, key=_pid)
        t.state = state
        if state == DEAD and self._exit_waiters:
            waiters, self._exit_waiters = self._exit_waiters, []
            for w in waiters:
                self.wake(w)

    def wait_exit(self, threads: list[Kthread], timeout: bool = False) -> bool:
        """Sleep until every thread in ``threads`` is dead, however it died
        (``waitpid``).  With ``timeout`` the sleep also ends when the whole
        system goes idle (time passes: a timer fires); returns False then.

        Init uses it to let userspace load modules before the deferred-probe
        timeout fires, without hanging when a module load never finishes."""
        t = self.current
        assert t is not None
        if self.fp is not None:
            self.fp.thread_reads(threads)
        while any(o.state != DEAD for o in threads):
            self._exit_waiters.append(t)
            if timeout:
                self._timers.append(t)
            self.block(t, _EXIT)
            if t in self._timers:
                self._timers.remove(t)
            if t.pid in self._expired:
                self._expired.discard(t.pid)
                if t in self._exit_waiters:
                    self._exit_waiters.remove(t)
                return False
        return True

    def _thread_main(self, t: Kthread) -> None:
        # This frame is the thread's entry point: "ret_from_fork" in traces.
        try:
            t.fn(*t.args)
        except AttributeError as e:
            obj = getattr(e, "obj", None)
            if obj is None or isinstance(obj, BogusPointer):
                self._oops(t, e)
            else:
                raise
        except TypeError as e:
            # A call through a NULL function pointer (pc = 0).
            if "'NoneType' object is not callable" not in str(e):
                raise
            self._oops(t, AttributeError("(*NULL)()", name="(*NULL)()", obj=None).with_traceback(
                e.__traceback__))
        except _ThreadKilled:
            pass
        self._set_state(t, DEAD)

    def _oops(self, t: Kthread, e: AttributeError) -> None:
        trace = traceback_trace(e.__traceback__)
        t.exit_trace = trace
        obj = getattr(e, "obj", None)
        field = e.name if e.name else (e.args[0] if e.args else "?")
        if isinstance(obj, BogusPointer):
            addr = obj.address
            what = "paging request"
        else:
            addr = FIELD_OFFSETS.get(str(field), 0)
            what = "NULL pointer dereference"
        fn = guilty_frame(trace)
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        dev = current_device_name(tb.tb_frame if tb is not None else None)
        title = f"BUG: kernel {what} in {fn}"
        if what == "paging request":
            title = f"BUG: unable to handle kernel paging request in {fn}"
        self.add_finding(
            Finding(
                kind=fnd.OOPS,
                title=title,
                function=fn,
                device=dev,
                trace=trace,
                message=f"{what} at virtual address {addr:016x} (->{field})",
                thread=f"{t.comm}/{t.pid}",
                fault_address=addr,
                threads=self.other_traces(t),
                invariant=1,  # spec §5.1: no NULL or bogus dereference
            )
        )
        if t.pid == 1:
            # "Kernel panic - not syncing: Attempted to kill init!"
            self.panicked = True
            raise KernelPanic("Attempted to kill init!")
        # make_task_dead(): the thread is gone, the locks it holds stay held.
        self._set_state(t, DEAD)

    def other_traces(self, me: Kthread | None) -> dict[str, list[str]]:
        """Where every other live thread is (started and not dead): the
        context of a finding in a concurrent run; empty in a synchronous one."""
        out: dict[str, list[str]] = {}
        for o in self.threads:
            if o is me or o.state == DEAD:
                continue
            if o.glet is not None and o.glet.gr_frame is not None:
                out[f"{o.comm}/{o.pid}"] = stack_trace(o.glet.gr_frame)
        return out

    def run(self) -> None:
        """Run all threads until every one is dead or blocked for good."""
        self._root = greenlet.getcurrent()
        try:
            while True:
                nxt = self._starting
                if nxt is not None:
                    self._starting = None
                else:
                    nxt = self._pick(None, "exit")
                    if nxt is None:
                        break
                self.current = nxt
                if nxt.glet is None:
                    self._start(nxt)
                else:
                    nxt.glet.switch()
        except KernelPanic:
            pass
        finally:
            self.current = None
        if not self.panicked:
            self._report_hung()

    def _runnable(self) -> list[Kthread]:
        return list(self.runqueue)

    def _pick(self, cur: Kthread | None, where: str) -> Kthread | None:
        # The run queue itself, not a copy (~900 decisions a boot in a
        # concurrent run): nothing below changes it before the pick, except
        # the timers, after which it is read again.  The chooser gets a copy.
        runnable = self.runqueue
        if not runnable and self._timers:
            # Nothing can run: time passes and the pending timers fire.
            timers, self._timers = self._timers, []
            for w in timers:
                self._expired.add(w.pid)
                self.wake(w)
            runnable = self.runqueue
        if not runnable:
            return None
        if len(runnable) == 1:
            return runnable[0]
        self.decisions += 1
        if self.record is not None:
            self.record_widths.append(len(runnable))
            self.record_where.append(where)
            if self.fp is not None:
                self.fp.decision(runnable, cur)
        known = _IS_WINDOW.get(where)
        window = is_window(where) if known is None else known
        if self.schedule_pos < len(self.schedule):
            choice = self.schedule[self.schedule_pos]
            self.schedule_pos += 1
            idx = choice % len(runnable)
        elif self.chooser is not None:
            keeps = self._chooser_keeps
            if keeps is not None and cur is not None and cur.state == RUNNABLE and (
                    not window if self._keeps_outside_windows else keeps(where)):
                if self.record is not None:
                    self.record.append(runnable.index(cur))
                if window:
                    self.windows.add((where, cur.comm, cur.comm))
                return cur
            idx = self.chooser(list(runnable), cur, where) % len(runnable)
        elif cur is not None and cur.state == RUNNABLE:
            if self.record is not None:
                self.record.append(runnable.index(cur))
            if window:
                self.windows.add((where, cur.comm, cur.comm))
            return cur
        else:
            idx = 0
        if self.record is not None:
            self.record.append(idx)
        nxt = runnable[idx]
        if cur is not None and cur.state == RUNNABLE:
            if nxt is not cur:
                self.preemptions.append((cur, nxt, where))
            if window:
                self.windows.add((where, cur.comm, nxt.comm))
        return nxt

    def sched_point(self, where: str) -> None:
        """A scheduling point in the current thread (``where`` names it)."""
        # Fast path: nobody else can run.
        if self.nr_running <= 1:
            return
        cur = self.current
        if cur is None:
            return
        # _pick()'s decision, taken here when the schedule is used up and
        # the chooser (or the synchronous default) keeps the running thread
        # at this point, which is no window point (nothing to record)
        if self._sched_keeps:
            if self.schedule_pos >= self._schedule_len and cur.state == RUNNABLE:
                known = _IS_WINDOW.get(where)
                if not (is_window(where) if known is None else known):
                    self.decisions += 1
                    return
        else:
            keeps = self._chooser_keeps
            if keeps is not None and self.record is None and self.schedule_pos >= len(self.schedule) \
                    and cur.state == RUNNABLE and keeps(where):
                self.decisions += 1
                return
        nxt = self._pick(cur, where)
        if nxt is None or nxt is cur:
            return
        self._switch_to(nxt)

    def _switch_to(self, nxt: Kthread | None) -> None:
        """Leave the current thread (it is blocked or preempted)."""
        assert self._root is not None
        if nxt is None:
            self.current = None
            self._root.switch()
            return
        self.current = nxt
        if nxt.glet is None:
            # Not started yet: the root starts it.  A greenlet started from
            # inside another one inherits its recursion depth, so a chain of
            # threads starting each other would hit the recursion limit.
            self._starting = nxt
            self._root.switch()
        else:
            nxt.glet.switch()

    def _start(self, t: Kthread) -> None:
        """Run the new thread ``t`` on a carrier greenlet (from the root).

        Carriers are reused: a greenlet's first switch maps a fresh frame
        stack for the interpreter (an mmap, its page faults and a munmap at
        the end: ~10 us, ~50 threads a concurrent boot), so one whose thread
        died waits, idle in this OS thread's pool, for the next thread.
        The thread's stack is the same either way: ``_thread_main``
        (``ret_from_fork``) at the bottom, below it only the carrier's loop."""
        pool = _carriers()
        g = pool.pop() if pool else greenlet.greenlet(_carrier)
        g.parent = self._root
        t.glet = g
        g.switch(self, t)

    def block(self, t: Kthread, on: object) -> None:
        """Put the current thread to sleep on ``on`` until :meth:`wake`."""
        self._set_state(t, BLOCKED)
        t.waiting_on = on
        t.blocked_in = stack_trace(sys._getframe(1))
        if self.fp is not None:
            self.fp.blocked = True
        while t.state == BLOCKED:
            self._switch_to(self._pick(None, "block"))
        self.current = t

    def wake(self, t: Kthread) -> None:
        if t.state == BLOCKED:
            self._set_state(t, RUNNABLE)
            t.waiting_on = None

    def _report_hung(self) -> None:
        """The hung-task detector: every thread asleep for good at the end.

        Threads asleep on a lock that a deadlock finding is about join that
        finding (their traces are added to it); every other one is an
        ``INFO: task hung`` report carrying the traces of the threads it
        waits for (a lock's owner, or whoever could still complete what it
        waits on).
        """
        covered: set[int] = set()
        for f, lock, pids in self._deadlocks:
            covered |= pids
            for t in self.threads:
                if t.state == BLOCKED and t.waiting_on is lock and t.pid not in pids:
                    f.threads[f"{t.comm}/{t.pid}"] = list(t.blocked_in)
                    covered.add(t.pid)
        for t in self.threads:
            if t.state != BLOCKED or t.pid in covered:
                continue
            on = t.waiting_on
            others: dict[str, list[str]] = {}
            if isinstance(on, Mutex):
                o = on.owner
                if o is None:
                    what = f"blocked on {on.name}"
                elif o.state == DEAD:
                    what = f"blocked on {on.name} held by dead {o.comm}/{o.pid}"
                    others[f"{o.comm}/{o.pid}"] = list(o.exit_trace)
                else:
                    what = f"blocked on {on.name} held by {o.comm}/{o.pid}"
                    others[f"{o.comm}/{o.pid}"] = list(o.blocked_in)
            else:
                name = getattr(on, "name", type(on).__name__)
                what = f"waiting for {name} that nobody will complete"
                # whoever could have completed it: the threads that died
                # and the ones asleep themselves
                for o in self.threads:
                    if o is not t and o.state == DEAD and o.exit_trace:
                        others[f"{o.comm}/{o.pid}"] = list(o.exit_trace)
                    elif o is not t and o.state == BLOCKED:
                        others[f"{o.comm}/{o.pid}"] = list(o.blocked_in)
            trace = t.blocked_in
            fn = guilty_frame(trace)
            f = self.add_finding(
                Finding(
                    kind=fnd.DEADLOCK,
                    title=f"INFO: task hung in {fn}",
                    function=fn,
                    device=None,
                    trace=list(trace),
                    message=f"{t.comm}/{t.pid} {what}",
                    thread=f"{t.comm}/{t.pid}",
                    threads=others,
                )
            )
            if f.thread != f"{t.comm}/{t.pid}":
                # another task hung at the same place: one report, both tasks
                f.threads[f"{t.comm}/{t.pid}"] = list(trace)

    def state(self, cls: type[S]) -> S:
        """The file-scope statics a module keeps in ``cls``, for this boot.

        Created on first use, so a boot starts with every subsystem in its
        initial (zeroed) state.
        """
        try:
            return self.globals[cls]  # type: ignore[no-any-return]
        except KeyError:
            s = self.globals[cls] = cls()
            return s

    # -- findings and log --------------------------------------------------

    def add_finding(self, f: Finding) -> Finding:
        """Record ``f`` unless a finding with its title and device exists;
        return the recorded one."""
        key = (f.title, f.device)
        old = self._finding_keys.get(key)
        if old is not None:
            return old
        self._finding_keys[key] = f
        if not f.preemptions:
            f.preemptions = [f"{a.comm}/{a.pid} -> {b.comm}/{b.pid} at {where}"
                             for a, b, where in self.preemptions]
        (self.lints if f.kind == fnd.LINT else self.findings).append(f)
        return f

    def printk(self, line: str) -> None:
        self.log.append(line)


_kcode(Kernel._thread_main.__code__, "ret_from_fork")

# idle carrier greenlets, per OS thread (a greenlet runs only in the thread
# that made it)
_CARRIERS = threading.local()


def _carriers() -> list[greenlet.greenlet]:
    pool: list[greenlet.greenlet] | None = getattr(_CARRIERS, "pool", None)
    if pool is None:
        pool = _CARRIERS.pool = []
    return pool


def _carrier(k: Kernel | None, t: Kthread | None) -> None:
    """A carrier greenlet's loop: run thread ``t`` of kernel ``k`` to its
    end, go back to the pool, wait to be given the next one (Kernel._start)."""
    me = greenlet.getcurrent()
    while True:
        assert k is not None and t is not None
        k._thread_main(t)
        # the thread is dead; nothing of its boot stays referenced here
        k = t = None
        _carriers().append(me)
        assert me.parent is not None
        k, t = me.parent.switch()

# Offsets of fields the model dereferences, for the "at virtual address"
# line of an oops.  struct device on arm64 as in the RK3568 report (0x3e8 is
# where devm_kmalloc's dev_to_node() read faulted); others print as 0.
FIELD_OFFSETS: dict[str, int] = {"numa_node": 0x3E8}

_K: Kernel | None = None


def set_kernel(k: Kernel | None) -> None:
    global _K
    _K = k


def kernel() -> Kernel:
    """The kernel of the run in progress."""
    assert _K is not None, "no model run in progress"
    return _K


def current() -> Kthread:
    k = kernel()
    assert k.current is not None
    return k.current


# Device context for findings: the innermost model frame that has a local
# ``dev`` naming a struct device.
def current_device_name(frame: FrameType | None = None) -> str | None:
    f: FrameType | None = frame or sys._getframe(1)
    while f is not None:
        if f.f_code in _KCODE_DEV:
            dev = f.f_locals.get("dev")
            name = getattr(dev, "init_name", None) if dev is not None else None
            if isinstance(name, str):
                return name
        f = f.f_back
    return None


def thread_traces(exclude: Kthread | None = None) -> dict[str, list[str]]:
    """Traces of every other live thread, for findings about interleavings."""
    return kernel().other_traces(exclude)


# -- locking (kernel/locking/mutex.c, lockdep) -------------------------------


@kfunc
def mutex_lock(lock: Mutex) -> None:
    k = _K
    assert k is not None, "no model run in progress"
    t = k.current
    assert t is not None
    if k.nr_running > 1:  # (the point's name is built only when it is one)
        k.sched_point(lock.lock_point)
    elif lock.owner is None and not t.held:
        # Fast path (~1,300 acquisitions a boot): no other thread can run, the
        # lock is free and nothing is held (no lockdep edge to record): take it.
        lock.owner = t
        lock.owner_frame = sys._getframe(1)
        t.held.append(lock)
        return
    if lock.owner is t:
        _report_deadlock(k, t, lock, recursive=True)
        k.block(t, lock)  # never returns: nobody will release it
        return
    if t.held:  # lockdep records held -> new edges: none while nothing is held
        # lockdep's chain cache: when every held class already has its edge to
        # this one (the common case, ~1,000 nested acquisitions a boot) there
        # is nothing to record nor to validate
        new = lock.lock_class
        order = k.lock_order
        for h in t.held:
            hc = h.lock_class
            if hc != new:
                edges = order.get(hc)
                if edges is None or new not in edges:
                    _lockdep_acquire(k, t, lock)
                    break
    while lock.owner is not None:
        cycle = _wait_for_cycle(t, lock)
        if cycle:
            _report_deadlock(k, t, lock, recursive=False, cycle=cycle)
        lock.waiters.append(t)
        k.block(t, lock)
    lock.owner = t
    lock.owner_frame = sys._getframe(1)
    t.held.append(lock)


@kfunc
def mutex_unlock(lock: Mutex) -> None:
    k = _K
    assert k is not None, "no model run in progress"
    t = k.current
    assert t is not None
    held = t.held
    if lock.owner is t and k.nr_running <= 1 and not lock.waiters and held and held[-1] is lock:
        # Fast path: the innermost lock, nobody waits on it, no other thread
        # could run at the scheduling point below.
        lock.owner = None
        lock.owner_frame = None
        held.pop()
        return
    if lock.owner is not t:
        k.add_finding(
            Finding(
                kind=fnd.WARNING,
                title="WARNING in mutex_unlock",
                function=guilty_frame(stack_trace(sys._getframe(1))),
                device=current_device_name(),
                trace=stack_trace(sys._getframe(0)),
                message=f"unlock of {lock.name} not held by {t.comm}/{t.pid}",
            )
        )
        return
    lock.owner = None
    lock.owner_frame = None
    t.held.remove(lock)
    if lock.waiters:
        k.wake(lock.waiters.pop(0))
    if k.nr_running > 1:
        k.sched_point(lock.unlock_point)


def mutex_is_locked_by_current(lock: Mutex) -> bool:
    return lock.owner is kernel().current


@kfunc
def lockdep_assert_held(lock: Mutex) -> None:
    k = _K  # kernel() inlined: ~500 assertions a boot
    assert k is not None, "no model run in progress"
    if lock.owner is not k.current:
        trace = stack_trace(sys._getframe(0))
        fn = guilty_frame(trace)
        k.add_finding(
            Finding(
                kind=fnd.WARNING,
                title=f"WARNING in {fn}",
                function=fn,
                device=current_device_name(),
                trace=trace,
                message=f"lockdep_assert_held({lock.name}) failed",
                invariant=2,
            )
        )


def _wait_for_cycle(t: Kthread, lock: Mutex) -> list[Kthread]:
    """Threads in a wait-for cycle through ``t`` if it waits on ``lock``."""
    chain = [t]
    owner = lock.owner
    seen = {t.pid}
    while owner is not None:
        if owner.pid in seen:
            return chain if owner is t else []
        seen.add(owner.pid)
        chain.append(owner)
        nxt = owner.waiting_on
        owner = nxt.owner if isinstance(nxt, Mutex) else None
    return []


def _report_deadlock(
    k: Kernel, t: Kthread, lock: Mutex, recursive: bool, cycle: list[Kthread] | None = None
) -> None:
    """A deadlock finding with every involved thread's stack.

    Recursive locking: the re-acquisition (``trace``) and where the thread
    took the lock first (lockdep's "already holding lock ... at").  A
    wait-for cycle: the other threads of the cycle, where they sleep.
    Threads that later block on ``lock`` join the finding at the end of
    the run (:meth:`Kernel._report_hung`).
    """
    trace = stack_trace(sys._getframe(2))
    fn = guilty_frame(trace)
    others: dict[str, list[str]] = {}
    if recursive and lock.owner_frame is not None:
        others[f"{t.comm}/{t.pid} acquired {lock.name} at"] = stack_trace(lock.owner_frame)
    for o in cycle or []:
        if o is not t and o.glet is not None and o.glet.gr_frame is not None:
            others[f"{o.comm}/{o.pid}"] = stack_trace(o.glet.gr_frame)
    what = "recursive locking" if recursive else "circular wait"
    f = Finding(
        kind=fnd.DEADLOCK,
        title=f"possible deadlock in {fn}",
        function=fn,
        device=current_device_name(sys._getframe(2)),
        trace=trace,
        message=f"{what}: {t.comm}/{t.pid} acquires {lock.name} "
        f"held by {lock.owner.comm + '/' + str(lock.owner.pid) if lock.owner else '?'}",
        invariant=2,
        thread=f"{t.comm}/{t.pid}",
        threads=others,
    )
    k._deadlocks.append((k.add_finding(f), lock, {o.pid for o in (cycle or [t])}))


def _lockdep_acquire(k: Kernel, t: Kthread, lock: Mutex) -> None:
    """Record held->new class edges; report an inversion (lockdep)."""
    new = lock.lock_class
    for held in t.held:
        hc = held.lock_class
        if hc == new:
            continue
        edges = k.lock_order.get(hc)
        if edges is not None and new in edges:
            # a known dependency: it was validated when it was first seen
            # (lockdep's chain cache); any cycle through it was reported by
            # whichever edge closed it.
            continue
        k.lock_order.setdefault(hc, set()).add(new)
        k.lock_order_trace[(hc, new)] = stack_trace(sys._getframe(2))
        # new -> ... -> hc already seen?
        if _reaches(k.lock_order, new, hc):
            trace = stack_trace(sys._getframe(2))
            fn = guilty_frame(trace)
            k.add_finding(
                Finding(
                    kind=fnd.DEADLOCK,
                    title=f"possible deadlock in {fn}",
                    function=fn,
                    device=current_device_name(sys._getframe(2)),
                    trace=trace,
                    message=f"circular locking dependency: {hc} -> {new} and {new} -> {hc}",
                    invariant=2,
                    thread=f"{t.comm}/{t.pid}",
                    threads={"earlier": k.lock_order_trace.get((new, hc), [])},
                )
            )


def _reaches(graph: dict[str, set[str]], a: str, b: str) -> bool:
    stack, seen = [a], {a}
    while stack:
        n = stack.pop()
        for m in graph.get(n, ()):
            if m == b:
                return True
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return False


# -- WARN machinery (include/asm-generic/bug.h) -------------------------------


@kfunc
def __warn(message: str, invariant: int | None = None, once_key: str | None = None) -> None:  # noqa: N807
    """Record a WARNING finding at the caller, with the current call trace."""
    k = kernel()
    if once_key is not None:
        if k.fp is not None:
            k.fp.touch(("warn_once",), once_key, 3)  # read and set
        if once_key in k.warned_once:
            return
        k.warned_once.add(once_key)
    frame = sys._getframe(1)
    trace = stack_trace(frame)
    fn = guilty_frame(trace)
    t = k.current
    k.add_finding(
        Finding(
            kind=fnd.WARNING,
            title=f"WARNING in {fn}",
            function=fn,
            device=current_device_name(frame),
            trace=trace,
            message=message,
            invariant=invariant,
            thread=f"{t.comm}/{t.pid}" if t else "",
            threads=k.other_traces(t) if t else {},
        )
    )


def WARN_ON(cond: object, what: str = "", invariant: int | None = None) -> bool:  # noqa: N802
    """``WARN_ON(cond)``: report when true, return the condition."""
    if cond:
        __warn(what or "WARN_ON", invariant)
    return bool(cond)


def WARN_ON_ONCE(cond: object, key: str, what: str = "") -> bool:  # noqa: N802
    if cond:
        __warn(what or "WARN_ON_ONCE", None, once_key=key)
    return bool(cond)
