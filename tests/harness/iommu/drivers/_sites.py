"""Shared by the driver tests of order sites: apply a variant's rules for one
file to a copy of the real 6.12 file and return the patched text."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.variant import Variant
from mutators.engine import apply_plan
from mutators.rules import plan


def patched_copy(kernel_tree: Path, tmp_path: Path, v: Variant, rel: str) -> str:
    """``rel`` (a tree-relative C file) after spatch ran ``v``'s rules for it, in ``tmp_path``."""
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(kernel_tree / rel, tmp_path / rel)
    p = plan(v)
    p.files = [f for f in p.files if f.file == rel]
    apply_plan(tmp_path, p)
    return (tmp_path / rel).read_text()
