"""NEXT on the real 6.12 tree: the seed's change in meaning, checkpatch-clean."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.variant import NEXT
from mutators.apply import ApplyResult, apply_variant
from mutators.gitrepo import open_tree, remove_worktree
from tests.mutators.conftest import git

pytestmark = pytest.mark.kernel_tree

ELEMENTS = [  # (file, regex over the added lines) -- issue 4 point 6
    ("drivers/base/platform.c", r"if \(ret \|\| !dev->driver \|\| drv->driver_managed_dma\)"),
    ("drivers/amba/bus.c", r"if \(!ret && dev->driver && !drv->driver_managed_dma\)"),
    ("drivers/pci/pci-driver.c", r"if \(!ret && dev->driver && !driver->driver_managed_dma\)"),
    ("drivers/bus/fsl-mc/fsl-mc-bus.c", r"if \(!ret && dev->driver && !mc_drv->"),
    ("drivers/cdx/cdx.c", r"if \(!ret && dev->driver && !cdx_drv->driver_managed_dma\)"),
    ("drivers/iommu/of_iommu.c", r"if \(!err && dev->bus && !dev_iommu_present\)"),
    ("drivers/of/device.c", r"goto skip_map;[\s\S]*\nskip_map:"),
    ("drivers/acpi/arm64/dma.c", r"if \(dev->dma_range_map\) \{"),
    ("drivers/iommu/iommu.c", r"if \(!dev->driver && dev->bus->dma_configure\) \{\n"
                              r"\t\tmutex_unlock\(&iommu_probe_device_lock\);\n"
                              r"\t\tdev->bus->dma_configure\(dev\);\n"
                              r"\t\tmutex_lock\(&iommu_probe_device_lock\);"),
    ("drivers/iommu/iommu.c", r'dev_WARN\(dev, "late IOMMU probe at driver bind'),
    ("drivers/iommu/iommu.c", r"static int iommu_init_device\(struct device \*dev\)\n"),
]


@pytest.fixture(scope="module")
def applied(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[tuple[ApplyResult, tuple[str, str]]]:
    os.environ["PROBEFUZZ_WORKTREES"] = str(tmp_path_factory.mktemp("wt"))
    before = (git(kernel_tree, "status", "--porcelain"), git(kernel_tree, "rev-parse", "HEAD"))
    # the tree is shared with other test sessions: a branch name of our own
    res = apply_variant(kernel_tree, NEXT, variant_id=f"NEXT-test-{os.getpid()}", force=True)
    yield res, before
    remove_worktree(open_tree(kernel_tree), Path(res.worktree), res.branch)


def test_next_has_every_element(kernel_tree: Path, applied: tuple) -> None:
    res, before = applied
    assert (git(kernel_tree, "status", "--porcelain"),
            git(kernel_tree, "rev-parse", "HEAD")) == before
    for f, pat in ELEMENTS:
        text = git(Path(res.worktree), "show", f"{res.commit}:{f}")
        assert re.search(pat, text), (f, pat)
    removed = git(kernel_tree, "show", res.commit, "--", "drivers/acpi/scan.c")
    assert "-\t\terr = iommu_probe_device(dev);" in removed
    status = {s["site"]: s["status"] for s in res.sites}
    assert status["iommu_device_use_default_domain.defer"] == "already"  # 1/4 in 6.12
    assert status["of_iommu_configure.cleanup"] == "already"  # 3/4 in 6.12
    assert status["iommu_init_device.ops_lookup"] == "applied"  # 2/4 not in 6.12


def test_checkpatch_strict_has_no_errors(kernel_tree: Path, applied: tuple,
                                         tmp_path: Path) -> None:
    res = applied[0]
    patch = tmp_path / "next.patch"
    patch.write_text(git(Path(res.worktree), "format-patch", "-1", "--stdout", res.commit))
    # The tool never signs off for a human (issue 8): that one check is the user's.
    r = subprocess.run(["perl", str(kernel_tree / "scripts/checkpatch.pl"), "--strict",
                        "--no-tree", "--ignore", "MISSING_SIGN_OFF", str(patch)],
                       capture_output=True, text=True, cwd=res.worktree)
    assert "total: 0 errors, 0 warnings, 0 checks" in r.stdout, r.stdout


#: one of each new operator kind (snapshot, owner, lock/position, WARN placement and form)
COMBO = ("NEXT+platform_dma_configure.driver_read=once+pci_dma_configure.driver_read=once"
         "+rk_iommu_of_xlate.alloc_owner=iommu_dev+of_iommu_configure.replay_lock=hold"
         "+iommu_init_device.late_probe_warn_position=before_dma_configure"
         "+iommu_init_device.late_probe_warn_form=dev_WARN_ONCE")


def test_operator_combination_reads_back_and_is_checkpatch_clean(kernel_tree: Path,
                                                                 tmp_path: Path) -> None:
    from harness.variant import SITES
    from mutators.readback import read_value
    from mutators.space import resolve

    m = resolve(COMBO)
    res = apply_variant(kernel_tree, m.variant, variant_id=f"combo-test-{os.getpid()}",
                        force=True)
    try:
        wt = Path(res.worktree)
        for name in ("platform_dma_configure.driver_read", "pci_dma_configure.driver_read",
                     "amba_dma_configure.driver_read", "rk_iommu_of_xlate.alloc_owner",
                     "of_iommu_configure.replay_lock", "of_iommu_configure.replay",
                     "iommu_init_device.late_probe_warn_position",
                     "iommu_init_device.late_probe_warn_form", "iommu_init_device.late_probe_warn",
                     "iommu_init_device.dma_configure_position",
                     "platform_dma_configure.use_default_domain"):
            text = git(wt, "show", f"{res.commit}:{SITES[name].file}")
            assert read_value(SITES[name], text) == m.variant.value(name), name
        patch = tmp_path / "combo.patch"
        patch.write_text(git(wt, "format-patch", "-1", "--stdout", res.commit))
        r = subprocess.run(["perl", str(kernel_tree / "scripts/checkpatch.pl"), "--strict",
                            "--no-tree", "--ignore", "MISSING_SIGN_OFF", str(patch)],
                           capture_output=True, text=True, cwd=wt)
        assert "total: 0 errors, 0 warnings, 0 checks" in r.stdout, r.stdout
    finally:
        remove_worktree(open_tree(kernel_tree), Path(res.worktree), res.branch)
