"""harness/footprint/hooks.py: the class hooks are installed for a recorded
run only, and change nothing the run does."""

from __future__ import annotations

from harness.board import Board
from harness.device import device
from harness.footprint import hooks
from harness.run import run_scenario
from tests.harness.footprint.scenarios import IOMMU_ASYNC, NEXT_RK


def test_recording_is_for_the_run_only_and_changes_nothing(rk: Board) -> None:
    plain = run_scenario(rk, NEXT_RK, IOMMU_ASYNC, record=True)
    r = run_scenario(rk, NEXT_RK, IOMMU_ASYNC, footprints=True)
    # the same run, decision for decision
    assert r.schedule == plain.schedule and r.where == plain.where
    assert [f.title for f in r.findings] == [f.title for f in plain.findings]
    assert r.windows == plain.windows
    # the hooks are gone
    assert "__getattribute__" not in vars(device) and "__setattr__" not in vars(device)
    assert hooks._REC is None
    tr = r.trace
    assert tr is not None and len(tr.steps) == len(r.schedule)
    assert not tr.violations and not any(s.opaque for s in tr.steps)
