"""Ranking by difference against the base, the series' goal as a constraint, fix
families, and the reports (terminal, markdown, HTML with matplotlib plots), on
synthetic campaign results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.cells import cell_len

from fuzz.campaign import CampaignResult, ExploreRequest, UnitResult
from fuzz.families import changes, family
from fuzz.plots import coverage_svg, fixed_introduced_svg, heatmap_svg
from fuzz.ranking import at_driver_bind, goal_violation, rank, ranking_json, top
from fuzz.report import html_report, markdown, paragraph, table
from harness.variant import NEXT, variant_to_json
from tests.fuzz.helpers import RK, board

BIND = ["__iommu_probe_device", "iommu_probe_device", "of_iommu_configure", "of_dma_configure_id",
        "platform_dma_configure", "really_probe", "__driver_probe_device"]
WALK = ["__iommu_probe_device", "probe_iommu_group", "bus_for_each_dev", "iommu_device_register",
        "arm_smmu_device_probe", "platform_probe", "really_probe"]
MSM = ("BUG: kernel NULL pointer dereference in insert_iommu_master", "oops", ["apq8064"], 1, [])
SEED = ("BUG: kernel NULL pointer dereference in rk_iommu_of_xlate", "oops", [RK], 1, [])


def unit(vid: str, index: int, size: int, *found: tuple[str, str, list[str], int | None, list[str]],
         features: list[str] | None = None, plain: dict[str, list[str]] | None = None) -> UnitResult:
    """A variant's result; ``plain`` maps a title to the boards whose default boot shows it."""
    return UnitResult(id=vid, index=index, description=f"desc {vid}", size=size,
                      found=[{"title": t, "kind": k, "boards": b, "hits": 2,
                              "plain_boards": (plain or {}).get(t, []),
                              "reproducer": f"crashes/{vid}/{i}.json",
                              "finding": {"invariant": inv, "trace": tr}}
                             for i, (t, k, b, inv, tr) in enumerate(found)],
                      executions=10, elapsed=0.1, coverage=5, features=features or ["a", "b"])


def sites(**changed: Any) -> dict[str, Any]:
    """NEXT's variant JSON with some sites changed."""
    v = variant_to_json(NEXT)
    v["sites"].update(changed)
    return v


LATE_WARN = ("WARNING in __iommu_probe_device", "warning", [RK, "b2", "b3"], 5, BIND)

# NEXT has the seed oops and the msm oops everywhere; "off" switches off the series'
# dma_configure call: both oopses go, at the price of probes at driver bind.
RESULTS = [
    unit("NEXT", 0, 0, SEED, MSM),
    unit("off", 1, 1, LATE_WARN),
    unit("order", 2, 1, MSM),
    unit("owner", 3, 1, MSM, features=["a", "b", "c"]),
    unit("noisy", 4, 1, SEED, MSM, ("WARNING in __iommu_probe_device", "warning", [RK], 5, WALK)),
    unit("dead", 5, 1, MSM, ("possible deadlock in y", "deadlock", [RK], 2, [])),
    unit("same", 6, 1, SEED, MSM),
]
VARIANTS = {
    0: sites(),
    1: sites(**{"iommu_init_device.dma_configure": None}),
    2: sites(**{"rk_iommu_probe.dma_dev": "before_register"}),
    3: sites(**{"rk_iommu_of_xlate.alloc_owner": "client"}),
    4: sites(**{"iommu_init_device.late_probe_warn": {"guard": []}}),
    5: sites(**{"iommu_init_device.dma_configure_lock": "hold"}),
    6: sites(**{"platform_dma_configure.driver_read": "once"}),
}


