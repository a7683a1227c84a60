"""harness/footprint/audit.py: every change of an audited container is
recorded, and the check that says so can fail."""

from __future__ import annotations

import pytest

from harness.base.platform import platform_bus_type
from harness.board import Board
from harness.boot import BootConfig
from harness.device import device
from harness.footprint import audit
from harness.footprint.hooks import Hooks
from harness.footprint.recorder import Recorder
from harness.kernel import Kernel, kernel, set_kernel
from harness.run import run_scenario
from harness.variant import NEXT
from tests.harness.footprint.scenarios import ALL_ASYNC, IOMMU_ASYNC, NEXT_RK


@pytest.mark.parametrize("board_name,cfg", [("rk3568-odroid-m1", IOMMU_ASYNC),
                                            ("sdm845-db845c", ALL_ASYNC)])
def test_every_change_of_an_audited_container_is_recorded(
        board_name: str, cfg: BootConfig, rk: Board, db845c: Board,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An audited container (a klist, iommu_device_list, a group's devices)
    is read as a read: every place that changes it must say so
    (fp_write).  Each one read in a step is compared with its content at
    the step's end; a change without a recorded write fails here."""
    monkeypatch.setattr(audit, "AUDIT", True)
    board = rk if board_name.startswith("rk") else db845c
    v = NEXT_RK if board is rk else NEXT
    r = run_scenario(board, v, cfg, footprints=True)
    assert r.trace is not None
    assert r.trace.missing == []
    assert r.trace.violations == []


def test_the_audit_catches_an_unrecorded_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a klist changed without fp_write."""
    monkeypatch.setattr(audit, "AUDIT", True)
    k = Kernel([], record=True)
    set_kernel(k)
    try:
        with Hooks(Recorder(k)) as rec:
            bus = platform_bus_type

            def sneaky() -> None:
                kernel().sched_point("p")
                bus.devices.append(device("x"))  # no fp_write

            k.kthread_create("a", sneaky)
            k.kthread_create("b", lambda: kernel().sched_point("p"))
            k.run()
        assert rec.trace().missing
    finally:
        set_kernel(None)
        platform_bus_type.reset()
