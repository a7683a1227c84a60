"""Tree profiles on the real tree and on worktrees of it with a driver's
publication order moved across iommu_device_register()."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corpus.dt import load_platform_file
from fuzz.cli import main
from fuzz.variant_arg import resolve_variant_on
from harness.base.initcall_table import CLIENT_INITCALLS
from harness.boot import BootConfig
from harness.iommu.drivers import all_drivers
from harness.run import run_scenario
from harness.sites import SITES
from harness.sites.shapes import AFTER, BEFORE
from harness.variant import NEXT, V614, VariantError
from mutators import kconfig
from mutators.engine import apply_plan
from mutators.facts import (
    _commit,
    _files_read,
    _head_entries,
    cache_dir,
    profile_key,
    read_profile,
    tree_initcalls,
    tree_variant,
)
from mutators.rules import plan
from mutators.space import Mutation

pytestmark = pytest.mark.kernel_tree


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROBEFUZZ_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_reference_profile_matches_presets(kernel_tree: Path, cache: Path,
                                           head_entries: None) -> None:
    prof = read_profile(kernel_tree)
    assert not prof.cached and prof.unmodelled == []
    # the differences are the ones docs/drivers.md lists; everything else is V614
    assert {n for n, _, _ in prof.differences(V614)} == {
        "iommu_device_use_default_domain.defer",
        "arm_smmu_device_probe.drvdata", "arm_smmu_device_probe.smr_masks"}
    rk = prof.drivers["drivers/iommu/rockchip-iommu.c"]
    assert (rk.registration, rk.level, rk.kconfig_type) == ("builtin_platform_driver", 6, "bool")
    assert rk.publications == {"rk_iommu_probe.dma_dev": AFTER}
    assert "of_xlate" in rk.ops_callbacks and rk.register_line > 0
    assert prof.drivers["drivers/iommu/exynos-iommu.c"].initcall == "core_initcall"
    assert read_profile(kernel_tree).cached  # warm: from the cache
    # registration levels: the tree's equal the model's tables (the IOMMU
    # drivers' IommuDriverSpec.initcall, harness/base/initcall_table.py)
    assert tree_initcalls(prof) == {}
    assert {i: (lvl, f) for i, (lvl, f) in prof.client_initcalls.items()} == CLIENT_INITCALLS
    levels = {s.source: s.initcall for s in all_drivers()}
    assert all(d.model_level == levels[f] for f, d in prof.drivers.items() if d.model_level)
    v = tree_variant(prof, "NEXT")
    assert v.value("iommu_init_device.dma_configure") == NEXT.value("iommu_init_device.dma_configure")
    # what the generic defconfigs build, by the kernel's own Kconfig: apple-dart
    # is not in arm64's defconfig but `default ARCH_APPLE` builds it; exynos is
    # in multi_v7_defconfig only; msm_iommu `depends on ARM` and is in neither
    builds = {f.rsplit("/", 1)[1]: d.builds for f, d in prof.drivers.items()}
    assert builds["rockchip-iommu.c"] == {"arm64": "y", "arm": "y"}
    assert builds["apple-dart.c"]["arm64"] == "y"
    assert builds["exynos-iommu.c"] == {"arm64": "n", "arm": "y"}
    assert builds["msm_iommu.c"] == {"arm64": "n", "arm": "n"}
    assert v.builds and dict(v.builds)["arm64:exynos-sysmmu"] == "absent"
    assert "rk_iommu" not in {k.split(":")[1] for k, _ in v.builds}


@pytest.fixture(scope="session")
def head_entries(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The client registration table and the defconfig evaluation of the
    cached tree's commit, read once per process from its full checkout (a sparse worktree of the same commit
    would read every driver file from git's objects instead)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROBEFUZZ_CACHE", str(tmp_path_factory.mktemp("facts-cache")))
        _head_entries(kernel_tree.resolve(), _commit(kernel_tree))
        # and its configuration: a sparse worktree cannot run make defconfig,
        # it takes its commit's (plus the defconfig lines it changes)
        kconfig.evaluate(kernel_tree.resolve(), _commit(kernel_tree), cache_dir())


def _sparse_worktree(kernel_tree: Path, wt: Path, dts_dirs: list[str]) -> Iterator[Path]:
    """A sparse detached worktree of the cached tree (the files the profile and
    the boards read), removed afterwards."""
    subprocess.run(["git", "-C", str(kernel_tree), "worktree", "add", "--no-checkout", "--detach",
                    str(wt), "HEAD"], check=True, capture_output=True, timeout=120)
    try:
        paths = _files_read(kernel_tree) + [
            "include/dt-bindings", "scripts/dtc/include-prefixes", "Makefile",
            "include/uapi/linux/input-event-codes.h", *dts_dirs]
        subprocess.run(["git", "-C", str(wt), "checkout", "HEAD", "--", *paths], check=True,
                       capture_output=True, timeout=600)
        yield wt
    finally:
        subprocess.run(["git", "-C", str(kernel_tree), "worktree", "remove", "--force", str(wt)],
                       check=False, capture_output=True, timeout=120)


@pytest.fixture
def worktree(kernel_tree: Path, tmp_path: Path, head_entries: None) -> Iterator[Path]:
    yield from _sparse_worktree(kernel_tree, tmp_path / "wt", ["arch/arm64/boot/dts/rockchip",
                                                              "arch/arm64/boot/dts/mediatek"])


@pytest.fixture(scope="module")
def full_dts_worktree(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory,
                      head_entries: None) -> Iterator[Path]:
    wt = tmp_path_factory.mktemp("facts") / "wt"
    yield from _sparse_worktree(kernel_tree, wt, ["arch/arm64/boot/dts", "arch/arm/boot/dts"])


def _move(wt: Path, site: str, value: str) -> None:
    p = plan(V614.with_values("move", "", **{site: value}))
    p.files = [f for f in p.files if site in f.sites]
    apply_plan(wt, p)


def _repro_findings(dts: Path, tree: Path) -> list[str]:
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


def _set_config(wt: Path, arch: str, line: str) -> None:
    """Write ``line`` (``CONFIG_X=y``, ``# CONFIG_X is not set``) into the
    worktree's defconfig of ``arch``, replacing the symbol's own line."""
    f = wt / kconfig.DEFCONFIGS[arch][1]
    sym = re.search(r"CONFIG_\w+", line).group(0)  # type: ignore[union-attr]
    lines = [ln for ln in f.read_text().splitlines()
             if not re.match(rf"(# )?{sym}[= ]", ln)]
    f.write_text("\n".join([*lines, line]) + "\n")


@pytest.mark.parametrize("line,presence", [("CONFIG_ROCKCHIP_IOMMU=m", "module"),
                                           ("# CONFIG_ROCKCHIP_IOMMU is not set", "absent")])
def test_defconfig_builds_drive_the_boot(worktree: Path, cache: Path, line: str, presence: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The tree's arm64 defconfig decides how rk_iommu exists on the seed board:
    =m registers when userspace loads the module, after the initcalls (the
    registration walk still meets the unset dma_dev: the seed oops); not set
    is absent, which the run says on stderr, and nothing registers."""
    board = worktree / "arch/arm64/boot/dts/rockchip/rk3568-evb1-v10.dts"
    _set_config(worktree, "arm64", line)
    prof = read_profile(worktree)
    rk = prof.drivers["drivers/iommu/rockchip-iommu.c"]
    assert rk.builds == {"arm64": "m" if presence == "module" else "n", "arm": "y"}
    assert dict(tree_variant(prof, "NEXT").builds)["arm64:rk_iommu"] == presence
    rc = main(["repro", "--json", "--tree", str(worktree), "--variant", "NEXT", str(board)])
    out = capsys.readouterr()
    r = json.loads(out.out)
    titles = [f["title"] for f in r["findings"]]
    if presence == "module":
        assert rc == 1 and "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate" in titles
        assert r["stats"]["registered_instances"] == 1
    else:
        assert rc == 0 and titles == [] and r["stats"]["registered_instances"] == 0
        assert re.search(r"note: arm64 boards, .*absent: .*\brk_iommu\b", out.err), out.err


def test_agreement_from_profile(next_files: Path, cache: Path) -> None:
    """The agreement check through a tree profile: NEXT applied by spatch, the
    profile of the result is NEXT at every site that has C in NEXT."""
    prof = read_profile(next_files)
    assert tree_variant(prof).as_dict() == {
        n: (NEXT.value(n) if prof.sites[n].applicable else tree_variant(prof).value(n))
        for n in prof.sites}
    # a copy of the site files only: no driver files, no Kconfig to evaluate
    assert not [u for u in prof.unmodelled if not u.what.startswith(
        ("driver file missing", "kernel configuration not evaluated"))]


#: one real board per modelled driver family with an order site.  Not here:
#: ipmmu (no finding in either order under NEXT since issue 16 fixed the
#: drvdata placement: ipmmu_of_xlate() stores a NULL drvdata and
#: ipmmu_probe_device() returns -ENODEV), msm (insert_iommu_master crashes in
#: either order), virtio (no DT board); arm-smmu-v3 and mtk_iommu_v1 have no
#: order site.
FAMILIES = [
    ("apple_dart_probe.drvdata", "arm64/boot/dts/apple/t8103-j274.dts"),
    ("arm_smmu_device_probe.drvdata", "arm64/boot/dts/qcom/sdm845-db845c.dts"),
    ("exynos_sysmmu_probe.drvdata", "arm64/boot/dts/exynos/exynos5433-tm2e.dts"),
    ("mtk_iommu_probe.drvdata", "arm64/boot/dts/mediatek/mt8183-evb.dts"),
    ("omap_iommu_probe.drvdata", "arm/boot/dts/ti/omap/omap4-panda-es.dts"),
    ("qcom_iommu_device_probe.drvdata", "arm64/boot/dts/qcom/apq8016-sbc.dts"),
    ("rk_iommu_probe.dma_dev", "arm64/boot/dts/rockchip/rk3568-evb1-v10.dts"),
    ("sun50i_iommu_probe.drvdata", "arm64/boot/dts/allwinner/sun50i-h6-orangepi-3.dts"),
    ("tegra_smmu_probe.mc_smmu", "arm64/boot/dts/nvidia/tegra210-p3450-0000.dts"),
]


def _build_in(wt: Path, driver: str, arch: str) -> list[str]:
    """Build ``driver`` in on ``arch`` in the worktree's defconfig when the
    generic one does not (exynos, sun50i and ipmmu are not in arm64's
    defconfig): the family tests are about the order, on a kernel that has
    the driver.  Returns the files changed."""
    d = read_profile(wt).drivers[driver]
    if d.builds.get(arch) == "y":
        return []
    _set_config(wt, arch, f"{d.kconfig}=y")
    assert read_profile(wt).drivers[driver].builds[arch] == "y"
    return [kconfig.DEFCONFIGS[arch][1]]


@pytest.mark.slow
@pytest.mark.parametrize("site,dts", FAMILIES, ids=[s.split("_probe")[0] for s, _ in FAMILIES])
def test_each_family_finding_follows_publication_order(full_dts_worktree: Path, cache: Path,
                                                       site: str, dts: str) -> None:
    """repro --variant NEXT --tree WT: the tree's order, then the other order;
    the run with the publication after iommu_device_register() has a finding
    the run with it before does not."""
    wt = full_dts_worktree
    board = wt / "arch" / dts
    built = _build_in(wt, SITES[site].file, dts.split("/", 1)[0])
    try:
        tree_order = read_profile(wt).sites[site].value
        first = set(_repro_findings(board, wt))
        other = BEFORE if tree_order == AFTER else AFTER
        _move(wt, site, other)
        assert read_profile(wt).sites[site].value == other
        second = set(_repro_findings(board, wt))
    finally:
        subprocess.run(["git", "-C", str(wt), "checkout", "HEAD", "--", SITES[site].file, *built],
                       check=True, capture_output=True, timeout=60)
    after, before = (first, second) if tree_order == AFTER else (second, first)
    assert after - before, (site, sorted(before), sorted(after))


def test_core_guard_change_follows_tree(worktree: Path, cache: Path) -> None:
    """A core guard changed in the tree (NEXT's replay condition written into
    6.12's of_iommu_configure()): the profile and the TREE variant follow."""
    site = "of_iommu_configure.replay"
    assert read_profile(worktree).sites[site].value == {"guard": ["!err", "dev->bus"]}
    p = plan(V614.with_values("core", "", **{site: NEXT.value(site)}))
    p.files = [f for f in p.files if site in f.sites]
    apply_plan(worktree, p)
    prof = read_profile(worktree)
    assert prof.sites[site].value == {"guard": ["!err", "dev->bus", "!dev_iommu_present"]}
    assert tree_variant(prof).value(site) == NEXT.value(site)


def test_initcall_levels_follow_tree(worktree: Path, kernel_tree: Path, cache: Path) -> None:
    """The profile supplies the registration levels the boot uses: an IOMMU
    driver's init moved to another level and a client driver's early
    registration made a device-level one are read from the worktree, and the
    x86 VT-d example stops binding INT3432:00 before the IOMMU registers."""
    dw = "drivers/i2c/busses/i2c-designware-platdrv.c"
    subprocess.run(["git", "-C", str(worktree), "checkout", "HEAD", "--", dw], check=True,
                   capture_output=True, timeout=60)
    for f, old, new in ((dw, "subsys_initcall(dw_i2c_init_driver)",
                         "device_initcall(dw_i2c_init_driver)"),
                        ("drivers/iommu/exynos-iommu.c", "core_initcall(exynos_iommu_init)",
                         "subsys_initcall(exynos_iommu_init)")):
        p = worktree / f
        text = p.read_text()
        assert old in text
        p.write_text(text.replace(old, new))
    prof = read_profile(worktree)
    got = tree_initcalls(prof)
    assert got.pop("exynos-sysmmu") == "subsys"
    # the file's match table moves too (the table is by ID; IOMMU IDs get no client driver)
    assert got.pop("samsung,exynos-sysmmu") == "subsys"
    assert got == {i: "device" for i, (_, f) in CLIENT_INITCALLS.items() if f == dw}
    assert "INT3432" in got
    vtd = load_platform_file(str(Path(__file__).parents[2] / "corpus/examples/x86-vtd-example.json"))
    ref = run_scenario(vtd, tree_variant(read_profile(kernel_tree), "V614"), BootConfig())
    moved = run_scenario(vtd, tree_variant(prof, "V614"), BootConfig())
    assert {f.device for f in ref.findings} == {"INT3432:00"} and moved.findings == []


def test_tree_ids_with_mutations(kernel_tree: Path, cache: Path, head_entries: None) -> None:
    """``--tree`` with ``PRESET+mutation`` ids (fuzz, regress): the mutation
    applies to the tree-driven values; a non-preset base is one clear error."""
    tok = Mutation("rk_iommu_probe.dma_dev", f"={BEFORE}").token
    v = resolve_variant_on(f"NEXT+{tok}", kernel_tree)
    assert v.name == f"NEXT-on-tree+{tok}" and v.value("rk_iommu_probe.dma_dev") == BEFORE
    tree = resolve_variant_on("NEXT", kernel_tree)
    assert {k for k, _ in tree.values} ^ {k for k, _ in v.values} == {"rk_iommu_probe.dma_dev"}
    assert resolve_variant_on(f"TREE+{tok}", None).value("rk_iommu_probe.dma_dev") == BEFORE
    with pytest.raises(VariantError, match="TREE, V614 or NEXT"):
        resolve_variant_on("no-such-base", kernel_tree)


def test_unmodelled_shape_is_reported_and_warned(worktree: Path, cache: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A guard the site's vocabulary cannot express: the profile has an
    unmodelled line with file, line and what it may affect, `facts` prints
    it, `repro --tree` warns with it before running, and the TREE variant
    keeps V614's value there instead of guessing."""
    f = worktree / "drivers/iommu/of_iommu.c"
    text = f.read_text()
    assert text.count("if (!err && dev->bus)") == 1
    f.write_text(text.replace("if (!err && dev->bus)", "if (!err && dev->bus && dev->of_node)"))
    prof = read_profile(worktree)
    [u] = prof.unmodelled
    assert u.file == "drivers/iommu/of_iommu.c" and u.line > 0
    assert "of_iommu_configure.replay" in u.what and "--variant TREE runs" in u.affects
    assert tree_variant(prof).value("of_iommu_configure.replay") == V614.value(
        "of_iommu_configure.replay")
    assert main(["facts", "--tree", str(worktree)]) == 0
    assert str(u) in capsys.readouterr().out
    board = worktree / "arch/arm64/boot/dts/rockchip/rk3568-evb1-v10.dts"
    assert main(["repro", "--tree", str(worktree), "--variant", "NEXT", str(board)]) == 1
    assert f"warning: {u}" in capsys.readouterr().err


def test_cache_key_is_the_same_in_another_process(kernel_tree: Path) -> None:
    """A warm run is another process: the key must not depend on anything
    per-process (object reprs with addresses, hash seeds)."""
    code = ("import sys; from pathlib import Path; from mutators.facts import profile_key; "
            "print(profile_key(Path(sys.argv[1]).resolve()))")
    keys = {subprocess.run([sys.executable, "-c", code, str(kernel_tree)], check=True,
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
            for seed in ("1", "2")}
    assert keys == {profile_key(kernel_tree.resolve())}


@pytest.fixture(scope="module")
def renesas_worktree(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory,
                     head_entries: None) -> Iterator[Path]:
    wt = tmp_path_factory.mktemp("facts-ipmmu") / "wt"
    yield from _sparse_worktree(kernel_tree, wt, ["arch/arm64/boot/dts/renesas"])


@pytest.mark.slow
def test_ipmmu_publication_order_gives_no_finding_and_why(
        renesas_worktree: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """ipmmu-vmsa, the family without a finding in either order (docs/drivers.md,
    "ipmmu-vmsa: no order finding"): under NEXT the registration walk runs
    ipmmu_of_xlate() on the allowed SDHIs of R-Car H3.  With the tree's order
    (platform_set_drvdata() L1108 after iommu_device_register() L1097) it
    stores a NULL priv, ipmmu_probe_device() refuses with -ENODEV,
    iommu_init_device() frees dev->iommu (iommu.c:448-450), so the next parse
    (the next leaf's registration walk, or the client's own
    of_iommu_configure() at bind) runs after L1108 and finds the instance.
    With the drvdata moved before registration the walk gets the instance
    and groups the client then.  Neither is a finding:
    `repro --variant NEXT --tree WT` exits 0 on both trees."""
    import harness.iommu.drivers.ipmmu_vmsa as ipmmu
    from harness.kernel import stack_trace

    wt = renesas_worktree
    board = wt / "arch/arm64/boot/dts/renesas/r8a77951-salvator-xs.dts"
    site = "ipmmu_probe.drvdata"
    real = ipmmu.ipmmu_init_platform_device

    def run(order: str) -> list[tuple[str, bool, bool]]:
        """(client, in the registration walk?, priv found?) per first xlate of a client."""
        seen: list[tuple[str, bool, bool]] = []

        def spy(dev: Any, args: Any) -> int:
            ret = real(dev, args)
            walk = "iommu_device_register" in stack_trace(sys._getframe())
            seen.append((dev.init_name, walk, ipmmu.to_ipmmu(dev) is not None))
            return ret

        monkeypatch.setattr(ipmmu, "ipmmu_init_platform_device", spy)
        assert read_profile(wt).sites[site].value == order
        assert main(["repro", "--variant", "NEXT", "--tree", str(wt), str(board)]) == 0, \
            capsys.readouterr().out
        return seen

    assert read_profile(wt).sites[site].value == AFTER  # 6.12's order
    # arm64's defconfig does not build ipmmu-vmsa: nothing registers, and
    # the run says so
    assert main(["repro", "--json", "--variant", "NEXT", "--tree", str(wt), str(board)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["stats"]["registered_instances"] == 0
    assert re.search(r"note: arm64 boards, .*absent: .*\bipmmu-vmsa\b", out.err), out.err
    built = _build_in(wt, SITES[site].file, "arm64")
    try:
        after = run(AFTER)
        _move(wt, site, BEFORE)
        before = run(BEFORE)
    finally:
        subprocess.run(["git", "-C", str(wt), "checkout", "HEAD", "--", SITES[site].file, *built],
                       check=True, capture_output=True, timeout=60)
    clients = {name for name, _, _ in after}
    assert clients and clients == {name for name, _, _ in before}
    for name in clients:
        # 6.12's order: NULL in the walk, the instance at the next parse (the
        # next leaf's registration walk or the client's bind)
        mine = [(w, p) for n, w, p in after if n == name]
        assert len(mine) == 2 and mine[0] == (True, False) and mine[1][1], after
        # drvdata before registration: the walk finds it, bind does not parse again
        assert [(w, p) for n, w, p in before if n == name] == [(True, True)], before