def test_difference_against_the_base_and_the_goal_constraint() -> None:
    rows = rank(RESULTS, VARIANTS)
    ids = [r.id for r in rows]
    # the oops every variant keeps (msm) weighs on none: the seed fixes rank first;
    # switching the series' call off fixes more oopses but reverts its goal: last
    assert ids == ["order", "owner", "NEXT", "dead", "same", "noisy", "off"]
    best = rows[0]
    assert [d.title for d in best.fixed] == [SEED[0]] and not best.introduced
    assert [d.title for d in best.unchanged] == [MSM[0]]
    off = rows[-1]
    assert off.reverts_goal and len(off.fixed) == 2 and "probe at driver bind" in off.goal[0]
    assert off.reason.startswith("reverts the series' goal") and "below every variant" in off.reason
    # a WARN that fires on the series' own path (the registration walk) is noise, not a revert
    noisy = rows[ids.index("noisy")]
    assert not noisy.reverts_goal and [d.title for d in noisy.introduced] == [LATE_WARN[0]]
    assert "warnings" in noisy.reason
    # an oops fixed for a deadlock introduced: no better on crashes than the base, a larger change
    dead = rows[ids.index("dead")]
    assert dead.net(("oops", "deadlock")) == 0 and "larger change (1 vs 0)" in dead.reason
    assert rows[ids.index("NEXT")].is_base and "crashes" in rows[ids.index("NEXT")].reason


def test_ties_are_broken_by_behaviour_then_space_order_and_say_so() -> None:
    rows = rank(RESULTS, VARIANTS)
    owner = rows[1]
    assert owner.behaviour == 1 and rows[0].behaviour == 0
    assert "tied with order" in owner.reason and "behaviour" in owner.reason
    same = rows[4]  # no difference from "dead" on any key but the space's order
    assert same.id == "same" and "tied with dead" in same.reason and "space's order" in same.reason
    twins = rank([unit("NEXT", 0, 0, SEED), unit("x", 1, 1), unit("y", 2, 1)])
    assert [r.id for r in twins] == ["x", "y", "NEXT"]
    assert "space's order" in twins[1].reason


def test_families_from_site_values_not_ids() -> None:
    base = sites()
    narrow1 = changes(base, sites(**{"iommu_init_device.dma_configure":
                                     {"guard": ["!dev->driver", "dev->bus->dma_configure",
                                                "dev->dma_range_map"]}}))
    narrow2 = changes(base, sites(**{"iommu_init_device.dma_configure":
                                     {"guard": ["!dev->driver", "dev->bus->dma_configure",
                                                "dev->iommu_group"]}}))
    removed = changes(base, sites(**{"iommu_init_device.dma_configure": None}))
    widened = changes(base, sites(**{"iommu_init_device.dma_configure":
                                     {"guard": ["dev->bus->dma_configure"]}}))
    assert [c.direction for c in (*narrow1, *removed, *widened)] == ["fewer", "fewer", "more"]
    assert family(narrow1) == family(narrow2) == family(removed) != family(widened)
    owner = changes(base, sites(**{"rk_iommu_of_xlate.alloc_owner": "client"}))
    owner2 = changes(base, sites(**{"rk_iommu_of_xlate.alloc_owner": "iommu_dev"}))
    order = changes(base, sites(**{"rk_iommu_probe.dma_dev": "before_register"}))
    assert family(owner) == family(owner2) != family(order)
    assert "rk_iommu_of_xlate()" in family(owner).label
    assert family(changes(base, base)).empty


def test_top_3_are_from_different_families() -> None:
    results = [*RESULTS, unit("owner2", 7, 1, MSM, features=["a", "b", "c", "d"])]
    variants = {**VARIANTS, 7: sites(**{"rk_iommu_of_xlate.alloc_owner": "iommu_dev"})}
    rows = rank(results, variants)
    owner2 = next(r for r in rows if r.id == "owner2")
    assert not owner2.family_best and owner2.family_size == 2
    t = top(rows)
    assert [r.id for r in t] == ["order", "owner", "dead"]
    assert len({r.family.key for r in t}) == 3


def test_goal_invariants_from_mechanism() -> None:
    assert at_driver_bind(BIND) and not at_driver_bind(WALK) and not at_driver_bind([])
    assert goal_violation({"finding": {"invariant": 5, "trace": BIND}})
    assert goal_violation({"finding": {"invariant": 5, "trace": WALK}}) is None
    assert goal_violation({"finding": {"invariant": 7, "trace": []}})
    assert goal_violation({"finding": {"invariant": 8, "trace": BIND}})
    assert goal_violation({"finding": {"invariant": 1, "trace": BIND}}) is None


