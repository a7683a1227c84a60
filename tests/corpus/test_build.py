"""corpus.build, the `probefuzz corpus` verb, families and the bundled boards."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from corpus import bundled
from corpus.build import board_summary, build, cache_key, find_boards, load_corpus
from corpus.dt import load_platform_file
from corpus.families import FAMILIES, check_against_tree, family_of
from fuzz.cli import main
from harness.board import Board, load_board

FIXTURES = Path(__file__).parent / "fixtures"
ODROID = "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts"


@pytest.fixture(scope="session")
def tree(request: pytest.FixtureRequest) -> Path:
    """The real kernel tree: $PROBEFUZZ_KERNEL_TREE, else the ``kernel_tree`` fixture."""
    env = os.environ.get("PROBEFUZZ_KERNEL_TREE")
    if env:
        return Path(env)
    return Path(request.getfixturevalue("kernel_tree"))


def scratch_tree(tree: Path, root: Path, boards: dict[str, str]) -> Path:
    """A kernel tree sharing everything with ``tree`` except arch/, which holds
    only ``boards`` (path below arch/arm64/boot/dts -> DTS text)."""
    fake = root / "linux"
    fake.mkdir()
    for entry in tree.iterdir():
        if entry.name not in ("arch", ".git"):
            (fake / entry.name).symlink_to(entry)
    base = fake / "arch" / "arm64" / "boot" / "dts"
    for rel, text in boards.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    return fake


# -- families ------------------------------------------------------------------


def test_family_of_prefers_the_most_specific_compatible() -> None:
    assert family_of(("rockchip,rk3568-iommu",)) == "rockchip"
    assert family_of(("qcom,sdm845-smmu-500", "qcom,smmu-500", "arm,mmu-500")) == "arm-smmu"
    assert family_of(("arm,smmu-v3",)) == "arm-smmu-v3"
    assert family_of(("nvidia,tegra210-mc",)) == "tegra-smmu"
    assert family_of(("vendor,unknown",)) is None
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)


@pytest.mark.kernel_tree
def test_family_table_matches_the_tree(tree: Path) -> None:
    assert check_against_tree(tree) == []


# -- summary and cache key -------------------------------------------------------


def test_board_summary_counts_instances_and_clients() -> None:
    s = board_summary(load_platform_file(FIXTURES / "multi-iommu.dtb"))
    # mmu_a (arm-smmu) and mmu_b, mmu_off (rockchip, one disabled).
    assert s["families"] == {
        "arm-smmu": {"instances": 1, "enabled_instances": 1, "clients": 2, "enabled_clients": 2},
        "rockchip": {"instances": 2, "enabled_instances": 1, "clients": 2, "enabled_clients": 1},
    }
    s = board_summary(load_platform_file(FIXTURES / "iommu-map.dtb"))
    assert s["families"]["arm-smmu-v3"]["clients"] == 1  # through iommu-map


def test_cache_key_depends_on_content_not_order() -> None:
    a = cache_key("t", [("x", "1"), ("y", "2")])
    assert a == cache_key("t", [("y", "2"), ("x", "1")])
    assert a != cache_key("t", [("x", "1"), ("y", "3")])
    assert a != cache_key("u", [("x", "1"), ("y", "2")])


# -- bundled corpus --------------------------------------------------------------


@pytest.mark.parametrize("name", bundled.bundled_names())
def test_every_bundled_board_loads(name: str) -> None:
    p = bundled.load_bundled(name)
    assert p.name == name
    if name in bundled.BUNDLED_OTHER:
        assert p.provenance["command"].startswith("qemu-system-aarch64 ")
        return
    assert p.provenance["source"].startswith("arch/") and p.provenance["source"].endswith(".dts")
    assert p.provenance["tree_version"].startswith("6.12")
    assert len(p.provenance["sha256"]) == 64


def test_bundled_files_are_exactly_the_list() -> None:
    assert sorted(p.stem for p in bundled.BOARDS_DIR.glob("*.json")) == sorted(
        bundled.bundled_names())


def test_bundled_boards_cover_every_family_with_boards() -> None:
    covered = set()
    for (family, _, _), name in zip(bundled.BUNDLED, bundled.bundled_names()[:len(bundled.BUNDLED)],
                                    strict=True):
        fams = board_summary(bundled.load_bundled(name))["families"]
        assert fams[family]["enabled_instances"] > 0 and fams[family]["enabled_clients"] > 0
        covered.add(family)
    # virtio-iommu and sprd have no board in 6.12 (checked on the tree below).
    assert covered == {f.name for f in FAMILIES} - {"virtio", "sprd"}


@pytest.mark.kernel_tree
def test_families_without_bundled_board_have_no_board_in_the_tree(tree: Path) -> None:
    pattern = re.compile(r'"(virtio,pci-iommu|pci1af4,1057|sprd,iommu-v1)"')
    hits = []
    for arch in ("arm", "arm64"):
        for p in (tree / "arch" / arch / "boot" / "dts").rglob("*.dts*"):
            if pattern.search(p.read_text(errors="replace")):
                hits.append(p)
    assert hits == []


@pytest.mark.kernel_tree
def test_bundled_odroid_matches_the_tree(tree: Path) -> None:
    fresh = load_platform_file(tree / ODROID)
    shipped = bundled.load_bundled("rk3568-odroid-m1")
    assert fresh.nodes == shipped.nodes
    assert fresh.provenance["sha256"] == shipped.provenance["sha256"]


# -- building --------------------------------------------------------------------


def test_find_boards_match(tmp_path: Path) -> None:
    base = tmp_path / "arch" / "arm64" / "boot" / "dts"
    for rel in ("rockchip/rk3568-a.dts", "rockchip/rk3399-b.dts", "qcom/c.dts", "rockchip/d.dtsi"):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text("")
    got = [p.name for _, p in find_boards(tmp_path, ["arm64"], ["rockchip/rk35*"])]
    assert got == ["rk3568-a.dts"]
    assert len(find_boards(tmp_path, ["arm64"])) == 3


@pytest.mark.kernel_tree
def test_build_rockchip_subset_then_warm_rerun(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = build(tree, out, ["arm64"], jobs=2, match=["rockchip/rk3568-*"])
    assert len(r.boards) >= 10 and all(b.ok for b in r.boards)
    s = r.summary()
    assert s["built"] == s["boards"] and s["with_iommus"] == s["boards"]
    assert s["families"]["rockchip"]["enabled_instances"] >= 3 * s["boards"] - 3
    odroid = load_board(out / "arm64/rockchip/rk3568-odroid-m1.json")
    assert odroid == load_platform_file(tree / ODROID)
    warm = build(tree, out, ["arm64"], jobs=2, match=["rockchip/rk3568-*"])
    assert all(b.cached for b in warm.boards)
    assert warm.summary()["families"] == s["families"]
    assert {p.name for p in load_corpus(out)} == {b.name for b in r.boards}


@pytest.mark.kernel_tree
def test_build_rebuilds_only_what_changed_and_records_failures(tree: Path, tmp_path: Path) -> None:
    common = '/ { compatible = "x,board"; #address-cells = <1>; #size-cells = <1>;\n' \
             'mmu: iommu@1000 { compatible = "rockchip,iommu"; reg = <0x1000 0x100>;' \
             ' #iommu-cells = <0>; }; };\n'
    fake = scratch_tree(tree, tmp_path, {
        "v/common.dtsi": common,
        "v/a.dts": '/dts-v1/;\n#include "common.dtsi"\n/ { dev { compatible = "x,dev";'
                   ' iommus = <&mmu>; }; };\n',
        "v/b.dts": '/dts-v1/;\n/ { compatible = "x,b"; };\n',
        "v/bad.dts": '/dts-v1/;\n/ { model = "x" };\n',
    })
    out = tmp_path / "out"
    first = {b.name: b for b in build(fake, out, ["arm64"], jobs=1).boards}
    assert first["a"].ok and first["b"].ok
    assert first["a"].summary["families"]["rockchip"]["enabled_clients"] == 1
    assert not first["bad"].ok and first["bad"].stage == "compile"
    assert re.search(r"bad\.dts: dtc failed: .*bad\.dts:2", first["bad"].error or "")

    (fake / "arch/arm64/boot/dts/v/common.dtsi").write_text(common.replace("<0>", "<1>"))
    second = {b.name: b for b in build(fake, out, ["arm64"], jobs=1).boards}
    assert not second["a"].cached and second["b"].cached
    # a.dts now passes too few cells for its IOMMU: recorded, not fatal.
    assert second["a"].stage == "convert" and "needs 1 cells" in (second["a"].error or "")


@pytest.mark.kernel_tree
def test_cli_build_json_and_table(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["corpus", "build", "--tree", str(tree), "--match", "rockchip/rk3568-odroid*",
            "--out", str(tmp_path), "--jobs", "1"]
    assert main([*argv, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["boards"] == s["built"] == 1 and s["families"]["rockchip"]["instances"] == 3
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "1 cached" in text and re.search(r"rockchip\s+1\s+3\s+3\s+3\s+3", text)


def test_cli_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "build", "--tree", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["corpus", "build", "--tree", str(tmp_path)]) == 2
    assert "not a kernel tree" in capsys.readouterr().err
    assert main(["corpus"]) == 2


@pytest.mark.kernel_tree
def test_cli_bad_arch(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "build", "--tree", str(tree), "--arch", "vax"]) == 2
    assert "--arch vax" in capsys.readouterr().err


def test_platforms_written_by_build_round_trip(tmp_path: Path) -> None:
    p = load_platform_file(FIXTURES / "dma-ranges.dtb")
    p.save(tmp_path / "x.json")
    assert Board.from_json(json.loads((tmp_path / "x.json").read_text())) == p
