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


def test_ipmmu_publish_before_register_keeps_the_root_publishing(next_files: Path,
                                                                  tmp_path: Path) -> None:
    """ipmmu-vmsa.c:1108 sets the drvdata for every instance; moving it before
    iommu_device_register() must not move it into the leaves-only block (L1089)."""
    v = NEXT.with_values("ipmmu-before", "", **{"ipmmu_probe.drvdata": "before_register"})
    check_agreement(next_files, tmp_path, v, {"ipmmu_probe.drvdata"})
    text = (tmp_path / "w" / "drivers/iommu/ipmmu-vmsa.c").read_text()
    body = text[text.index("static int ipmmu_probe("):text.index("static void ipmmu_remove(")]
    set_at = body.index("platform_set_drvdata(pdev, mmu);")
    block = body.index("if (!mmu->features->has_cache_leaf_nodes || !ipmmu_is_root(mmu))")
    assert body.count("platform_set_drvdata(pdev, mmu);") == 1
    assert set_at < block < body.index("iommu_device_register(")
