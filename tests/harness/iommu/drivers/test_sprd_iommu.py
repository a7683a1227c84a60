"""sprd-iommu on a hand-written platform: no 6.12 device tree has a
``sprd,iommu-v1`` node (tests/corpus/test_build.py checks that), so the
hand-written board corpus/examples/sprd-example.json has the binding example's display IOMMU (sprd,iommu.yaml:
``iommu@63000800``, ``#iommu-cells = <0>``) and two masters naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.board import Board, load_board
from harness.findings import OOPS
from harness.variant import NEXT, V614
from tests.harness.iommu.drivers import _misc_boards as mb

CLIENTS = ("63000000.dpu", "63100000.gsp")


EXAMPLE = Path(__file__).resolve().parents[4] / "corpus" / "examples" / "sprd-example.json"


def board() -> Board:
    return load_board(EXAMPLE)


def test_v614_every_client_is_in_the_instance_group_before_its_driver_probes() -> None:
    r = mb.run(board(), V614)
    assert r.result.findings == []
    ats = [r.at_probe[c] for c in CLIENTS]
    for at in ats:
        assert at.iommu_dev.dev.init_name == "63000800.iommu"
        assert at.group is at.iommu_dev.singleton_group and at.default_domain is not None
        assert at.priv.iommu is at.iommu_dev and at.ids == ()
    assert ats[0].group is ats[1].group


@pytest.mark.parametrize("base", [V614, NEXT], ids=["V614", "NEXT"])
def test_drvdata_after_register(base: object) -> None:
    """The order site is read: NEXT's walk runs sprd_iommu_of_xlate() before
    drvdata exists, and sprd_iommu_probe_device() returns &NULL->iommu (no
    NULL check) -- the core faults on it; V614 parses only at bind time."""
    v = base.with_values(f"{base.name}+sprd-after", "",  # type: ignore[attr-defined]
                         **{"sprd_iommu_probe.drvdata": "after_register"})
    r = mb.run(board(), v)
    oops = [f for f in r.result.findings if f.kind == OOPS]
    if base is V614:
        assert r.result.findings == []
    else:
        assert len(oops) == 1 and oops[0].fault_address == 0x30
        assert "sprd_iommu_probe" in oops[0].trace
