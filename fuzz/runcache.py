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

The cache also holds what the reproducers minimised with it kept, by board
(``kept``): the one thing besides runs a minimisation takes from it, and
the one way an earlier title changes a later one's reproducer.  When the
bulk device drop's own keep set (IOMMUs, clients, what the failing run
names) loses a title, keeping those nodes too often holds it -- on
sdm845-db845c every title needs qcom_scm, which no IOMMU names -- and every
later pass boots a small board instead of the whole one.

Caches of other variants over the same scenario objects (``explore``
minimises a title under several variants from the same witness, and replays
one variant's reproducer under the others) can be *peers*: each run then
notes the guard sites it read, and a run of a scenario a peer booted without
its run depending on a site where the two variants differ is the peer's run
(:mod:`fuzz.baseruns`), taken without a boot.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from fuzz.baseruns import BaseRun, differing_sites, run_recording
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
    """The findings of runs of scenarios under ``variant`` (None: a harness error).

    ``peers``, a list shared by the caches of other variants (this one
    included, or added later), makes every run note the sites it read and
    lets a run be taken from a peer's (see the module doc)."""

    def __init__(self, variant: Variant, max_entries: int = MAX_ENTRIES, *,
                 peers: list[RunCache] | None = None,
                 alternatives: dict[str, tuple[Any, ...]] | None = None) -> None:
        self.variant = variant
        self.max_entries = max_entries
        self.peers = peers
        self.alternatives = alternatives  # the peers' values, evaluated beside this variant's
        self._diffs: dict[int, frozenset[str] | None] = {}
        self._runs: OrderedDict[Hashable, tuple[FuzzInput, list[Finding] | None, BaseRun | None]] \
            = OrderedDict()
        self.hits = 0
        self.misses = 0
        # board name -> the nodes the reproducers minimised with this cache
        # kept: the minimiser's bulk device drop keeps them when its own
        # keep set loses the title (fuzz.minimise._bulk_devices)
        self.kept: dict[str, set[str]] = {}
        self.shared = 0  # runs taken from a peer's

    def findings(self, s: FuzzInput) -> list[Finding] | None:
        """The findings of a run of ``s``, booting it only the first time (and
        only when no peer's run of it is this variant's too); None when the
        model could not run it."""
        key = scenario_key(s)
        hit = self._runs.get(key)
        if hit is not None:
            self._runs.move_to_end(key)
            self.hits += 1
            return hit[1]
        found: list[Finding] | None
        run: BaseRun | None = None
        peer = self._from_peer(key)
        if peer is not None:
            self.shared += 1
            found, run = peer
        elif self.peers is not None:
            self.misses += 1
            run = run_recording(s, self.variant, self.alternatives)
            found = None if run.result is None else run.result.findings
        else:
            self.misses += 1
            try:
                found = run_scenario(s.platform, self.variant, s.cfg).findings
            except Exception:  # noqa: BLE001 - a candidate the model cannot run is not a reproducer
                found = None
        self._runs[key] = (s, found, run)  # s keeps the ids in the key alive
        if len(self._runs) > self.max_entries:
            self._runs.popitem(last=False)
        return found

    def _from_peer(self, key: Hashable) -> tuple[list[Finding], BaseRun] | None:
        for peer in self.peers or ():
            if peer is self:
                continue
            hit = peer._runs.get(key)
            if hit is None or hit[1] is None or hit[2] is None:
                continue
            if id(peer) not in self._diffs:  # peers live as long as the list that holds them
                self._diffs[id(peer)] = differing_sites(peer.variant, self.variant)
            run = hit[2]
            # a run taken from a peer is that peer's: compare with the variant that booted it
            if run.variant is not peer.variant:
                continue
            if run.same_for(self.variant, self._diffs[id(peer)]):
                return hit[1], run
        return None
