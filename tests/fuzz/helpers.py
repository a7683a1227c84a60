"""Shared helpers for the fuzz tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from corpus.bundled import bundled_path, load_bundled
from fuzz.gen import CorpusBoard, GenContext

ROOT = Path(__file__).resolve().parents[2]
SEED_TITLE = "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
RK = "rk3568-odroid-m1"
FIX = "NEXT+rk_iommu_probe.dma_dev:=before_register"


def board(name: str) -> CorpusBoard:
    return CorpusBoard(name, load_bundled(name), str(bundled_path(name)))


def ctx(*names: str, **kw: bool) -> GenContext:
    return GenContext([board(n) for n in names], **kw)


def probefuzz(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "fuzz.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)
