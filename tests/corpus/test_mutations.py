"""corpus.mutations: pure, validating DT mutations."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus import mutations as m
from corpus.bundled import bundled_names, load_bundled
from corpus.dt import load_platform_file
from harness.board import Board, IommuMapEntry, IommuRef

FIXTURES = Path(__file__).parent / "fixtures"
VOP, VOP_MMU = "/vop@fe040000", "/iommu@fe043e00"
VPU, VPU_MMU = "/video-codec@fdea0400", "/iommu@fdea0800"


@pytest.fixture()
def odroid() -> Board:
    return load_bundled("rk3568-odroid-m1")


def frozen(p: Board) -> str:
    return json.dumps(p.to_json(), sort_keys=True)


def test_disable_and_enable(odroid: Board) -> None:
    before = frozen(odroid)
    q = m.disable_iommu(odroid, VOP_MMU)
    assert q.node_map()[VOP_MMU].status == "disabled"
    assert q.node_map()[VOP].iommus == (IommuRef(VOP_MMU, ()),)  # reference kept
    assert m.enable_node(q, VOP_MMU).node_map()[VOP_MMU].available()
    assert frozen(odroid) == before  # pure
    m.validate(q)


def test_drop_iommu_removes_references(odroid: Board) -> None:
    q = m.drop_iommu(odroid, VOP_MMU)
    assert VOP_MMU not in q.node_map()
    assert q.node_map()[VOP].iommus == ()
    assert len(q.nodes) == len(odroid.nodes) - 1
    m.validate(q)


def test_orphan_iommu(odroid: Board) -> None:
    q = m.orphan_iommu(odroid, VPU_MMU)
    assert q.node_map()[VPU_MMU].compatible == (m.NO_DRIVER_COMPATIBLE,)
    assert q.node_map()[VPU_MMU].iommu_cells == 0


def test_multiple_iommus_per_client_and_shared_stream_ids() -> None:
    p = load_platform_file(FIXTURES / "multi-iommu.dtb")
    q = m.add_iommus_ref(p, "/vpu@5000", "/iommu@2000")
    assert q.node_map()["/vpu@5000"].iommus[-1] == IommuRef("/iommu@2000", ())
    # Fresh stream ID for arm-smmu (#iommu-cells = 2): one past the highest in use.
    q = m.add_iommus_ref(q, "/pinctrl", "/iommu@1000")
    assert q.node_map()["/pinctrl"].iommus == (IommuRef("/iommu@1000", (0x22, 0)),)
    with pytest.raises(m.MutationError, match="takes 2 cells, got 1"):
        m.add_iommus_ref(p, "/vpu@5000", "/iommu@1000", [1])
    with pytest.raises(m.MutationError, match="not an IOMMU"):
        m.add_iommus_ref(p, "/vpu@5000", "/gpu@4000")
    s = m.share_stream_ids(p, "/gpu@4000", "/vpu@5000")
    assert s.node_map()["/vpu@5000"].iommus == p.node_map()["/gpu@4000"].iommus
    r = m.remove_iommus_ref(p, "/gpu@4000", 0)
    assert r.node_map()["/gpu@4000"].iommus == (IommuRef("/iommu@2000", ()),)
    for x in (q, s, r):
        m.validate(x)


def test_pci_host_with_iommu_map(odroid: Board) -> None:
    q = m.add_pci_host(odroid, VPU_MMU, [(0x0, 0x100, 0x100), (0x100, 0x800, 0x100)],
                       mask=0xFF00, endpoints=[0x8, 0x100])
    host = [n for n in q.nodes if n.iommu_map][0]
    assert host.iommu_map == (IommuMapEntry(0, VPU_MMU, 0x100, 0x100),
                              IommuMapEntry(0x100, VPU_MMU, 0x800, 0x100))
    assert host.iommu_map_mask == 0xFF00
    assert [(e.bus, e.parent, e.rid) for e in q.extra_devices] == [
        ("pci", host.path, 0x8), ("pci", host.path, 0x100)]
    # The odroid's host bridges are domains 0-2: the new one is 3.
    assert host.props["linux,pci-domain"] == [3]
    assert q.extra_devices[0].name == "0003:00:01.0"
    m.validate(q)
    # Dropping the IOMMU removes the map entries too.
    d = m.drop_iommu(q, VPU_MMU)
    assert [n for n in d.nodes if n.path == host.path][0].iommu_map == ()


def test_dma_ranges_present_empty_absent(odroid: Board) -> None:
    q = m.set_dma_ranges(odroid, "/", [(0, 0x80000000, 1 << 32)])
    assert q.node_map()["/"].dma_ranges == ((0, 0x80000000, 1 << 32),)
    assert m.set_dma_ranges(q, "/", ()).node_map()["/"].dma_ranges == ()
    assert m.set_dma_ranges(q, "/", None).node_map()["/"].dma_ranges is None
    with pytest.raises(m.MutationError):
        m.set_dma_ranges(q, "/", [(0, 0, 1 << 64)])


def test_unknown_node(odroid: Board) -> None:
    with pytest.raises(m.MutationError, match="rk3568-odroid-m1: no node /nope"):
        m.disable_node(odroid, "/nope")


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(bundled_names()), seed=st.integers(0, 2**32 - 1),
       steps=st.integers(1, 8))
def test_random_mutation_sequences_stay_valid(name: str, seed: int, steps: int) -> None:
    p = load_bundled(name)
    before = frozen(p)
    rng = random.Random(seed)
    q = p
    for _ in range(steps):
        q, what = m.random_mutation(q, rng)
        assert what
        m.validate(q)
    assert frozen(p) == before


def test_every_mutation_applies_to_the_odroid(odroid: Board) -> None:
    rng = random.Random(1)
    for name, fn, ok in m.MUTATIONS:
        assert ok(odroid), name
        q, what = fn(odroid, rng)
        m.validate(q)
        assert frozen(q) != frozen(odroid) or name == "dma_ranges", name


def test_dropping_the_rockchip_iommus_avoids_the_oops(odroid: Board) -> None:
    """The mutated platform runs in the harness: no instance, no rk_iommu_of_xlate."""
    from harness.run import run_scenario
    from harness.variant import NEXT

    assert any("rk_iommu_of_xlate" in f.title for f in run_scenario(odroid, NEXT).findings)
    q = odroid
    for n in m.iommus(odroid):
        q = m.drop_iommu(q, n.path)
    assert not any("rk_iommu_of_xlate" in f.title for f in run_scenario(q, NEXT).findings)
