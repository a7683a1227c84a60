"""Footprints: the shared objects each scheduling step reads and writes.

A *step* is the code one thread runs between two scheduling decisions
(:mod:`harness.kernel`): from the decision that picked it to the next
decision of the run.  Two steps of different threads are *independent* when
neither writes an object the other reads or writes: run from the same state
in either order they take the same paths and leave the same state, so
schedules that differ only in their order are equivalent (one Mazurkiewicz
trace).  The partial-order reduction of :func:`harness.schedules.preemption_bounded`
(``reduce=True``) prunes schedules by this relation.

Recording is switched on per run (``run_scenario(..., footprints=True)``)
and costs nothing otherwise: the hooks below are installed on the model's
classes for the run only and removed after it.

What is recorded, and why it is complete:

* **Attributes of model objects.**  Every instance attribute read or
  written on an object of a model class (every class defined in
  ``harness.*`` but the scheduler's own, see :func:`tracked_classes`) goes
  through ``__getattribute__``/``__setattr__`` hooks: ``dev->driver`` is
  ``(("dev", "<name>"), "driver")``, ``dev->iommu->fwspec`` a read of
  ``dev->iommu`` and one of ``fwspec`` on that ``struct dev_iommu``.  No
  annotation can be forgotten: the hook is per class, not per access.
  Classes the hooks leave out are checked read-only during the run
  (:data:`READ_ONLY_MODULES`: the board, the variant, the configuration;
  a write to one makes every step opaque).
* **Containers** (the klists, ``iommu_device_list``, the deferred-probe
  lists, the group device lists, the oracles' per-device tables, ...).  A
  list or dict is read and changed through a reference, not an attribute,
  and the reference may be kept across scheduling points (a klist walk
  keeps its list from one device to the next).  So reading a container
  attribute counts as *writing* it, in that step and in every later step
  of the same thread (the thread may still hold the reference), unless the
  attribute is *audited* (:data:`AUDITED`): every place that changes it
  records the write itself (:func:`fp_write`), so reading it is a read.
  ``tests/harness/test_footprint.py`` checks each audited container
  against its content at every step boundary of real boots: a change in a
  step that recorded no write fails it.
* **Locks.**  ``mutex_lock``/``mutex_unlock`` write ``lock.owner``; a step
  that takes and releases a lock (it was free before and is free after)
  only *reads* it -- two such critical sections commute -- any other
  change of owner writes it.  Lockdep's order graph: a step taking a lock
  while holding others reads the edges it checks and writes the edges it
  adds (and the graph, for the cycle check).
* **Threads.**  A step after which its thread sleeps or is dead writes the
  thread's state (``wait_exit`` reads it); a step that wakes or creates
  threads writes theirs (and thread creation writes the pid counter), and
  is flagged: it changes the run queue, which the scheduler's default
  depends on.  A step during which the run panics is opaque.
* ``WARN_ON_ONCE`` keys, written by the first warning.
* Not state: the log (written, never read by the model), the findings
  (the reduction preserves the set of findings' titles and devices, not
  which thread's copy of a duplicate is kept), the scheduler's bookkeeping.

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

import enum
import sys
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.kernel import RUNNABLE, BogusPointer, Completion, Kernel, Kthread, Mutex

READ = 1
WRITE = 2

_CONTAINERS = frozenset({list, dict, set, deque, bytearray})

#: Model classes the hooks leave out: immutable descriptions of the scenario
#: (checked: a write to one during a recorded run makes the run opaque).
READ_ONLY_MODULES = ("harness.board", "harness.variant", "harness.sites", "harness.inputs",
                     "harness.findings", "harness.klog", "harness.trace", "harness.upstream")

#: The scheduler's own classes: their state is recorded by meaning
#: (locks, threads), not attribute by attribute.
_MACHINERY = (Kernel, Kthread, Mutex, Completion, BogusPointer)

#: Container attributes whose every change records a write (fp_write): reading
#: them is a read.  (class name, attribute name).
AUDITED: frozenset[tuple[str, str]] = frozenset({
    ("bus_type", "devices"),  # klist_devices: bus_add_device, bus_remove_device
    ("bus_type", "drivers"),  # klist_drivers: bus_add_driver
    ("bus_type", "notifiers"),  # bus_register_notifier
    ("BusIndex", "devices"),  # the klists by match key (model only)
    ("BusIndex", "drivers"),
    ("device", "devres_head"),  # devres_add, devm_add_action, devres_release_all
    ("device_driver", "devices"),  # driver_bound, __device_release_driver
    ("iommu_group", "devices"),  # iommu_group_add_device, __iommu_group_remove_device
    ("IommuCoreState", "iommu_device_list"),  # iommu_device_register, _unregister
    ("IommuCoreState", "iommu_buses"),  # set before the first thread runs
    ("IommuCoreState", "fail_alloc"),  # set before the first thread runs
    ("DevlinkState", "suppliers"),  # computed before the first thread runs
    ("DevlinkState", "_by_node"),  # a cache, replaced (a store) when rebuilt
})

#: Tables keyed by device whose every access records the device's entry
#: itself (fp_touch at each use, harness/oracles.py, harness/iommu/fw_refs.py):
#: reading the attribute is no access.  tests/harness/test_footprint.py checks
#: that every function using one records it.
ELEMENTWISE: frozenset[tuple[str, str]] = frozenset({
    ("OracleState", "binding"), ("OracleState", "probe_count"),
    ("OracleState", "dma_configure_in_bind"), ("OracleState", "probe_started"),
    ("OracleState", "xlate_calls"), ("OracleState", "deferred_for_iommu"),
    ("FwRefsState", "declined"),
})

#: Attributes that are only ever incremented and decremented, never read
#: otherwise (dd.c's probe_count, an atomic_t nobody waits on in the model):
#: the updates commute, so they are no access.
COMMUTATIVE: frozenset[tuple[str, str]] = frozenset({("DeferredProbeState", "probe_count")})

#: object names that do not depend on the interleaving: class -> attribute
_NAMED = {"device": "init_name", "device_driver": "name", "bus_type": "name",
          "device_node": "full_name"}

_oga = object.__getattribute__
_osa = object.__setattr__

#: Check every audited container at every step boundary (tests: slow)
AUDIT = False

# the recorder of the run in progress (None: hooks record nothing)
_REC: Recorder | None = None


class Footprint:
    """What one step (or a sequence of steps of one thread) touched.

    ``reads``/``writes`` hold exact keys ``(object, attribute)``;
    ``cls_reads``/``cls_writes`` the same accesses by class
    ``(class name, attribute)`` for objects named by first touch, so that a
    footprint carried over to another run can be compared by class where
    object identities may differ (:meth:`coarsen`).
    """

    __slots__ = ("pid", "reads", "writes", "cls_reads", "cls_writes", "wild_reads", "wild_writes",
                 "opaque")

    def __init__(self, pid: int, reads: frozenset[Any], writes: frozenset[Any],
                 cls_reads: frozenset[Any] = frozenset(), cls_writes: frozenset[Any] = frozenset(),
                 opaque: bool = False) -> None:
        self.pid = pid
        self.reads = reads
        self.writes = writes
        self.cls_reads = cls_reads
        self.cls_writes = cls_writes
        # coarsened accesses (compared with the other side's class keys)
        self.wild_reads: frozenset[Any] = frozenset()
        self.wild_writes: frozenset[Any] = frozenset()
        self.opaque = opaque

    def __repr__(self) -> str:
        return (f"<Footprint pid {self.pid} r{len(self.reads)} w{len(self.writes)}"
                f"{' opaque' if self.opaque else ''}>")

    def union(self, other: Footprint) -> Footprint:
        """The footprint of this step followed by ``other`` (same thread)."""
        f = Footprint(self.pid, self.reads | other.reads, self.writes | other.writes,
                      self.cls_reads | other.cls_reads, self.cls_writes | other.cls_writes,
                      self.opaque or other.opaque)
        f.wild_reads = self.wild_reads | other.wild_reads
        f.wild_writes = self.wild_writes | other.wild_writes
        return f

    def coarsen(self, born: dict[Any, int], since: int) -> Footprint:
        """This footprint for comparison in another run that shares the
        first ``since`` decisions with the recorded one: accesses to
        objects first touched at or after decision ``since`` (named by
        touch order, which may differ there) become accesses by class."""
        def split(keys: frozenset[Any]) -> tuple[frozenset[Any], frozenset[Any]]:
            keep, wild = [], []
            for key in keys:
                obj = key[0]
                b = born.get(obj)
                if b is not None and b >= since:
                    wild.append((obj[1], key[1]))
                else:
                    keep.append(key)
            return frozenset(keep), frozenset(wild)
        r, wr = split(self.reads)
        w, ww = split(self.writes)
        f = Footprint(self.pid, r, w, self.cls_reads, self.cls_writes, self.opaque)
        f.wild_reads = self.wild_reads | wr
        f.wild_writes = self.wild_writes | ww
        return f


def independent(a: Footprint, b: Footprint) -> bool:
    """Do steps ``a`` and ``b`` commute?  Different threads, neither opaque,
    no object one writes that the other reads or writes."""
    if a.opaque or b.opaque or a.pid == b.pid:
        return False
    if not a.writes.isdisjoint(b.writes) or not a.writes.isdisjoint(b.reads) \
            or not b.writes.isdisjoint(a.reads):
        return False
    for x, y in ((a, b), (b, a)):
        if x.wild_writes and (not x.wild_writes.isdisjoint(y.cls_writes)
                              or not x.wild_writes.isdisjoint(y.cls_reads)):
            return False
        if x.wild_reads and not x.wild_reads.isdisjoint(y.cls_writes):
            return False
    if a.wild_writes and b.wild_writes and not a.wild_writes.isdisjoint(b.wild_writes | b.wild_reads):
        return False
    return not (b.wild_writes and a.wild_reads and not b.wild_writes.isdisjoint(a.wild_reads))


class Recorder:
    """Collects the footprint of every step of one run (``Kernel.fp``)."""

    def __init__(self, k: Kernel, stop: tuple[int, int] | None = None) -> None:
        self.k = k
        # (i, pid): stop recording once thread pid has been picked at a
        # decision after i (the steps after are not needed)
        self.stop = stop
        self.stopped = False
        self.hooks: Hooks | None = None
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
        self.audit: AuditCheck | None = AuditCheck() if AUDIT else None

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
                attr = _NAMED.get(name)
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
            if self.hooks is not None:
                self.hooks.restore()

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
            self.audit.start(self)

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
            self.audit.check(self, i)
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


class AuditCheck:
    """Test aid: every audited container read in a step is compared with
    its content at the step's end; a change without a recorded write is a
    missing annotation (``missing``)."""

    def __init__(self) -> None:
        # id(container) -> (holder key, attr, container, snapshot)
        self.seen: dict[int, tuple[Any, str, Any, Any]] = {}
        self.missing: list[str] = []

    def start(self, rec: Recorder) -> None:
        self.seen = {}

    def saw(self, ok: Any, attr: str, v: Any) -> None:
        if id(v) not in self.seen:
            self.seen[id(v)] = (ok, attr, v, _snapshot(v))

    def check(self, rec: Recorder, step: int) -> None:
        for ok, attr, v, snap in self.seen.values():
            if _snapshot(v) != snap and not rec.acc.get((ok, attr), 0) & WRITE:
                self.missing.append(f"step {step}: {ok}.{attr} changed without fp_write")


def _snapshot(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple((k, _snapshot(x) if type(x) in _CONTAINERS else id(x)) for k, x in v.items())
    if isinstance(v, (set, frozenset)):
        return frozenset(id(x) if not isinstance(x, (int, str, tuple)) else x for x in v)
    return tuple(_snapshot(x) if type(x) in _CONTAINERS else id(x) for x in v)


def fp_write(obj: Any, attr: str) -> None:
    """Record that the running step changes the audited container
    ``obj.<attr>`` (a no-op unless footprints are being recorded)."""
    r = _REC
    if r is not None:
        r.touch(r.okey(obj), attr, WRITE)


def fp_touch(key: Any, attr: Any, mode: int) -> None:
    """Record an access to a piece of state that is no model object's
    attribute (``key``/``attr`` name it); a no-op unless recording."""
    r = _REC
    if r is not None:
        r.touch(key, attr, mode)


# -- the hooks -----------------------------------------------------------------


def _getattribute(self: Any, name: str) -> Any:
    try:
        v = _oga(self, name)
    except AttributeError:
        # reading an attribute that is not set (getattr() with a default)
        # reads it too: a later store would change what the step saw
        r = _REC
        if r is not None:
            r.touch(r.okey(self), name, READ)
        raise
    r = _REC
    if r is not None:
        if name == "__dict__":
            # every attribute at once (a copy of the object): no footprint
            r.opaque = True
        elif type(v) in _CONTAINERS:
            cn = (type(self).__name__, name)
            if cn not in COMMUTATIVE and cn not in ELEMENTWISE:
                r.container(self, name, v, False)
            if r.audit is not None and (type(self).__name__, name) in AUDITED:
                r.audit.saw(r.okey(self), name, v)
        else:
            i = id(self)
            ok = r.okeys.get(i)
            if ok is None:
                ok = r.okey(self)
                if ok is None:
                    return v
            key = (ok, name)
            acc = r.acc
            if key not in acc and (type(self).__name__, name) not in COMMUTATIVE:
                acc[key] = READ
                if ok[0] == "#":
                    ck = (ok[1], name)
                    r.cls[ck] = r.cls.get(ck, 0) | READ
    return v


def _setattr(self: Any, name: str, value: Any) -> None:
    r = _REC
    if r is not None:
        if id(self) not in r.okeys and type(self).__name__ not in _NAMED and _fresh(self):
            r.created(self, type(self).__name__)
        if type(value) in _CONTAINERS:
            r.container(self, name, value, True)
        elif (type(self).__name__, name) not in COMMUTATIVE:
            r.touch(r.okey(self), name, WRITE)
    _osa(self, name, value)


def _mutex_getattribute(self: Mutex, name: str) -> Any:
    v = _oga(self, name)
    r = _REC
    if r is not None and name == "owner":
        r.touch(r.okey(self), "owner", READ)
    return v


def _mutex_setattr(self: Mutex, name: str, value: Any) -> None:
    r = _REC
    if r is not None:
        if name == "owner":
            r.lock_event(self, value)
        elif name == "name" and value.startswith("&group->mutex") and id(self) not in r.okeys:
            r.created(self, "&group->mutex")  # Mutex.__init__ in the running thread
    _osa(self, name, value)


_SLOTS: dict[type, tuple[str, ...]] = {}


def _fresh(obj: Any) -> bool:
    """Has no attribute of ``obj`` been set yet (its ``__init__`` starts)?"""
    try:
        return not _oga(obj, "__dict__")
    except AttributeError:
        pass
    cls = type(obj)
    slots = _SLOTS.get(cls)
    if slots is None:
        slots = _SLOTS[cls] = tuple(n for c in cls.__mro__ for n in vars(c).get("__slots__", ()))
    for n in slots:
        try:
            _oga(obj, n)
            return False
        except AttributeError:
            continue
    return True


def _readonly_setattr(self: Any, name: str, value: Any) -> None:
    r = _REC
    if r is not None and r.k.current is not None:
        r.violations.append(f"{type(self).__name__}.{name}")
    _osa(self, name, value)


def tracked_classes() -> tuple[list[type], list[type]]:
    """The model's classes: (hooked, checked read-only)."""
    hooked: list[type] = []
    readonly: list[type] = []
    for modname, mod in list(sys.modules.items()):
        if mod is None or not (modname == "harness" or modname.startswith("harness.")):
            continue
        if modname == "harness.footprint":
            continue
        for obj in list(vars(mod).values()):
            if not isinstance(obj, type) or obj.__module__ != modname:
                continue
            if obj in _MACHINERY or issubclass(obj, (BaseException, enum.Enum, tuple)):
                continue
            if "__getattr__" in vars(obj) or "__getattribute__" in vars(obj):
                continue
            params = getattr(obj, "__dataclass_params__", None)
            if params is not None and params.frozen:
                continue
            if getattr(obj, "_is_protocol", False):
                continue
            (readonly if modname.startswith(READ_ONLY_MODULES) else hooked).append(obj)
    return hooked, readonly


class Hooks:
    """Install the recording hooks for one run (a context manager)."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.saved: list[tuple[type, str, Any]] = []

    def _set(self, cls: type, name: str, fn: Any) -> None:
        self.saved.append((cls, name, vars(cls).get(name, _MISSING)))
        setattr(cls, name, fn)

    def __enter__(self) -> Recorder:
        global _REC
        self.rec.hooks = self
        hooked, readonly = tracked_classes()
        for cls in hooked:
            self._set(cls, "__getattribute__", _getattribute)
            self._set(cls, "__setattr__", _setattr)
        for cls in readonly:
            self._set(cls, "__setattr__", _readonly_setattr)
        self._set(Mutex, "__getattribute__", _mutex_getattribute)
        self._set(Mutex, "__setattr__", _mutex_setattr)
        _REC = self.rec
        self.rec.k.fp = self.rec
        return self.rec

    def __exit__(self, *exc: object) -> None:
        self.rec.finish()
        self.restore()

    def restore(self) -> None:
        """Stop recording and take the hooks off (idempotent)."""
        global _REC
        _REC = None
        self.rec.k.fp = None
        for cls, name, old in reversed(self.saved):
            if old is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, old)
        self.saved.clear()


_MISSING = object()

