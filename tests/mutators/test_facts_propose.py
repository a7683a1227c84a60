"""propose's evidence on a tree profile: the boots run on the facts of the
tree the fix is proposed for (a worktree of the cached tree), not on the
presets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.bundled import load_bundled
from fuzz.commands.propose import evidence_facts
from harness.sites.shapes import BEFORE
from harness.variant import PRESETS, VariantError
from mutators.propose import evidence
from mutators.propose.pipeline import ProposeRequest, evidence_notes, evidence_variants
from mutators.space import resolve
from tests.mutators.test_facts import (  # noqa: F401 (head_entries: a fixture)
    _move,
    _sparse_worktree,
    head_entries,
)

pytestmark = pytest.mark.kernel_tree

VID = "NEXT+rk_iommu_probe.dma_dev=before_register"
SEED = "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
BOARD = "rk3568-odroid-m1"


@pytest.fixture
def fixed_tree(kernel_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> Iterator[Path]:
    """A worktree whose rk_iommu_probe() already sets dma_dev before registering."""
    monkeypatch.setenv("PROBEFUZZ_CACHE", str(tmp_path / "cache"))
    request.getfixturevalue("head_entries")  # the commit's tables, read once per process
    for wt in _sparse_worktree(kernel_tree, tmp_path / "wt", []):
        _move(wt, "rk_iommu_probe.dma_dev", BEFORE)
        yield wt


def _gather(req: ProposeRequest) -> evidence.Evidence:
    target, reference, v614 = evidence_variants(req)
    return evidence.gather(req.boards, target, reference, None, v614, req.evidence_facts)


def test_evidence_runs_on_the_tree_it_proposes_for(fixed_tree: Path) -> None:
    """On the presets NEXT oopses on the seed board and the fix avoids it; on
    this tree NEXT (the series over its drivers) does not, so the evidence
    finds no problem and says so instead of claiming the preset's oops."""
    presets, facts, note = evidence_facts(str(fixed_tree), None)
    assert presets is not None and facts and note == ""
    m = resolve(VID)
    boards = [(BOARD, load_bundled(BOARD))]
    plain = ProposeRequest(tree=str(fixed_tree), variant=m.variant, variant_id=VID,
                           reference=PRESETS["NEXT"], boards=boards)
    on_tree = ProposeRequest(tree=str(fixed_tree), variant=m.variant, variant_id=VID,
                             reference=PRESETS["NEXT"], boards=boards, evidence_presets=presets,
                             evidence_facts=facts)
    before = _gather(plain)
    assert before.problem is not None and before.problem.title == SEED
    after = _gather(on_tree)
    assert after.problem is None and after.facts == facts
    assert [r.variant for r in after.runs] == [VID, "NEXT", "V614"]
    assert all(r.clean or SEED not in r.titles for r in after.runs)
    assert any("avoids no finding of NEXT" in n for n in evidence_notes(after))


def test_evidence_tree_defaults(fixed_tree: Path, tmp_path: Path) -> None:
    """A partial copy is not read (the model's own facts, with a note); 'model'
    asks for them; a bad --evidence-tree is a one-line error."""
    part = tmp_path / "part"
    (part / "drivers/iommu").mkdir(parents=True)
    (part / "drivers/iommu/iommu.c").write_text((fixed_tree / "drivers/iommu/iommu.c").read_text())
    presets, facts, note = evidence_facts(str(part), None)
    assert presets is None and facts == "" and "model's own facts" in note
    assert evidence_facts(str(fixed_tree), "model") == (None, "", "")
    with pytest.raises(VariantError, match="^--evidence-tree /nonexistent: no such directory$"):
        evidence_facts(str(fixed_tree), "/nonexistent")
