"""The audit of :data:`~harness.footprint.attrs.AUDITED` containers (a test aid).

Reading an audited container is recorded as a read only because every place
that changes it calls ``fp_write()``.  With :data:`AUDIT` set, the recorder
compares each audited container read in a step with its content at the
step's end: a change without a recorded write is a missing annotation
(``StepTrace.missing``).
"""

from __future__ import annotations

from typing import Any

from harness.footprint.attrs import CONTAINERS
from harness.footprint.step import WRITE

#: Check every audited container at every step boundary (tests: slow)
AUDIT = False


class AuditCheck:
    """Every audited container read in a step is compared with its content
    at the step's end; a change without a recorded write is a missing
    annotation (``missing``)."""

    def __init__(self) -> None:
        # id(container) -> (holder key, attr, container, snapshot)
        self.seen: dict[int, tuple[Any, str, Any, Any]] = {}
        self.missing: list[str] = []

    def start(self) -> None:
        """A step starts: nothing seen yet."""
        self.seen = {}

    def saw(self, ok: Any, attr: str, v: Any) -> None:
        """The step read audited container ``v`` (``ok.<attr>``)."""
        if id(v) not in self.seen:
            self.seen[id(v)] = (ok, attr, v, _snapshot(v))

    def check(self, acc: dict[Any, int], step: int) -> None:
        """Step ``step`` ends with accesses ``acc``: did every container it
        saw change only with a recorded write?"""
        for ok, attr, v, snap in self.seen.values():
            if _snapshot(v) != snap and not acc.get((ok, attr), 0) & WRITE:
                self.missing.append(f"step {step}: {ok}.{attr} changed without fp_write")


def _snapshot(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple((k, _snapshot(x) if type(x) in CONTAINERS else id(x)) for k, x in v.items())
    if isinstance(v, (set, frozenset)):
        return frozenset(id(x) if not isinstance(x, (int, str, tuple)) else x for x in v)
    return tuple(_snapshot(x) if type(x) in CONTAINERS else id(x) for x in v)
