"""Seeded interleaving-only bugs (issue 17): the plain boot is clean, some
schedule shows the bug, and ``probefuzz fuzz --variant V --time 120`` (default
engine, no schedule given) finds it on a bundled board in >= 4 of 5 seeds; the
variant without the bug shows none of the titles in the same budget.

Each bug is one site of the race base ``RACE_BASE`` put back to NEXT's value:
the base snapshots ``dev->driver`` once in the platform bus hook and
revalidates after retaking ``iommu_probe_device_lock`` in
``iommu_init_device``.  Found through window preemptions
(``BootConfig.preempt``) with ``driver_async_probe=`` in generated inputs.
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
SECONDS = 120
SEEDS = 5
MIN_HITS = 4


@dataclass(frozen=True)
class Race:
    name: str
    variant: str
    title: str


RACES = (
    Race("bus hook reads dev->driver twice", f"{FIX}+{REVALIDATE}",
         "BUG: unable to handle kernel paging request in platform_dma_configure"),
    Race("lock dropped without revalidation in iommu_init_device", f"{FIX}+{SNAPSHOT}",
         "iommu: device probed twice in __iommu_probe_device"),
)


def fuzz(variant: str, seed: int, tmp: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "fuzz.cli", "fuzz", "--variant", variant, "--time", str(SECONDS),
           "--seed", str(seed), "--no-minimise", "--json", "--crashes", str(tmp / "crashes"), BOARD]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 3, env=env, cwd=tmp)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def titles(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["title"]: f for f in out["findings"]}


@pytest.mark.parametrize("race", RACES, ids=[r.name for r in RACES])
def test_plain_boot_is_clean(race: Race) -> None:
    assert run_scenario(load_bundled(BOARD), resolve(race.variant).variant).findings == []


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
def test_race_base_shows_none_of_the_titles(tmp_path: Path) -> None:
    got = titles(fuzz(RACE_BASE, 0, tmp_path))
    assert not {r.title for r in RACES} & set(got)
