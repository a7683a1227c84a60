"""Seeded interleaving-only bugs (issue 17): the plain boot is clean, some
schedule shows the bug, and ``probefuzz fuzz --variant V --time 120`` (default
engine, no schedule given) finds it on a bundled board in >= 4 of 5 seeds; the
variant without the bug shows none of the titles in the same budget.

Each bug is one site of its base changed.  The race base ``RACE_BASE``
snapshots ``dev->driver`` once in the platform bus hook and revalidates after
retaking ``iommu_probe_device_lock`` in ``iommu_init_device``; the first two
bugs put one of those back to NEXT's value, the third removes 1/4's
-EPROBE_DEFER (a client bind racing the registration walk before it made the
default domains, W1).  The fourth, W5, is a ``dma_range_map`` free racing the
unlocked "dma_range_map already set" test: the walk's dma_configure of a
client installs the map and defers, a failing bind of the client adopts it
and frees it in device_unbind_cleanup(), the walk kfree()s it again.  Its
base ``W5_BASE`` runs the IOMMU-layer dma_configure under device_lock(dev)
(serialised with binds, as the bind-time call is); both carry the replay
guard's ``!dev_iommu_fwspec_get(dev)``, without which the walk's own replay
would re-enter dma_configure and take device_lock twice.  Found through
window preemptions (``BootConfig.preempt``, and ``preempt_dev`` aimed at one
device's window decisions: W5's window is 2 of ~570 on the fw_devlink boot
order, on the Adreno SMMU's two clients) with ``driver_async_probe=`` in
generated inputs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from corpus.bundled import load_bundled
from harness.run import run_scenario
from mutators.space import resolve

pytestmark = pytest.mark.quality

ROOT = Path(__file__).resolve().parents[2]
BOARD = "sdm845-db845c"  # two arm-smmu instances: walks that race each other and the clients
FIX = "NEXT+rk_iommu_probe.dma_dev:=before_register"
SNAPSHOT = "platform_dma_configure.driver_read:=once"
REVALIDATE = "iommu_init_device.dma_configure_lock:=drop_revalidate"
RACE_BASE = f"{FIX}+{SNAPSHOT}+{REVALIDATE}"
NO_1_4 = "iommu_device_use_default_domain.defer:=absent"
NO_REPLAY_REENTRY = "iommu_init_device.dma_configure:+!dev->iommu->fwspec"
DEVICE_LOCK = "iommu_init_device.dma_configure_lock:=device_lock"
W5_BASE = f"{FIX}+{SNAPSHOT}+{DEVICE_LOCK}+{NO_REPLAY_REENTRY}"
SECONDS = 120
SEEDS = 5
MIN_HITS = 4


@dataclass(frozen=True)
class Race:
    name: str
    variant: str
    title: str
    base: str = RACE_BASE  # the same variant without the bug


RACES = (
    Race("bus hook reads dev->driver twice", f"{FIX}+{REVALIDATE}",
         "BUG: unable to handle kernel paging request in platform_dma_configure"),
    Race("lock dropped without revalidation in iommu_init_device", f"{FIX}+{SNAPSHOT}",
         "iommu: device probed twice in __iommu_probe_device"),
    Race("client bind racing the registration walk (no 1/4)", f"{RACE_BASE}+{NO_1_4}",
         "iommu: driver probe before default domain in really_probe"),
    Race("dma_range_map free racing the unlocked already-set test",
         f"{FIX}+{SNAPSHOT}+{REVALIDATE}+{NO_REPLAY_REENTRY}",
         "dma_range_map freed twice in of_dma_configure_id", base=W5_BASE),
)
BASES = sorted({r.base for r in RACES})


def fuzz(variant: str, seed: int, tmp: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "fuzz.cli", "fuzz", "--variant", variant, "--time", str(SECONDS),
           "--seed", str(seed), "--no-minimise", "--json", "--crashes", str(tmp / "crashes"), BOARD]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 3, env=env, cwd=tmp)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def titles(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each distinct finding of a ``fuzz --json`` run (with ``first_seconds``
    and ``first_execution``), by title."""
    return {f["title"]: f for f in out["found"]}


@pytest.mark.parametrize("race", RACES, ids=[r.name for r in RACES])
def test_plain_boot_is_clean(race: Race) -> None:
    assert run_scenario(load_bundled(BOARD), resolve(race.variant).variant).findings == []
    assert run_scenario(load_bundled(BOARD), resolve(race.base).variant).findings == []


@pytest.mark.slow  # 5 x 120 s per bug: make test-slow (the short version: tests/fuzz/test_races_short.py)
@pytest.mark.parametrize("race", RACES, ids=[r.name for r in RACES])
def test_race_is_found_without_a_schedule(race: Race, tmp_path: Path, record: Any) -> None:
    hits = []
    for seed in range(SEEDS):
        got = titles(fuzz(race.variant, seed, tmp_path / str(seed)))
        if race.title in got:
            hits.append(got[race.title])
    secs = [h["first_seconds"] for h in hits]
    runs = [h["first_execution"] for h in hits]
    record({"bug": race.name, "engine": "atheris", "hits": len(hits), "trials": SEEDS,
            "budget": f"{SECONDS}s", "median_runs": statistics.median(runs) if runs else None,
            "median_seconds": statistics.median(secs) if secs else None})
    assert len(hits) >= MIN_HITS, f"{race.name}: found in {len(hits)}/{SEEDS} seeds"


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("base", BASES, ids=["RACE_BASE" if b == RACE_BASE else "W5_BASE" for b in BASES])
def test_race_base_shows_none_of_the_titles(base: str, seed: int, tmp_path: Path) -> None:
    """False-positive check: the variants without the bugs, the same budget and seeds."""
    got = titles(fuzz(base, seed, tmp_path))
    assert not {r.title for r in RACES if r.base == base} & set(got)
