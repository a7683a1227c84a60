"""A step's footprint and the independence relation of the reduction.

A *step* is the code one thread runs between two scheduling decisions
(:mod:`harness.kernel`): from the decision that picked it to the next
decision of the run.  Two steps of different threads are *independent* when
neither writes an object the other reads or writes: run from the same state
in either order they take the same paths and leave the same state, so
schedules that differ only in their order are equivalent (one Mazurkiewicz
trace).  The partial-order reduction of :func:`harness.schedules.preemption_bounded`
(``reduce=True``) prunes schedules by this relation.

Accesses are keys ``(object name, attribute)``: ``dev->driver`` is
``(("device", "<name>"), "driver")`` (:mod:`harness.footprint.recorder`
names the objects).
"""

from __future__ import annotations

from typing import Any

#: access modes, or-ed per key in a step
READ = 1
WRITE = 2


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
