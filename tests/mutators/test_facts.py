"""Tree profiles on the real tree and on worktrees of it with a driver's
publication order moved across iommu_device_register()."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.variant_arg import resolve_variant_on
from harness.sites.shapes import AFTER, BEFORE
from harness.variant import NEXT, V614
from mutators.engine import apply_plan
from mutators.facts import _files_read, read_profile, tree_variant
from mutators.rules import plan

pytestmark = pytest.mark.kernel_tree


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROBEFUZZ_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_reference_profile_matches_presets(kernel_tree: Path, cache: Path) -> None:
    prof = read_profile(kernel_tree)
    assert not prof.cached and prof.unmodelled == []
    # the differences are the ones docs/drivers.md lists; everything else is V614
    assert {n for n, _, _ in prof.differences(V614)} == {
        "iommu_device_use_default_domain.defer", "of_iommu_configure.cleanup",
        "arm_smmu_device_probe.drvdata", "arm_smmu_device_probe.smr_masks"}
    rk = prof.drivers["drivers/iommu/rockchip-iommu.c"]
    assert (rk.registration, rk.level, rk.kconfig_type) == ("builtin_platform_driver", 6, "bool")
    assert rk.publications == {"rk_iommu_probe.dma_dev": AFTER}
    assert "of_xlate" in rk.ops_callbacks and rk.register_line > 0
    assert prof.drivers["drivers/iommu/exynos-iommu.c"].initcall == "core_initcall"
    assert read_profile(kernel_tree).cached  # warm: from the cache
    v = tree_variant(prof, "NEXT")
    assert v.value("iommu_init_device.dma_configure") == NEXT.value("iommu_init_device.dma_configure")


@pytest.fixture
def worktree(kernel_tree: Path, tmp_path: Path) -> Iterator[Path]:
    """A sparse detached worktree of the cached tree (the files the profile and
    the boards read), removed afterwards."""
    wt = tmp_path / "wt"
    subprocess.run(["git", "-C", str(kernel_tree), "worktree", "add", "--no-checkout", "--detach",
                    str(wt), "HEAD"], check=True, capture_output=True, timeout=120)
    try:
        paths = _files_read(kernel_tree) + ["include/dt-bindings", "scripts/dtc/include-prefixes",
                                            "arch/arm64/boot/dts/rockchip",
                                            "arch/arm64/boot/dts/mediatek", "Makefile",
                                            "include/uapi/linux/input-event-codes.h"]
        subprocess.run(["git", "-C", str(wt), "checkout", "HEAD", "--", *paths], check=True,
                       capture_output=True, timeout=300)
        yield wt
    finally:
        subprocess.run(["git", "-C", str(kernel_tree), "worktree", "remove", "--force", str(wt)],
                       check=False, capture_output=True, timeout=120)


def _move(wt: Path, site: str, value: str) -> None:
    p = plan(V614.with_values("move", "", **{site: value}))
    p.files = [f for f in p.files if site in f.sites]
    apply_plan(wt, p)


def _repro_findings(dts: Path, tree: Path) -> list[str]:
    from corpus.dt import load_platform_file
    from harness.boot import BootConfig
    from harness.run import run_scenario
    r = run_scenario(load_platform_file(str(dts)), resolve_variant_on("NEXT", tree), BootConfig())
    return [f.title for f in r.findings]


@pytest.mark.parametrize("site,dts,moved", [
    ("rk_iommu_probe.dma_dev", "rockchip/rk3568-evb1-v10.dts", BEFORE),
    ("mtk_iommu_probe.drvdata", "mediatek/mt8183-evb.dts", AFTER),
])
def test_publication_order_follows_tree(worktree: Path, cache: Path, site: str, dts: str,
                                        moved: str) -> None:
    board = worktree / "arch/arm64/boot/dts" / dts
    before = _repro_findings(board, worktree)
    _move(worktree, site, moved)
    prof = read_profile(worktree)
    assert prof.sites[site].value == moved
    after = _repro_findings(board, worktree)
    crashed = before if moved == BEFORE else after
    clean = after if moved == BEFORE else before
    assert crashed and not clean, (before, after)


def test_agreement_from_profile(next_files: Path, cache: Path) -> None:
    """The agreement check through a tree profile: NEXT applied by spatch, the
    profile of the result is NEXT at every site that has C in NEXT."""
    prof = read_profile(next_files)
    assert tree_variant(prof).as_dict() == {
        n: (NEXT.value(n) if prof.sites[n].applicable else tree_variant(prof).value(n))
        for n in prof.sites}
    assert not [u for u in prof.unmodelled if not u.what.startswith("driver file missing")]
