"""Kernel-style findings: oopses, WARNs, deadlocks and group problems.

Titles follow syzkaller's conventions so that findings deduplicate across
boards and runs: the title names the first frame of the call trace that is not
a generic helper (allocators, locking primitives, WARN machinery).

``LINT`` is the kind of a check the C does not make (duplicate IDs in an
fwspec, which ``iommu_fwspec_add_ids()`` appends without a word,
drivers/iommu/iommu.c): information about the input, never a kernel WARN.
The kernel keeps lints apart from findings (``Kernel.lints``,
``Result.lints``), so they cannot rank a variant, fail regress or make a
run exit 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OOPS = "oops"
WARNING = "warning"
DEADLOCK = "deadlock"
GROUP = "group"
ISOLATION = "isolation"
DEFER = "defer"
LINT = "lint"

# The kinds of findings; LINT is not one of them (see the module docstring).
KINDS = (OOPS, DEADLOCK, GROUP, ISOLATION, WARNING, DEFER)

# Frames a title never names: the place is where a caller misused them (the
# same rule syzkaller applies to kmalloc, mutex_lock, WARN helpers, ...).
GENERIC_FRAMES = frozenset(
    {
        "devm_kmalloc",
        "devm_kzalloc",
        "devres_add",
        "kmalloc",
        "kzalloc",
        "krealloc",
        "mutex_lock",
        "mutex_unlock",
        "__mutex_lock",
        "lockdep_assert_held",
        "dev_WARN",
        "WARN_ON",
        "WARN_ON_ONCE",
        "__warn",
        "dev_iommu_priv_set",
        "device_link_add",
        "platform_get_drvdata",
        "dev_get_drvdata",
        "of_find_device_by_node",
    }
)


def guilty_frame(trace: list[str]) -> str:
    """The first frame of an innermost-first ``trace`` that a title names."""
    for fn in trace:
        if fn not in GENERIC_FRAMES:
            return fn
    return trace[0] if trace else "unknown"


@dataclass
class Finding:
    """One report, as a kernel log would show it and as JSON consumers read it."""

    kind: str
    title: str
    function: str
    device: str | None
    trace: list[str]
    message: str = ""
    invariant: int | None = None
    thread: str = ""
    # Traces of the other threads involved (deadlocks, races), by thread name.
    threads: dict[str, list[str]] = field(default_factory=dict)
    # Alternative titles under which the same bug may show up (syzkaller's
    # "alt titles"): used when deduplicating across variants and runs.
    alt_titles: list[str] = field(default_factory=list)
    fault_address: int | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "title": self.title,
            "function": self.function,
            "device": self.device,
            "trace": list(self.trace),
        }
        if self.message:
            d["message"] = self.message
        if self.invariant is not None:
            d["invariant"] = self.invariant
        if self.thread:
            d["thread"] = self.thread
        if self.threads:
            d["threads"] = {k: list(v) for k, v in self.threads.items()}
        if self.alt_titles:
            d["alt_titles"] = list(self.alt_titles)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        return cls(
            kind=d["kind"],
            title=d["title"],
            function=d.get("function", ""),
            device=d.get("device"),
            trace=list(d.get("trace", [])),
            message=d.get("message", ""),
            invariant=d.get("invariant"),
            thread=d.get("thread", ""),
            threads={k: list(v) for k, v in d.get("threads", {}).items()},
            alt_titles=list(d.get("alt_titles", [])),
        )
