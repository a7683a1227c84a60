"""apply --build: Kconfig symbols from kbuild Makefiles, per-object reports,
failures that leave nothing behind, and (slow) a real arm64 build."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpus.hosttools import ToolError
from harness.variant import NEXT
from mutators import build
from mutators.apply import apply_variant
from tests.mutators.conftest import git, snapshot


def test_symbols_follow_composite_objects_and_directories(tmp_path: Path) -> None:
    d = tmp_path / "drivers/foo/bar"
    d.mkdir(parents=True)
    (tmp_path / "drivers/Makefile").write_text("obj-$(CONFIG_FOO) += foo/\n")
    (tmp_path / "drivers/foo/Makefile").write_text("# c\nobj-$(CONFIG_FOO_BAR)\t+= bar/\n")
    (d / "Makefile").write_text("obj-$(CONFIG_BAR) += bar_drv.o\n"
                                "bar_drv-y := core.o \\\n\tquirks.o\n"
                                "bar_drv-$(CONFIG_BAR_EXTRA) += extra.o\n")
    assert build.needed_symbols(tmp_path, "drivers/foo/bar/quirks.c") == \
        ["FOO", "FOO_BAR", "BAR"]
    assert build.needed_symbols(tmp_path, "drivers/foo/bar/extra.c") == \
        ["FOO", "FOO_BAR", "BAR", "BAR_EXTRA"]
    assert build.needed_symbols(tmp_path, "drivers/foo/bar/none.c") == ["FOO", "FOO_BAR"]


@pytest.mark.kernel_tree
def test_symbols_of_the_site_files(kernel_tree: Path) -> None:
    got = {f: build.needed_symbols(kernel_tree, f) for f in (
        "drivers/iommu/rockchip-iommu.c", "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c",
        "drivers/cdx/cdx.c", "drivers/acpi/arm64/dma.c", "drivers/base/platform.c")}
    assert got == {"drivers/iommu/rockchip-iommu.c": ["ROCKCHIP_IOMMU"],
                   "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c": ["ARM_SMMU_V3"],
                   "drivers/cdx/cdx.c": ["CDX_BUS"],
                   "drivers/acpi/arm64/dma.c": ["ACPI", "ARM64"],
                   "drivers/base/platform.c": []}


def test_compiler_errors_are_picked_per_source() -> None:
    out = ("  CC      drivers/base/platform.o\n"
           "/src/drivers/base/platform.c:1400:9: error: 'x' undeclared\n"
           "/src/drivers/base/platform.c:1401:2: warning: unused\n"
           "/src/drivers/amba/bus.c:3:1: error: other file\n")
    errs, warns = build._errors_for(out, "drivers/base/platform.c")
    assert errs == ["drivers/base/platform.c:1400:9: error: 'x' undeclared"] and warns == 1


def test_missing_host_tool_names_the_package(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match=r"make not found: install Debian package 'make'"):
        build.check_host_tools()


@pytest.mark.kernel_tree
def test_build_failure_leaves_nothing_behind(mini_repo: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # the mini tree's top Makefile has no defconfig target: kbuild fails
    monkeypatch.setenv("PROBEFUZZ_BUILD_DIR", str(tmp_path / "build"))
    before = snapshot(mini_repo)
    with pytest.raises(ToolError, match="make failed on defconfig"):
        apply_variant(mini_repo, NEXT, build=True)
    assert snapshot(mini_repo) == before
    assert "probefuzz/" not in git(mini_repo, "branch", "--list")
    assert git(mini_repo, "worktree", "list").count("\n") == 1


@pytest.mark.slow
@pytest.mark.kernel_tree
def test_next_compiles_and_a_broken_file_is_reported(kernel_tree: Path, tmp_path: Path) -> None:
    """NEXT on the real tree, every touched object compiled for arm64 (shared
    build cache: minutes cold, seconds warm); then a commit that breaks
    platform.c reports that object with the compiler's error."""
    from mutators.cleanup import cleanup
    from mutators.gitrepo import open_tree

    before = (git(kernel_tree, "status", "--porcelain"), git(kernel_tree, "rev-parse", "HEAD"))
    # the tree is shared with other test sessions: a branch name of our own
    res = apply_variant(kernel_tree, NEXT, variant_id=f"NEXT-build-{os.getpid()}", build=True)
    try:
        assert {b["object"]: b["status"] for b in res.build} == {
            f[:-2] + ".o": "ok" for f in res.files}
        assert res.seconds["build_total"] > 0
        assert (git(kernel_tree, "status", "--porcelain"),
                git(kernel_tree, "rev-parse", "HEAD")) == before
    finally:
        assert cleanup(kernel_tree, [res.branch]).removed == [res.branch]
    assert open_tree(kernel_tree).heads  # the tree is still a repository with its branch
    # a scratch clone sharing the tree's objects, with a commit that does not compile
    scratch = tmp_path / "scratch"
    git(tmp_path, "clone", "-q", "--shared", "--no-checkout", str(kernel_tree), str(scratch))
    git(scratch, "checkout", "-q", "HEAD", "--", "drivers/base/platform.c")
    f = scratch / "drivers/base/platform.c"
    f.write_text(f.read_text() + "\nint probefuzz_broken(void) { return no_such_symbol; }\n")
    git(scratch, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "broken",
        "--", "drivers/base/platform.c")
    commit = git(scratch, "rev-parse", "HEAD").strip()
    res = build.build_objects(str(scratch / ".git"), "HEAD", commit, ["drivers/base/platform.c"])
    (ob,) = res.objects
    assert ob.status == "error" and "no_such_symbol" in ob.errors[0], ob
    assert ob.errors[0].startswith("drivers/base/platform.c:")
