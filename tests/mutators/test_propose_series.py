"""Splitting a variant's change into patches: fixes vs ports, grouping, order, stages."""

from __future__ import annotations

from typing import Any

from harness.variant import NEXT, SITES, V614
from mutators.propose.pipeline import stage_variants
from mutators.propose.series import FIX, PORT, classify, split
from mutators.space import resolve


def tree_612() -> dict[str, Any]:
    vals = {n: s.v614 for n, s in SITES.items() if n != "iommu_init_device.dma_configure_lock"}
    for n, s in SITES.items():
        if s.patch in ("1/4", "3/4"):
            vals[n] = s.next
    return vals


def _changed(tree: dict[str, Any], target: Any) -> list[str]:
    return [n for n in tree if tree[n] != target.value(n)]


def test_classify() -> None:
    rk = "rk_iommu_probe.dma_dev"
    t = resolve("NEXT+rk_iommu_probe.dma_dev:=before_register").variant
    assert classify(rk, "after_register", t, NEXT) == FIX  # tree as reference, variant differs
    hook = "platform_dma_configure.use_default_domain"
    assert classify(hook, V614.value(hook), t, NEXT) == PORT  # tree lacks the reference's change
    assert classify(hook, None, t, NEXT, known=False) == PORT  # unread, variant = reference
    assert classify(rk, None, t, NEXT, known=False) == FIX  # unread, variant != reference


def test_seed_variant_on_612_is_series_patches_then_the_fix() -> None:
    # the fix goes on top of what it fixes (the ports are prerequisites, never posted)
    t = resolve("NEXT+rk_iommu_probe.dma_dev:=before_register").variant
    tree = tree_612()
    units = split(_changed(tree, t), tree, t, NEXT)
    assert [(u.kind, u.key) for u in units] == [
        (PORT, "2/4"), (PORT, "4/4"), (FIX, "drivers/iommu/rockchip-iommu.c")]
    assert units[2].sites == ["rk_iommu_probe.dma_dev"]
    assert "platform_dma_configure.use_default_domain" in units[1].sites
    assert not any(u.modified for u in units)


def test_variant_changing_a_port_site_folds_into_that_port() -> None:
    # the change to a hook the tree does not have as in NEXT yet goes with 4/4, flagged
    vid = "NEXT+platform_dma_configure.use_default_domain:+dev->iommu_group"
    t = resolve(vid).variant
    tree = tree_612()
    units = split(_changed(tree, t), tree, t, NEXT)
    assert [u.kind for u in units] == [PORT, PORT]
    assert units[1].modified == ["platform_dma_configure.use_default_domain"]


def test_fix_sites_group_per_file() -> None:
    # on a tree that already is NEXT, a depth-2 variant touching two files: two fix patches
    vid = ("NEXT+rk_iommu_probe.dma_dev:=before_register"
           "+of_iommu_configure.replay:-dev->bus")
    t = resolve(vid).variant
    tree = {n: NEXT.value(n) for n in SITES}
    units = split(_changed(tree, t), tree, t, NEXT)
    assert [(u.kind, u.key) for u in units] == [
        (FIX, "drivers/iommu/of_iommu.c"), (FIX, "drivers/iommu/rockchip-iommu.c")]


def test_stages_take_the_tree_value_until_their_patch() -> None:
    t = resolve("NEXT+rk_iommu_probe.dma_dev:=before_register").variant
    tree = tree_612()
    units = split(_changed(tree, t), tree, t, NEXT)
    st = stage_variants(units, tree, t)
    assert len(st) == 3
    assert st[0].value("rk_iommu_probe.dma_dev") == "after_register"  # the fix comes last
    assert st[0].value("iommu_init_device.dma_configure") is None  # 4/4 not applied yet
    assert st[0].value("iommu_init_device.ops_lookup") == "iommu_init_device"  # 2/4 is
    assert st[1].value("iommu_init_device.dma_configure") is not None
    assert st[2].fingerprint() == t.fingerprint()
