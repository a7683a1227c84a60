"""Findings of scenarios already run under one variant, for the minimiser.

A run that shows several new titles at once (an async boot's oops, the hung
tasks behind it, the group oracle) has each title minimised on its own, from
the same scenario.  While two titles appear and disappear together, their
delta-debugging loops try the very same candidates in the same order, and
each boot is repeated.  A boot of the model is deterministic (the same
platform, boot configuration and variant give the same findings:
``bench/check_results.py`` depends on it), so the second loop can take the
first one's answers.

Candidates are keyed by identity of their parts, not by content: the
minimiser builds each candidate from the objects of the scenario it started
from (``_restrict`` keeps the original :class:`harness.board.Node` objects,
``with_cfg`` the original platform), so an identical candidate has the same
node objects, while hashing a board's content would cost a tenth of a boot.
The cache holds every keyed scenario, so no id is reused while its entry
lives; a miss (an equal candidate built from other objects) only costs the
boot it would have cost anyway.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from fuzz.gen import FuzzInput
from harness.findings import Finding
from harness.run import run_scenario
from harness.variant import Variant

#: entries kept: more than one title's full minimisation budget
#: (fuzz.minimise.DEFAULT_BUDGET), so a second title finds the first one's runs
MAX_ENTRIES = 2048


def scenario_key(s: FuzzInput) -> Hashable:
    """What a run of ``s`` depends on besides the variant (see the module doc)."""
    p = s.platform
    return (p.name, p.model, p.firmware, p.pci, tuple(map(id, p.nodes)),
            tuple(map(id, p.extra_devices)), tuple(map(id, p.acpi_iommus)), repr(s.cfg))


class RunCache:
    """The findings of runs of scenarios under ``variant`` (None: a harness error)."""

    def __init__(self, variant: Variant, max_entries: int = MAX_ENTRIES) -> None:
        self.variant = variant
        self.max_entries = max_entries
        self._runs: OrderedDict[Hashable, tuple[FuzzInput, list[Finding] | None]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def findings(self, s: FuzzInput) -> list[Finding] | None:
        """The findings of a run of ``s``, booting it only the first time;
        None when the model could not run it."""
        key = scenario_key(s)
        hit = self._runs.get(key)
        if hit is not None:
            self._runs.move_to_end(key)
            self.hits += 1
            return hit[1]
        self.misses += 1
        try:
            found: list[Finding] | None = run_scenario(s.platform, self.variant, s.cfg).findings
        except Exception:  # noqa: BLE001 - a candidate the model cannot run is not a reproducer
            found = None
        self._runs[key] = (s, found)  # s keeps the ids in the key alive
        if len(self._runs) > self.max_entries:
            self._runs.popitem(last=False)
        return found