def _campaign(tmp_path: Path, results: list[UnitResult]) -> CampaignResult:
    req = ExploreRequest("NEXT", 1, [board(RK)], tmp_path)
    return CampaignResult(req, results, 1.5, [(0.0, 0), (1.0, 10)])


def test_ranking_json_shape(tmp_path: Path) -> None:
    rows = rank(RESULTS, VARIANTS)
    data = ranking_json(_campaign(tmp_path, RESULTS), rows)
    assert {"base", "budget", "variants", "top", "order"} <= set(data) and data["base"] == "NEXT"
    assert data["top"] == ["order", "owner", "dead"]
    v = data["variants"][0]
    assert {"id", "rank", "description", "counts", "titles", "reproducers", "fixed", "introduced",
            "unchanged", "reverts_goal", "family", "reason"} <= set(v)
    assert set(v["counts"]) == {"oops", "deadlock", "group", "isolation", "warn", "defer"}
    assert v["fixed"] == [{"title": SEED[0], "kind": "oops", "boards": [RK], "invariant": 1}]
    assert data["variants"][-1]["reverts_goal"] is True


def test_terminal_table_fits_120_columns() -> None:
    long = [unit("NEXT+" + "x" * 90, i, 1, MSM) for i in range(1, 30)]
    rows = rank([unit("NEXT", 0, 0, SEED, MSM), *long], None)
    text = table(rows, 40)
    assert max(cell_len(line) for line in text.splitlines()) <= 120
    assert "rank" in text and "why" in text
    results = [*RESULTS, unit("owner2", 7, 1, MSM, features=["a", "b", "c", "d"])]
    variants = {**VARIANTS, 7: sites(**{"rk_iommu_of_xlate.alloc_owner": "iommu_dev"})}
    text = table(rank(results, variants))
    off = next(line for line in text.splitlines() if line.split()[1:2] == ["off"])
    assert " G " in off  # the goal column
    assert "owner2" not in text  # the best of each family only: owner stands for it
    assert next(line for line in text.splitlines() if line.split()[1:2] == ["owner"]).split()[2] == "2"


def test_reports(tmp_path: Path) -> None:
    rows = rank(RESULTS, VARIANTS)
    c = _campaign(tmp_path, RESULTS)
    md = markdown(c, rows)
    assert "## Top 3" in md and "1. **`order`**" in md and "reverts" in md
    assert "It introduces no finding" in md and "fixes BUG: kernel NULL pointer dereference in rk" in md
    h = html_report(c, rows)
    assert "max-width:1360px" in h and "table-layout:fixed" in h
    svgs = [h[i:h.index("</svg>", i) + 6] for i in range(len(h)) if h.startswith("<svg", i)]
    assert len(svgs) == 3
    for s in svgs:
        ET.fromstring(s)  # well-formed


def _texts(svg: str) -> list[str]:
    return ["".join(e.itertext()) for e in ET.fromstring(svg).iter() if e.tag.endswith("text")]


def test_plots_have_labelled_axes_and_variant_labels() -> None:
    rows = rank(RESULTS, VARIANTS)
    heat = _texts(heatmap_svg(rows, [RK, "apq8064", "b2", "b3"]))
    assert "board" in heat and any("variant" in t for t in heat)
    assert any(t.endswith(". order") for t in heat) and any("[G] off" in t for t in heat)
    assert RK in heat and "+1" in heat and "-1" in heat
    bars = _texts(fixed_introduced_svg(rows))
    assert any("introduced" in t and "fixed" in t for t in bars)  # x axis
    assert any(t.endswith(". dead") for t in bars)
    cov = _texts(coverage_svg([(0.0, 0), (1.0, 5), (2.0, 10)]))
    assert "behaviour features" in cov and any("seconds" in t for t in cov)
    # nothing changes: no plot, one sentence
    flat = rank([unit("NEXT", 0, 0, MSM), unit("x", 1, 1, MSM)])
    assert "No variant changes" in heatmap_svg(flat, [RK])


