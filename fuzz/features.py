"""Behaviour coverage of a run, for engines without code coverage.

libFuzzer measures edges of the instrumented model; the in-process engines
measure *features* of a run's outcome instead: each end-of-run statistic
value, each finding title, and each kernel-log line with its numbers and
device names abstracted.  A run that shows a new feature did something no
earlier run did, so its input is kept for mutation and the count of features
seen is the coverage curve of the reports.
"""

from __future__ import annotations

import re

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
    return out
