"""Agreement: the C that spatch produces reads back as the model's value.

For V614, NEXT and depth-1 variants around NEXT, the variant is applied to a
scratch copy of the real 6.12 files and every site is read back out of the C
with :mod:`mutators.readback` (plain text parsing, independent of the rules).
The default run checks one mutation per site; ``-m slow`` checks all of them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.variant import NEXT, SITES, V614, Variant
from mutators.engine import apply_plan
from mutators.readback import read_value
from mutators.rules import plan
from mutators.space import Mutant, space

pytestmark = pytest.mark.kernel_tree


def check_agreement(start: Path, tmp: Path, v: Variant, only: set[str] | None = None) -> None:
    work = tmp / "w"
    shutil.copytree(start, work)
    p = plan(v)
    if only is not None:  # only the files of the mutated sites need spatch
        files = {SITES[s].file for s in only}
        p.files = [f for f in p.files if f.file in files]
    apply_plan(work, p)
    for fr in p.files:
        text = (work / fr.file).read_text()
        for name in fr.sites:
            assert read_value(SITES[name], text) == v.value(name), (v.name, name)


def test_next_reads_back(site_files: Path, tmp_path: Path) -> None:
    check_agreement(site_files, tmp_path, NEXT)


def test_v614_reads_back(site_files: Path, tmp_path: Path) -> None:
    check_agreement(site_files, tmp_path, V614)


def _one_per_site() -> list[Mutant]:
    seen: set[str] = set()
    out = []
    for m in space("NEXT", 1):
        site = m.mutations[-1].site
        if site not in seen:
            seen.add(site)
            out.append(m)
    return out


@pytest.mark.parametrize("mutant", _one_per_site(), ids=lambda m: m.id)
def test_depth1_sample_reads_back(mutant: Mutant, next_files: Path, tmp_path: Path) -> None:
    check_agreement(next_files, tmp_path, mutant.variant, {mutant.mutations[-1].site})


@pytest.mark.slow
@pytest.mark.parametrize("mutant", space("NEXT", 1), ids=lambda m: m.id)
def test_every_depth1_variant_reads_back(mutant: Mutant, next_files: Path,
                                         tmp_path: Path) -> None:
    check_agreement(next_files, tmp_path, mutant.variant, {mutant.mutations[-1].site})