def test_a_variant_that_closes_a_race_ranks_above_one_that_does_not() -> None:
    """Race findings (interleaving-only, from window preemptions) are findings like
    any other: closing one is a fixed title, all else equal it ranks higher."""
    race = ("iommu: device probed twice in __iommu_probe_device", "group", ["sdm845-db845c"], None, WALK)
    # "order" comes first in the space: only the closed race can put "revalidate" above it
    results = [unit("NEXT", 0, 0, SEED, race), unit("order", 1, 1, SEED, race),
               unit("revalidate", 2, 1, SEED)]
    variants = {0: sites(), 1: sites(**{"rk_iommu_probe.dma_dev": "before_register"}),
                2: sites(**{"iommu_init_device.dma_configure_lock": "drop_revalidate"})}
    rows = {r.id: r for r in rank(results, variants)}
    assert [d.title for d in rows["revalidate"].fixed] == [race[0]]
    assert rows["revalidate"].rank < rows["order"].rank


RACE_OOPS = ("BUG: kernel NULL pointer dereference in __iommu_probe_device", "oops", ["exynos"], None, WALK)
RACE_HANG = ("INFO: task hung in probe_iommu_group", "deadlock", ["exynos"], None, WALK)


def test_a_default_boot_crash_outranks_crashes_that_need_a_schedule() -> None:
    """Within a severity level the default boot's bugs come first: the seed oops
    on every boot of its board outranks two crashes that show only under some
    generated schedules, although fixing those removes more crash titles."""
    seed_plain = {SEED[0]: [RK]}
    results = [unit("NEXT", 0, 0, SEED, RACE_OOPS, RACE_HANG, plain=seed_plain),
               unit("races", 1, 1, SEED, plain=seed_plain),
               unit("fix", 2, 1, RACE_OOPS, RACE_HANG)]
    rows = rank(results)
    assert [r.id for r in rows] == ["fix", "races", "NEXT"]
    fix, races = rows[0], rows[1]
    assert [d.title for d in fix.fixed_plain] == [SEED[0]] and fix.fixed[-1].plain == (RK,)
    assert races.net(("oops", "deadlock")) == 2 > fix.net(("oops", "deadlock")) == 1
    assert "crashes of the default boot" in races.reason and "default-boot crashes" in races.why
    assert f"fixes {SEED[0]} on {RK} (every boot)" in paragraph(fix, "NEXT", 2)
    assert f"{RACE_OOPS[0]} on exynos;" in paragraph(races, "NEXT", 2)
    # the same findings, none on a default boot: the two race crashes count for more
    rows = rank([unit("NEXT", 0, 0, SEED, RACE_OOPS, RACE_HANG), unit("races", 1, 1, SEED),
                 unit("fix", 2, 1, RACE_OOPS, RACE_HANG)])
    assert [r.id for r in rows] == ["races", "fix", "NEXT"]


def test_a_bug_that_leaves_the_default_boot_counts_there_only() -> None:
    """A fix that takes the oops off the board's default boot but leaves it
    reachable under a schedule fixes it on the default boot, not overall."""
    results = [unit("NEXT", 0, 0, SEED, plain={SEED[0]: [RK]}), unit("narrower", 1, 1, SEED),
               unit("introduces", 2, 1, SEED, LATE_WARN, plain={SEED[0]: [RK], LATE_WARN[0]: ["b2"]})]
    rows = {r.id: r for r in rank(results)}
    narrower = rows["narrower"]
    assert not narrower.fixed and [d.title for d in narrower.fixed_plain] == [SEED[0]]
    assert narrower.net_plain(("oops",)) == 1 and narrower.net(("oops",)) == 0
    introduces = rows["introduces"]
    assert [d.title for d in introduces.introduced_plain] == [LATE_WARN[0]]
    assert introduces.introduced[0].plain == ("b2",)
    assert rows["narrower"].rank < rows["NEXT"].rank < rows["introduces"].rank
