"""``probefuzz explore --tree``: the variant space built on a tree profile, on a
worktree of the cached tree whose facts differ from the presets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.campaign import setup_worker, units_for
from fuzz.cli import main
from fuzz.crashstore import load_reproducer
from harness.sites.shapes import AFTER, BEFORE
from harness.variant import V614, variant_from_json, variant_to_json
from mutators.facts import read_profile
from mutators.space import Mutation
from tests.fuzz.helpers import RK, SEED_TITLE
from tests.fuzz.test_explore import small_corpus
from tests.mutators.test_facts import (  # noqa: F401 (head_entries: a fixture)
    _move,
    _sparse_worktree,
    head_entries,
)

pytestmark = pytest.mark.kernel_tree

SITE = "rk_iommu_probe.dma_dev"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROBEFUZZ_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fixed_tree(kernel_tree: Path, tmp_path: Path, cache: Path,
               request: pytest.FixtureRequest) -> Iterator[Path]:
    """A worktree whose rk_iommu_probe() sets dma_dev before iommu_device_register()
    (the seed's fix already in the tree) and whose exynos-sysmmu registers at
    subsys_initcall instead of core_initcall."""
    request.getfixturevalue("head_entries")  # the commit's tables, read once per process
    for wt in _sparse_worktree(kernel_tree, tmp_path / "wt", []):
        _move(wt, SITE, BEFORE)
        f = wt / "drivers/iommu/exynos-iommu.c"
        f.write_text(f.read_text().replace("core_initcall(exynos_iommu_init)",
                                           "subsys_initcall(exynos_iommu_init)"))
        yield wt


def test_units_on_a_tree_carry_its_values_and_levels(fixed_tree: Path) -> None:
    """The space around NEXT on the tree: the base has the tree's order, the
    depth-1 neighbours are mutations of the tree's values (the order moved
    back is one, the tree's own order is none), every unit carries the tree's
    registration levels, and a worker rebuilds the variants with them."""
    prof = read_profile(fixed_tree)
    units = units_for("NEXT", 1, ("V614",), tree=prof)
    by_id = {u.id: u for u in units}
    back = "NEXT+" + Mutation(SITE, f"={AFTER}").token
    assert by_id["NEXT"].variant["sites"][SITE] == BEFORE
    assert back in by_id and "NEXT+" + Mutation(SITE, f"={BEFORE}").token not in by_id
    assert {json.dumps(u.variant.get("initcalls"), sort_keys=True) for u in units} == {
        json.dumps({"exynos-sysmmu": "subsys", "samsung,exynos-sysmmu": "subsys"}, sort_keys=True)}
    # and what its defconfigs build (arm64's does not build exynos-sysmmu)
    assert all(u.variant["builds"]["arm64:exynos-sysmmu"] == "absent" for u in units)
    st = setup_worker({"boards": [], "units": units, "cfg": {}})
    assert all(dict(v.initcalls)["exynos-sysmmu"] == "subsys"
               and dict(v.builds)["arm64:exynos-sysmmu"] == "absent" for v in st["variants"].values())
    # a variant file as the base keeps its values and runs on the tree's facts
    f = fixed_tree.parent / "base.json"
    f.write_text(json.dumps(variant_to_json(V614)))
    [root] = units_for(str(f), 0, tree=prof)
    assert root.variant["sites"][SITE] == AFTER and root.variant["initcalls"] == units[0].variant["initcalls"]
    # without the tree: the presets' space, which has the seed order at NEXT
    plain = {u.id: u for u in units_for("NEXT", 1)}
    assert plain["NEXT"].variant["sites"][SITE] == AFTER and "initcalls" not in plain["NEXT"].variant


def test_explore_tree_ranks_the_trees_space(fixed_tree: Path, tmp_path: Path) -> None:
    """explore --tree WT on the seed board: NEXT over this tree's drivers has
    no seed oops, moving dma_dev back after registration brings it back, and
    that variant's reproducer replays to it from its own variant JSON."""
    corpus = small_corpus(tmp_path, RK)
    out = tmp_path / "out"
    rc = main(["explore", "--tree", str(fixed_tree), "--corpus", str(corpus), "--runs-per-board", "1",
               "--executor", "serial", "--out", str(out), "--no-progress", "--json"])
    data = json.loads((out / "ranking.json").read_text())
    assert rc == (1 if data["variants"][0]["titles"] else 0)
    assert data["tree"]["path"] == str(fixed_tree.resolve()) and data["tree"]["commit"]
    rows = {r["id"]: r for r in data["variants"]}
    assert SEED_TITLE not in rows["NEXT"]["titles"]
    back = rows["NEXT+" + Mutation(SITE, f"={AFTER}").token]
    assert [d["title"] for d in back["introduced"]] == [SEED_TITLE]
    rep = load_reproducer(out / back["reproducers"][back["titles"].index(SEED_TITLE)])
    v = variant_from_json(rep.variant)
    assert v.value(SITE) == AFTER and dict(v.initcalls)["exynos-sysmmu"] == "subsys"
    assert "Built on the tree" in (out / "report.md").read_text()


@pytest.mark.parametrize("verb", [["explore"], ["propose", "--variant", "NEXT"]])
def test_bad_tree_is_one_line_and_exit_2(verb: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*verb, "--tree", "/nonexistent/tree"]) == 2
    err = capsys.readouterr().err
    assert "/nonexistent/tree: no such directory" in err and len(err.strip().splitlines()) == 1, err
