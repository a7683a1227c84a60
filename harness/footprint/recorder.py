"""The footprint recorder: per step, the objects it read and wrote.

One :class:`Recorder` per run (``Kernel.fp``) collects the accesses the hooks
(:mod:`harness.footprint.hooks`) and the model's ``fp_write()``/``fp_touch()``
calls report, and closes a step at each scheduling decision: its accesses,
the containers its thread still holds, the locks it took and left, the
lockdep edges it added, the threads it put to sleep, woke or created
(:class:`StepTrace`, one :class:`~harness.footprint.step.Footprint` per
decision).

Objects are named stably across runs: by their kernel name when they have
one that does not depend on the interleaving (a device's ``init_name``, a
driver's or bus's ``name``, a DT node's path, a lock's name); an object the
run creates by its creator and rank, (thread, n-th object that thread
created), which is the same in every interleaving that only reorders
independent steps; else (objects older than the run) by the order in which
the run first touched them.  That order is the same in two runs with the
same schedule prefix; such an object first touched after the point where
two runs part is compared by class only (:meth:`Footprint.coarsen`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.footprint import audit
from harness.footprint.attrs import AUDITED, NAMED
from harness.footprint.step import READ, WRITE, Footprint
from harness.kernel import RUNNABLE, Kernel, Kthread, Mutex

_oga = object.__getattribute__


class Recorder:
    """Collects the footprint of every step of one run (``Kernel.fp``)."""

    def __init__(self, k: Kernel, stop: tuple[int, int] | None = None) -> None:
        self.k = k
        # (i, pid): stop recording once thread pid has been picked at a
        # decision after i (the steps after are not needed)
        self.stop = stop
        self.stopped = False
        # takes the hooks off (set by harness.footprint.hooks.Hooks)
        self.unhook: Callable[[], None] | None = None
        self.acc: dict[Any, int] = {}  # the step in progress: key -> READ|WRITE
        self.cls: dict[Any, int] = {}  # the same by class, for first-touch-named objects
        self.steps: list[Footprint] = []  # the step taken at each decision
        self.runnable: list[tuple[int, ...]] = []  # runnable pids at each decision
        self.changes_runqueue: list[bool] = []  # per step: woke or created threads
        self.ends_runnable: list[bool] = []  # per step: its thread still runnable after it
        # per thread: container attributes it may hold a reference to (key ->
        # mode), and each such attribute's container (the one reference
        # this recorder keeps: see _close)
        self.live: dict[int, dict[Any, int]] = {}
        self.containers: dict[Any, Any] = {}
        self.okeys: dict[int, Any] = {}  # id(obj) -> object name
        self.keep: list[Any] = []  # every named object, so ids are not reused
        self.born: dict[Any, int] = {}  # first-touch name -> decision of the first touch
        self.creations: dict[int, int] = {}  # per thread: objects it created (named so)
        self.locks: dict[int, tuple[Mutex, Any]] = {}  # this step: id -> (lock, owner before)
        self.edges: set[tuple[str, str]] = {(a, b) for a, bs in k.lock_order.items() for b in bs}
        self.nedges = len(self.edges)
        self.opaque = False  # the step in progress
        self.blocked = False  # ... went to sleep (Kernel.block): others may have run in it
        self.violations: list[str] = []  # writes to read-only classes
        self.audit: audit.AuditCheck | None = audit.AuditCheck() if audit.AUDIT else None

    # -- object names ------------------------------------------------------------

    def okey(self, obj: Any) -> Any:
        i = id(obj)
        ok = self.okeys.get(i)
        if ok is None:
            cls = type(obj)
            name = cls.__name__
            if cls is Mutex:
                try:
                    lname = _oga(obj, "name")
                except AttributeError:  # Mutex.__init__: see _mutex_setattr
                    return None
                if lname.startswith("&group->mutex"):  # named after an allocation-order id
                    ok = self._first_touch("&group->mutex")
                else:
                    ok = ("lock", lname)
            else:
                attr = NAMED.get(name)
                if attr is not None:
                    try:
                        ok = (name, _oga(obj, attr))
                    except AttributeError:
                        # in its __init__, before its name: nobody else can
                        # see it yet, nothing to record
                        return None
                else:
                    ok = self._first_touch(name)
            self.okeys[i] = ok
            self.keep.append(obj)
        return ok

    def created(self, obj: Any, name: str) -> Any:
        """Name an object the running thread creates (its first store, into
        a fresh object): (class, (thread, how many it created before)).
        Each thread's own steps are the same in every interleaving that
        only reorders independent steps, so the name is too: no coarsening."""
        t = self.k.current
        pid = t.pid if t is not None else 0
        n = self.creations.get(pid, 0)
        self.creations[pid] = n + 1
        ok = ("#", name, (pid, n))
        self.okeys[id(obj)] = ok
        self.keep.append(obj)
        return ok

    def _first_touch(self, name: str) -> Any:
        ok = ("#", name, len(self.born))
        self.born[ok] = len(self.runnable)
        return ok

    # -- accesses ------------------------------------------------------------------

    def touch(self, ok: Any, attr: Any, mode: int) -> None:
        if ok is None:
            return
        key = (ok, attr)
        acc = self.acc
        acc[key] = acc.get(key, 0) | mode
        if ok[0] == "#":
            ck = (ok[1], attr)
            self.cls[ck] = self.cls.get(ck, 0) | mode

    def container(self, obj: Any, attr: str, value: Any, write: bool) -> None:
        """A container attribute read (or stored): the thread holds it now."""
        ok = self.okey(obj)
        if ok is None:
            return
        mode = WRITE if write or (type(obj).__name__, attr) not in AUDITED else READ
        self.touch(ok, attr, mode)
        t = self.k.current
        if t is not None:
            live = self.live.setdefault(t.pid, {})
            key = (ok, attr)
            live[key] = live.get(key, 0) | mode
            self.containers[key] = value

    def lock_event(self, lock: Mutex, owner: Any) -> None:
        i = id(lock)
        if i not in self.locks:
            try:
                self.locks[i] = (lock, _oga(lock, "owner"))
            except AttributeError:  # Mutex.__init__
                return
        if isinstance(owner, Kthread):
            new = _oga(lock, "lock_class")
            for h in owner.held:
                self.touch(("lockdep",), (h.lock_class, new), READ)

    def thread_reads(self, threads: Iterable[Kthread]) -> None:
        for t in threads:
            self.touch(("thread", t.pid), "state", READ)

    # -- step boundaries -----------------------------------------------------------

    def decision(self, runnable: list[Kthread], cur: Kthread | None) -> None:
        """A decision is about to be taken: close the step that led here."""
        pids = tuple(t.pid for t in runnable)
        if self.runnable:
            self._close(pids, cur)
        else:
            self._reset()
        self.runnable.append(pids)
        stop = self.stop
        if stop is not None and len(self.steps) > stop[0] + 1 and self.steps[-1].pid == stop[1]:
            # the search needs nothing after this thread ran again: the
            # rest of the run goes at a plain run's speed
            self.stopped = True
            if self.unhook is not None:
                self.unhook()

    def trace(self) -> StepTrace:
        """What the run recorded (after :meth:`finish`)."""
        return StepTrace(self.steps, self.runnable, self.ends_runnable, self.changes_runqueue,
                         self.born, sorted(set(self.violations)),
                         list(self.audit.missing) if self.audit is not None else [])

    def finish(self) -> None:
        """The run is over: close the last step."""
        if self.stopped:
            return
        if self.runnable and len(self.steps) < len(self.runnable):
            self.opaque = self.opaque or self.k.panicked
            self._close((), None)

    def _reset(self) -> None:
        self.acc = {}
        self.cls = {}
        self.locks = {}
        self.opaque = False
        self.blocked = False
        if self.audit is not None:
            self.audit.start()

    def _close(self, pids: tuple[int, ...], cur: Kthread | None) -> None:
        i = len(self.steps)
        before = self.runnable[i]
        k = self.k
        rec = k.record
        pid = before[rec[i] % len(before)] if rec is not None and i < len(rec) else -1
        # locks: a critical section taken and left in this step only reads it
        for lock, owner0 in self.locks.values():
            free = owner0 is None and _oga(lock, "owner") is None
            self.touch(self.okey(lock), "owner", READ if free else WRITE)
        # lockdep: edges this step added
        n = sum(len(v) for v in k.lock_order.values())
        if n != self.nedges:
            for a, bs in k.lock_order.items():
                for b in bs:
                    if (a, b) not in self.edges:
                        self.edges.add((a, b))
                        self.touch(("lockdep",), (a, b), WRITE)
            self.touch(("lockdep",), "graph", WRITE)
            self.nedges = n
        # threads: this one asleep or dead, others woken or created
        runs_on = cur is not None and cur.pid == pid and cur.state == RUNNABLE
        if not runs_on:
            self.touch(("thread", pid), "state", WRITE)
        was, now = set(before), set(pids)
        was.discard(pid)
        now.discard(pid)
        changed = was != now
        if changed:
            for o in was ^ now:
                self.touch(("thread", o), "state", WRITE)
            if max(now, default=0) > max(before, default=0):
                self.touch(("kthread_create",), "pid", WRITE)
        if self.audit is not None:
            self.audit.check(self.acc, i)
        # A container nobody references but its holder (and this recorder)
        # is out of every thread's hands: the next access goes through the
        # attribute again.  (Three references: the holder, self.containers,
        # getrefcount's argument.)
        cont = self.containers
        for held in self.live.values():
            for key in [key for key in held if sys.getrefcount(cont[key]) <= 3]:
                del held[key]
        live = self.live.get(pid)
        if not runs_on or self.blocked:
            # The thread slept or ended in this step: whoever ran after it
            # without a decision (the only runnable thread) ran in this step
            # too, with the references it holds.
            live = {}
            for held in self.live.values():
                for key, m in held.items():
                    live[key] = live.get(key, 0) | m
        reads: list[Any] = []
        writes: list[Any] = []
        for key, m in self.acc.items():
            (writes if m & WRITE else reads).append(key)
        if live:
            for key, m in live.items():
                (writes if m & WRITE else reads).append(key)
        creads = [c for c, m in self.cls.items() if not m & WRITE]
        cwrites = [c for c, m in self.cls.items() if m & WRITE]
        if live:
            for (ok, attr), m in live.items():
                if ok[0] == "#":
                    (cwrites if m & WRITE else creads).append((ok[1], attr))
        self.steps.append(Footprint(pid, frozenset(reads), frozenset(writes), frozenset(creads),
                                    frozenset(cwrites), self.opaque or bool(self.violations)))
        self.changes_runqueue.append(changed)
        self.ends_runnable.append(runs_on and not self.blocked)
        self._reset()


@dataclass
class StepTrace:
    """The footprints of one run: per decision ``i``, the step taken there."""

    steps: list[Footprint]
    runnable: list[tuple[int, ...]]  # runnable pids at decision i (run queue order)
    ends_runnable: list[bool]  # step i's thread still runnable at decision i + 1
    changes_runqueue: list[bool]  # step i woke or created threads
    born: dict[Any, int] = field(default_factory=dict)  # first-touch names: decision first touched
    violations: list[str] = field(default_factory=list)  # writes to read-only classes
    missing: list[str] = field(default_factory=list)  # audited containers changed unrecorded
