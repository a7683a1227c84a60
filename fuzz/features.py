"""Behaviour coverage of a run: what every engine counts as coverage.

The engines measure *features* of a run rather than line coverage of the
model: each end-of-run statistic value, each finding title, each kernel-log
line with its numbers and device names abstracted, the scheduling points
where threads competed, each window point of the spec (§3.5, §3.6) reached
with whether the thread there was preempted and which kind of thread it
was, and (with :class:`SiteRecorder`) each guard site's
outcome.  A run that shows a new feature did something no earlier run did,
so its input is kept for mutation and the count of features seen is the
coverage curve of the reports.  The atheris engine hands the same features to
libFuzzer as coverage counters (:func:`feature_index`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

from harness import variant
from harness.run import Result

_NUM = re.compile(r"0x[0-9a-fA-F]+|\d+")
_DEV = re.compile(r"[\w.-]+@[0-9a-fA-F]+|[0-9a-fA-F]{4,}\.[\w-]+")


def features(r: Result) -> set[str]:
    """The features of one run's result."""
    out = {f"stat:{k}={v}" for k, v in r.stats.items()}
    out.update(f"title:{f.title}" for f in r.findings)
    for line in r.log:
        out.add("log:" + _NUM.sub("N", _DEV.sub("DEV", line))[:160])
    if r.panicked:
        out.add("panic")
    # how much interleaving the run offered, bucketed
    out.add(f"decisions:{min(r.decisions, 64) // 4}")
    # window coverage: each (window point, preempted or not, thread kind)
    # reached, so inputs that try a window another way are kept
    out.update("window:" + w for w in r.windows)
    # where threads competed (runs with record=True): the scheduling points
    for where in set(r.where or ()):
        out.add("sched:" + _NUM.sub("N", _DEV.sub("DEV", where))[:120])
    return out


def feature_index(feature: str, counters: int) -> int:
    """A stable counter index for ``feature`` (the same in every process)."""
    return zlib.crc32(feature.encode()) % counters


class SiteRecorder:
    """Record which way each guard site went during runs (``site:<name>=<outcome>``).

    While installed, ``harness.variant.check``/``choice`` (which the model
    calls as ``variant.check(...)``) are wrapped to note their result; the
    model's behaviour is unchanged.  One extra call per site evaluation, so
    only the atheris worker installs it.
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._saved: tuple[Callable[..., Any], Callable[..., Any]] | None = None

    def install(self) -> None:
        check, choice = variant.check, variant.choice
        seen = self.seen

        def recorded_check(site: str, **env: Any) -> bool:
            r = check(site, **env)
            seen.add(f"site:{site}={r}")
            return r

        def recorded_choice(site: str) -> str:
            r = choice(site)
            seen.add(f"site:{site}={r}")
            return r

        self._saved = (check, choice)
        variant.check = recorded_check  # type: ignore[assignment]
        variant.choice = recorded_choice  # type: ignore[assignment]

    def uninstall(self) -> None:
        if self._saved is not None:
            variant.check, variant.choice = self._saved  # type: ignore[assignment]
            self._saved = None

    def take(self) -> set[str]:
        """The features recorded since the last call."""
        out = set(self.seen)
        self.seen.clear()
        return out
