"""The validation layer for every input file probefuzz reads.

Whatever the user hands in -- a platform/board JSON, a variant JSON, a
reproducer, the boot configuration inside it, a DTB, a ``.dts`` -- is checked
here (or by the loader that calls these helpers) field by field before any of
it reaches the model, and every problem is one short line that names the file
and the field: ``deep.json: nested more than 64 levels``,
``board.json: nodes[3].props.reg[1]: expected a u32 cell, got str``.

Kept at the bottom of the import order (harness), so the loaders of every
layer use the same rules:

* :func:`read_json` -- size cap, UTF-8, nesting depth checked without
  recursion *before* ``json.loads`` (which would hit RecursionError), no
  ``NaN``/``Infinity``, integers of bounded length;
* :func:`check_props` -- every ``props`` cell of a platform node;
* :func:`check_boot_config` -- every field of a reproducer's boot configuration;
* :func:`clip` -- bounded echo of user-supplied text in messages.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path
from typing import Any

from harness.base.initcall import INITCALL_LEVELS
from harness.bus.pci_spec import parse_pci_spec

__all__ = ["MAX_DEPTH", "MAX_JSON_BYTES", "check_boot_config", "check_props", "clip",
           "nesting_depth", "read_json"]

#: Largest JSON input read (the biggest real board platform is ~1 MB).
MAX_JSON_BYTES = 64 << 20
#: Deepest JSON nesting accepted (real files nest at most ~6 levels).
MAX_DEPTH = 64
#: Longest file name echoed in a message.
_NAME_CHARS = 120
#: Longest piece of user text echoed in a message.
_ECHO_CHARS = 60

_U32 = 1 << 32
# A JSON string (escapes included; an unterminated one runs to the end; the
# unrolled form, twice as fast as an alternation), and what is not a bracket.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^][{}]+")
# The depth change of each bracket byte, summed a chunk at a time.
_DELTA = [0] * 256
_DELTA[ord("[")] = _DELTA[ord("{")] = 1
_DELTA[ord("]")] = _DELTA[ord("}")] = -1
_CHUNK = 1 << 16
# Properties whose value is a string in platform JSON (docs/platform-format.md).
_STRING_PROPS = frozenset({"device_type"})


def clip(text: object, limit: int = _ECHO_CHARS) -> str:
    """``text`` on one line of at most ``limit`` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def name(path: str | os.PathLike[str]) -> str:
    """A file name fit for a one-line message."""
    return clip(os.fspath(path), _NAME_CHARS)


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The bracket nesting depth of JSON text, outside strings, without
    recursion; stops counting (returns ``limit + 1``) once over ``limit``."""
    # Strings go first, then everything but brackets, then the running depth
    # is summed in C, a chunk at a time: a character-by-character loop cost
    # ~2 ms (now ~0.6 ms) per stored reproducer with an embedded board, and the crash store
    # reads every stored reproducer on each save.  An unterminated string
    # runs to the end of the text.
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text)).encode("ascii")
    depth = deepest = 0
    for start in range(0, len(brackets), _CHUNK):
        running = list(accumulate(map(_DELTA.__getitem__, brackets[start:start + _CHUNK]),
                                  initial=depth))
        deepest = max(deepest, max(running))
        if deepest > limit:
            return limit + 1
        depth = running[-1]
    return deepest


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def read_json(path: str | os.PathLike[str], error: Callable[[str], Exception]) -> Any:
    """Read and parse a JSON file; any problem is ``error(one line)`` naming the file."""
    label = name(path)
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_JSON_BYTES:
            raise error(f"{label}: {size:,} bytes, larger than the {MAX_JSON_BYTES:,} read at most")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise error(f"{label}: no such file") from None
    except IsADirectoryError:
        raise error(f"{label}: is a directory") from None
    except (OSError, ValueError) as e:
        raise error(f"{label}: cannot read: {clip(getattr(e, 'strerror', None) or e)}") from None
    return parse_json(raw, label, error)


def parse_json(raw: bytes | str, label: str, error: Callable[[str], Exception]) -> Any:
    """Parse JSON text already read (``label`` names it in messages)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        raise error(f"{label}: not UTF-8 text (byte {e.start})") from None
    if nesting_depth(text) > MAX_DEPTH:
        raise error(f"{label}: not JSON: nested more than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError, MemoryError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else clip(e)
        where = f" (line {e.lineno} column {e.colno})" if isinstance(e, json.JSONDecodeError) else ""
        raise error(f"{label}: not JSON: {clip(msg)}{where}") from None


def check_props(props: dict[str, Any], where: str, fail: Callable[[str, str], Exception]) -> dict[str, Any]:
    """Every cell of a platform node's ``props``: a list of u32 cells, ``true``
    for an empty property, a string for ``device_type``.  ``fail(field, what)``
    builds the error."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        w = f"{where}.{clip(key, 40)}"
        if not key or len(key) > 64:
            raise fail(w, "expected a property name of 1 to 64 characters")
        if key in _STRING_PROPS:
            if not isinstance(value, str) or len(value) > 64:
                raise fail(w, f"expected a string of at most 64 characters, got {type(value).__name__}")
        elif value is True:
            pass
        elif isinstance(value, list):
            for i, cell in enumerate(value):
                if isinstance(cell, bool) or not isinstance(cell, int):
                    raise fail(f"{w}[{i}]", f"expected a u32 cell, got {type(cell).__name__}")
                if not 0 <= cell < _U32:
                    raise fail(f"{w}[{i}]", "u32 cell out of range")
        else:
            raise fail(w, f"expected a list of u32 cells or true, got {type(value).__name__}")
        out[key] = value
    return out


# -- boot configuration ------------------------------------------------------------

_PRESENCES = ("builtin", "module", "absent")
_BOOL_FIELDS = ("config_modules", "async_probe_all", "fw_devlink_strict", "events_during_boot")
_NAME_LISTS = ("fail_alloc", "driver_async_probe", "driver_order")
_MAX_PCI = 256 * 32 * 8  # every function of every bus of a domain
_DRIVER_FIELDS = {"presence": str, "async_probe": bool, "probe_ret": int, "driver_managed_dma": bool,
                  "initcall": str}
_MAX_ITEMS = 4096


def check_boot_config(d: Any, schedule: Any, event_ops: tuple[str, ...]) -> None:
    """Type every field of a boot configuration (``BootConfig`` JSON) and its
    schedule; raises ValueError naming the field (the caller adds the file)."""
    if not isinstance(d, dict):
        raise ValueError(f"expected an object, got {type(d).__name__}")
    if not isinstance(schedule, list) or len(schedule) > 1 << 20 or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 1 << 31 for s in schedule):
        raise ValueError("schedule: expected a list of small non-negative integers")
    for key, value in d.items():
        if key == "drivers":
            _check_drivers(value)
        elif key == "iommu_drivers":
            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and v in _PRESENCES for k, v in value.items()):
                raise ValueError(f"iommu_drivers: expected {{driver: {'|'.join(_PRESENCES)}}}")
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                raise ValueError(f"{key}: expected true or false")
        elif key == "deferred_probe_timeout":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3600:
                raise ValueError("deferred_probe_timeout: expected an integer in 0..3600")
        elif key in _NAME_LISTS:
            if not isinstance(value, list) or len(value) > _MAX_ITEMS or not all(
                    isinstance(x, str) and 0 < len(x) <= 256 for x in value):
                raise ValueError(f"{key}: expected a list of names")
        elif key == "pci":
            if not isinstance(value, list) or len(value) > _MAX_PCI or not all(
                    isinstance(x, str) for x in value):
                raise ValueError("pci: expected a list of \"[hotplug:][DDDD:]BB:DD.F[=ID]\" strings")
            for i, spec in enumerate(value):
                try:
                    parse_pci_spec(spec)
                except ValueError as e:
                    raise ValueError(f"pci[{i}]: {e}") from None
        elif key == "fw_devlink":
            if not isinstance(value, str) or len(value) > 16:
                raise ValueError("fw_devlink: expected a string")
        elif key == "events":
            if not isinstance(value, list) or len(value) > _MAX_ITEMS:
                raise ValueError("events: expected a list of [op, target]")
            for i, ev in enumerate(value):
                if not (isinstance(ev, list) and len(ev) == 2 and all(isinstance(x, str) for x in ev)):
                    raise ValueError(f"events[{i}]: expected [op, target]")
                if ev[0] not in event_ops:
                    raise ValueError(f"events[{i}]: op is one of {', '.join(event_ops)}")
        elif key == "preempt_dev":
            if not isinstance(value, list) or len(value) > _MAX_ITEMS or not all(
                    isinstance(x, list) and len(x) == 3 and isinstance(x[0], str) and 0 < len(x[0]) <= 256
                    and all(type(n) is int and 0 <= n < 1 << 31 for n in x[1:])
                    for x in value):
                raise ValueError("preempt_dev: expected a list of [device, i, c] (a name, two integers)")
        # unknown keys: boot_config_from_json names them


def _check_drivers(value: Any) -> None:
    if not isinstance(value, dict) or len(value) > _MAX_ITEMS:
        raise ValueError("drivers: expected an object {compatible: {...}}")
    for compat, dc in value.items():
        w = f"drivers.{clip(compat, 40)}"
        if not isinstance(dc, dict):
            raise ValueError(f"{w}: expected an object")
        for k, v in dc.items():
            want = _DRIVER_FIELDS.get(k)
            if k == "initcall" and v is None:
                continue  # the tree's level (DriverConfig's default)
            if want is None:
                raise ValueError(f"{w}: unknown field {clip(k, 40)!r}")
            if want is int:
                if isinstance(v, bool) or not isinstance(v, int) or not -4096 <= v <= 0:
                    raise ValueError(f"{w}.{k}: expected 0 or a negative errno")
            elif not isinstance(v, want):
                raise ValueError(f"{w}.{k}: expected {'true or false' if want is bool else 'a string'}")
            if k == "presence" and v not in _PRESENCES:
                raise ValueError(f"{w}.presence: expected one of {', '.join(_PRESENCES)}")
            if k == "initcall" and v not in INITCALL_LEVELS:
                raise ValueError(f"{w}.initcall: expected one of {', '.join(INITCALL_LEVELS)}")
