"""A variant's run that is the base's run: what it changes never steered it.

``explore`` boots every variant of a space on the same scenarios, and a
depth-1 variant differs from the base at one guard site.  The model reads a
variant only at its guard sites (:func:`harness.sites.active.check`,
``choice`` and ``present``; :class:`harness.boot.Boot` also takes the
variant's registration levels and builds), and a boot is deterministic
(``bench/check_results.py`` depends on it).  So a variant's run of a
scenario is the base's run when, at every read of a site where the variant
differs, the variant's value would have given what the base's gave: the
site was never read, or it is a guard whose value the recorded run evaluated
beside the base's at each :func:`~harness.sites.active.check`, in the same
environment, with the same outcome (:class:`harness.sites.active.Reads`;
guard predicates are pure reads of the model's state).  The first step where
the two runs could part is such a read, and there is none.  Such a run is
taken from the base's (:func:`shared`), not booted again; every other run
boots.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from fuzz.gen import FuzzInput
from harness.run import Result, run_scenario
from harness.sites import active
from harness.variant import Variant


@dataclass(frozen=True)
class BaseRun:
    """A run of a scenario, what it read of its variant (``result`` None: a harness error)."""

    variant: Variant
    result: Result | None
    reads: active.Reads

    def same_for(self, v: Variant, diff: frozenset[str] | None) -> bool:
        """Is ``v``'s run of the scenario this one?  ``diff``: the sites where
        ``v`` differs from this run's variant (:func:`differing_sites`)."""
        if diff is None:
            return False
        return all(self.reads.same_run(site, v.value(site)) for site in diff)


def differing_sites(base: Variant, v: Variant) -> frozenset[str] | None:
    """The sites where ``v``'s value differs from ``base``'s; None when they
    also differ in what a boot reads besides the sites (registration levels, builds)."""
    if v.initcalls != base.initcalls or v.builds != base.builds:
        return None
    b, d = base.as_dict(), v.as_dict()
    return frozenset(k for k, val in d.items() if b[k] != val)


def alternatives(variants: list[Variant]) -> dict[str, tuple[Any, ...]]:
    """Each site's values among ``variants``, for the sites where they are not
    all the same: what a recorded run evaluates beside its own guard."""
    out: dict[str, list[Any]] = {}
    for v in variants:
        for site, val in v.as_dict().items():
            vals = out.setdefault(site, [])
            if val not in vals:
                vals.append(val)
    return {k: tuple(vals) for k, vals in out.items() if len(vals) > 1}


def run_recording(s: FuzzInput, v: Variant, alts: dict[str, tuple[Any, ...]] | None = None) -> BaseRun:
    """Boot ``s`` under ``v``, noting what the run read of the variant and how
    each of ``alts`` (site -> other values) would have gone wherever it was read."""
    reads = active.Reads(alts)
    active.record_reads(reads)
    try:
        r: Result | None = run_scenario(s.platform, v, s.cfg)
    except Exception:  # noqa: BLE001 - the variant's own run will show (and count) it
        r = None
    finally:
        active.record_reads(None)
    return BaseRun(v, r, reads)


def shared(run: BaseRun, v: Variant, diff: frozenset[str] | None) -> Result | None:
    """``v``'s result of the scenario of ``run`` when it is ``run``'s (None: boot it)."""
    if run.result is None or not run.same_for(v, diff):
        return None
    return replace(run.result, variant=v.name)
