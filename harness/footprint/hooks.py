"""The per-run class hooks: how the model's accesses reach the recorder.

For a recorded run (``run_scenario(..., footprints=True)``), :class:`Hooks`
installs ``__getattribute__``/``__setattr__`` on every model class
(:func:`tracked_classes`: every class defined in ``harness.*`` but the
scheduler's own and the footprint machinery), lock-owner hooks on
:class:`~harness.kernel.Mutex`, and a write check on the read-only classes
(:data:`~harness.footprint.attrs.READ_ONLY_MODULES`); it takes them off when
the run ends, so a plain run executes no hook.  Where a change goes through
a reference the hooks cannot see (an audited klist) or touches state that is
no attribute (an oracle's per-device entry), the model calls
:func:`fp_write`/:func:`fp_touch`, no-ops unless a run records.
"""

from __future__ import annotations

import enum
import sys
from typing import Any

from harness.footprint.attrs import AUDITED, COMMUTATIVE, CONTAINERS, ELEMENTWISE, NAMED, READ_ONLY_MODULES
from harness.footprint.recorder import Recorder
from harness.footprint.step import READ, WRITE
from harness.kernel import BogusPointer, Completion, Kernel, Kthread, Mutex

#: The scheduler's own classes: their state is recorded by meaning
#: (locks, threads), not attribute by attribute.
_MACHINERY = (Kernel, Kthread, Mutex, Completion, BogusPointer)

_oga = object.__getattribute__
_osa = object.__setattr__

# the recorder of the run in progress (None: hooks record nothing)
_REC: Recorder | None = None


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
        elif type(v) in CONTAINERS:
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
        if id(self) not in r.okeys and type(self).__name__ not in NAMED and _fresh(self):
            r.created(self, type(self).__name__)
        if type(value) in CONTAINERS:
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
        if modname == "harness.footprint" or modname.startswith("harness.footprint."):
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
        self.rec.unhook = self.restore
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

