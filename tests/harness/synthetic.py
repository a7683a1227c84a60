"""Small synthetic thread programs on the model's kernel, for checking the
partial-order reduction against every interleaving.

A program is a list of threads; a thread a list of steps (a scheduling
point ``T<t>.<s>`` between two steps); a step a list of operations on
shared model objects: ``("r", x)`` reads ``x->driver``, ``("w", x)`` writes
it, ``("l", m)`` / ``("u", m)`` lock and unlock mutex ``m``.  Each run logs
what it observed: which write every read saw, which write every write
overwrote.  That log, as a set, is the run's trace up to the order of
independent operations: two runs have the same one exactly when they order
dependent reads and writes the same way.  (Two critical sections that touch
nothing in common commute: their order is no observation.)
"""

from __future__ import annotations

from typing import Any

from harness.device import device
from harness.footprint.hooks import Hooks
from harness.footprint.recorder import Recorder
from harness.kernel import Kernel, Mutex, kernel, mutex_lock, mutex_unlock, set_kernel
from harness.run import Result

Op = tuple[str, str]
Program = list[list[list[Op]]]


def run_program(prog: Program, schedule: list[int], wants: bool | tuple[int, int] = True) -> Result:
    """Run ``prog`` under ``schedule`` (recorded, with the footprints
    ``wants`` asks for, see harness.schedules.Wants); the result's ``log``
    holds the trace, one entry per observation."""
    k = Kernel(schedule, record=True)
    log: list[tuple[Any, ...]] = []
    set_kernel(k)
    try:
        stop = wants if isinstance(wants, tuple) else None
        with Hooks(Recorder(k, stop)) as rec:
            names = sorted({x for t in prog for s in t for _, x in s})
            objs = {x: device(x) for x in names}
            locks = {x: Mutex(x) for x in names}

            def body(tid: int, steps: list[list[Op]]) -> None:
                for s, ops in enumerate(steps):
                    if s:
                        kernel().sched_point(f"T{tid}.{s}")
                    for o, (kind, x) in enumerate(ops):
                        me = (tid, s, o)
                        if kind == "r":
                            log.append(("r", me, objs[x].driver))
                        elif kind == "w":
                            log.append(("w", me, objs[x].driver))
                            objs[x].driver = me  # type: ignore[assignment]
                        elif kind == "l":
                            mutex_lock(locks[x])
                        else:
                            mutex_unlock(locks[x])

            for tid, steps in enumerate(prog):
                k.kthread_create(f"T{tid}", body, tid, steps)
            k.run()
        trace = rec.trace()
    finally:
        set_kernel(None)
    return Result("synthetic", "synthetic", list(k.findings), {}, [repr(e) for e in sorted(log, key=repr)],
                  k.panicked, k.decisions, k.record, k.record_widths, k.record_where, trace=trace)


def signature(r: Result) -> frozenset[str]:
    """The run's trace (see the module docstring) and its findings."""
    return frozenset(r.log) | frozenset(f.title for f in r.findings)
