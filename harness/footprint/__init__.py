"""Footprints: the shared objects each scheduling step reads and writes.

The partial-order reduction of :func:`harness.schedules.preemption_bounded`
(``reduce=True``) prunes schedules that differ only in the order of
independent steps.  This package records, per step of a run, what it read
and wrote, named with kernel names:

* :mod:`~harness.footprint.step`: a step's ``Footprint`` and the
  ``independent()`` relation;
* :mod:`~harness.footprint.recorder`: the ``Recorder`` of one run (object
  names, step boundaries, locks, threads, held containers) and the
  ``StepTrace`` it returns;
* :mod:`~harness.footprint.hooks`: the class hooks ``Hooks`` installs for
  the run, and :func:`fp_write`/:func:`fp_touch`, the calls the model makes
  itself;
* :mod:`~harness.footprint.attrs`: the attributes recorded otherwise than
  by the hooks' default (containers, per-device tables, counters);
* :mod:`~harness.footprint.audit`: the test aid that checks the audited
  containers' annotations.

Model code imports :func:`fp_write`, :func:`fp_touch`, :data:`READ` and
:data:`WRITE` from here.

Recording is switched on per run (``run_scenario(..., footprints=True)``)
and costs nothing otherwise: the hooks are installed on the model's
classes for the run only and removed after it.

What is recorded, and why it is complete:

* **Attributes of model objects.**  Every instance attribute read or
  written on an object of a model class (every class defined in
  ``harness.*`` but the scheduler's own, see
  :func:`~harness.footprint.hooks.tracked_classes`) goes through
  ``__getattribute__``/``__setattr__`` hooks: ``dev->driver`` is
  ``(("dev", "<name>"), "driver")``, ``dev->iommu->fwspec`` a read of
  ``dev->iommu`` and one of ``fwspec`` on that ``struct dev_iommu``.  No
  annotation can be forgotten: the hook is per class, not per access.
  Classes the hooks leave out are checked read-only during the run
  (``attrs.READ_ONLY_MODULES``: the board, the variant, the configuration;
  a write to one makes every step opaque).
* **Containers** (the klists, ``iommu_device_list``, the deferred-probe
  lists, the group device lists, the oracles' per-device tables, ...).  A
  list or dict is read and changed through a reference, not an attribute,
  and the reference may be kept across scheduling points (a klist walk
  keeps its list from one device to the next).  So reading a container
  attribute counts as *writing* it, in that step and in every later step
  of the same thread (the thread may still hold the reference), unless the
  attribute is *audited* (``attrs.AUDITED``): every place that changes it
  records the write itself (:func:`fp_write`), so reading it is a read.
  ``tests/harness/footprint/test_audit.py`` checks each audited container
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
"""

from __future__ import annotations

from harness.footprint.hooks import fp_touch, fp_write
from harness.footprint.step import READ, WRITE

__all__ = ["READ", "WRITE", "fp_touch", "fp_write"]
