"""Seeded-bug detection (like Hypothesis's ``quality/`` tests).

Each seeded bug is a one-site change to a clean base, the fix candidate
``FIX`` (NEXT with rockchip publishing ``dma_dev`` before
``iommu_device_register``): a guard removed, a lock held across
``dma_configure``, a publish moved after registration, firmware parsing moved
back from ``iommu_init_device`` to driver bind.  For each, the fuzzer runs
from random inputs only (no plain boot first) over the whole bundled corpus
boards FIX boots cleanly (rotated per trial, so the first board tried differs) with a fixed budget,
for several seeds; the bug counts as detected when a finding of the expected
kind and title appears.  The suite prints the detection rate and the median
runs and seconds to detection (see conftest.py), and requires every bug to be
found in most trials.  The base itself is the negative control: none of the
expected titles may show on it within the same budget.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass
from typing import Any

import pytest

from corpus.bundled import bundled_names, bundled_path, load_bundled
from fuzz.engines import hypothesis_engine, native
from fuzz.engines.session import Found, Session
from fuzz.gen import CorpusBoard, GenContext
from harness.run import run_scenario
from mutators.space import resolve

pytestmark = pytest.mark.quality

FIX = "NEXT+rk_iommu_probe.dma_dev:=before_register"
BUDGET = 150
TRIALS = 5
MIN_RATE = 0.8


@dataclass(frozen=True)
class Seeded:
    name: str
    mutation: str  # applied to FIX
    kind: str
    title_part: str
    # it takes a driverless device on a board whose IOMMU registers: rarer inputs
    budget: int = BUDGET


SEEDED = (
    Seeded("guard removed (platform hook)", "platform_dma_configure.use_default_domain:-dev->driver",
           "oops", "platform_dma_configure"),
    Seeded("guard removed (amba hook)", "amba_dma_configure.use_default_domain:-dev->driver",
           "oops", "amba_dma_configure"),
    Seeded("lock held across dma_configure", "iommu_init_device.dma_configure_lock:=hold",
           "deadlock", "iommu_probe_device_lock"),
    Seeded("publish after registration", "rk_iommu_probe.dma_dev:=after_register",
           "oops", "rk_iommu_of_xlate"),
    # the series' goal lost: a device without driver no longer gets its group
    Seeded("parsing moved back to bind", "iommu_init_device.dma_configure:=absent",
           "group", "no IOMMU group for a device without driver", budget=250),
)


@functools.cache
def clean_boards() -> tuple[str, ...]:
    """The bundled boards FIX boots without any finding: a seeded bug must be the
    only thing wrong (the others carry findings of the C as it is, e.g. the
    msm_iommu oops under NEXT or mtk_iommu_v1's missing of_xlate)."""
    fix = resolve(FIX).variant
    return tuple(n for n in bundled_names() if not run_scenario(load_bundled(n), fix).findings)


def corpus(seed: int) -> GenContext:
    """The clean bundled boards, rotated by the trial's seed: the board an engine tries
    first (Hypothesis starts from the simplest input, board 0) differs per trial."""
    names = list(clean_boards())
    k = (seed * 5) % len(names)
    names = names[k:] + names[:k]
    # no fault injection: an allocation failure leaves a device without its IOMMU on
    # any variant, which is not the seeded bug
    return GenContext([CorpusBoard(n, load_bundled(n), str(bundled_path(n))) for n in names], faults=False)


def matches(f: Found, bug: Seeded) -> bool:
    return f.kind == bug.kind and bug.title_part in f.title


def trial(variant_id: str, bug: Seeded, engine: str, seed: int) -> tuple[bool, int | None, float | None]:
    hit: list[Found] = []
    v = resolve(variant_id).variant

    def on_found(f: Found) -> None:
        if matches(f, bug) and not hit:
            hit.append(f)

    s = Session(v, engine, None, minimise_findings=False, on_found=on_found)
    if engine == "hypothesis":
        hypothesis_engine.fuzz_loop(s, corpus(seed), runs=bug.budget, seconds=None, seed=seed)
    else:
        native.fuzz_loop(s, corpus(seed), runs=bug.budget, seconds=None, seed=seed, plain_first=False)
    if not hit:
        return False, None, None
    return True, hit[0].execution, hit[0].at


@pytest.mark.parametrize("engine", ["native", "hypothesis"])
@pytest.mark.parametrize("bug", SEEDED, ids=[b.name for b in SEEDED])
def test_seeded_bug_is_found(bug: Seeded, engine: str, record: Any) -> None:
    results = [trial(f"{FIX}+{bug.mutation}", bug, engine, seed) for seed in range(TRIALS)]
    hits = [r for r in results if r[0]]
    runs = [r[1] for r in hits if r[1] is not None]
    secs = [r[2] for r in hits if r[2] is not None]
    record({"bug": bug.name, "engine": engine, "hits": len(hits), "trials": TRIALS, "budget": bug.budget,
            "median_runs": statistics.median(runs) if runs else None,
            "median_seconds": statistics.median(secs) if secs else None})
    assert len(hits) / TRIALS >= MIN_RATE, f"{bug.name}: found in {len(hits)}/{TRIALS} trials"


def test_base_is_the_negative_control() -> None:
    for bug in SEEDED:
        found, _, _ = trial(FIX, bug, "native", 0)
        assert not found, f"{bug.name}: expected title already on the clean base"
