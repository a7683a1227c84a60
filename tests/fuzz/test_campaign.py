"""fuzz/campaign.py: fuzz first, minimise each title once per campaign, re-check it per variant."""

from __future__ import annotations

import json
from pathlib import Path

from fuzz.campaign import MIN_STATE, STATE, ExploreRequest, run_campaign
from fuzz.crashstore import load_reproducer
from harness.boot import boot_config_from_json
from harness.run import run_scenario
from harness.variant import variant_from_json
from tests.fuzz.helpers import RK, SEED_TITLE, board


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_title_is_minimised_once_and_replays_under_every_variant(tmp_path: Path) -> None:
    out = tmp_path / "out"
    req = ExploreRequest(base="NEXT", depth=1, boards=[board(RK)], out=out, runs_per_board=3,
                         executor="serial")
    c = run_campaign(req, progress=False)
    # phase one: the units fuzzed without minimising; each finding names its witness
    parts = _lines(out / STATE)
    assert parts and all("witness" in f and f["reproducer"] is None and f["minimise_runs"] == 0
                         for p in parts for f in p["found"])
    # phase two: each title's first witness (in unit order: the base's first) is
    # minimised in exactly one task, and every variant that met it gets an entry
    tasks = _lines(out / MIN_STATE)
    first: dict[str, dict] = {}
    for t in tasks:
        for e in t["entries"]:
            first.setdefault(e["title"], e)
    met = {(r.index, f["title"]) for r in c.results for f in r.found}
    entries = [(e["unit"], e["title"]) for t in tasks for e in t["entries"]]
    assert sorted(entries) == sorted(met)
    assert first[SEED_TITLE]["unit"] == 0 and first[SEED_TITLE]["minimise_runs"] > 1
    # most variants replay a reproducer minimised for another variant: a few boots each
    replayed = [e for t in tasks for e in t["entries"] if first[e["title"]] is not e
                and e["minimise_runs"] <= 2]
    assert len(replayed) > len(met) // 2
    # the evidence: every variant's reproducer replays to its title under that variant
    for r in c.results:
        for f in r.found:
            rep = load_reproducer(out / f["reproducer"])
            assert rep.title == f["title"] and rep.variant["name"] == r.id
            run = run_scenario(rep.platform(), variant_from_json(rep.variant),
                               boot_config_from_json(rep.config, rep.schedule))
            assert f["title"] in {x.title for x in run.findings}, (r.id, f["title"])
    # the seed oops' reproducer is minimised: the client and its IOMMU
    nxt = next(r for r in c.results if r.id == "NEXT")
    seed = next(f for f in nxt.found if f["title"] == SEED_TITLE)
    assert seed["devices"] <= 3


def test_reproducers_do_not_depend_on_the_cut_or_a_resume(tmp_path: Path) -> None:
    """One unit per variant, or one per scenario; and a campaign whose
    minimisations were lost is resumed from its fuzzed units: the same
    reproducers (files and contents)."""
    boards = [board(RK)]
    a = tmp_path / "a"
    b = tmp_path / "b"
    run_campaign(ExploreRequest(base="NEXT", depth=0, boards=boards, out=a, runs_per_board=3,
                                also=("NEXT+rk_iommu_probe.dma_dev=before_register", "V614"),
                                executor="serial"), progress=False)
    req_b = ExploreRequest(base="NEXT", depth=0, boards=boards, out=b, runs_per_board=3,
                           also=("NEXT+rk_iommu_probe.dma_dev=before_register", "V614"),
                           part_runs=1, executor="serial")
    run_campaign(req_b, progress=False)

    def files(d: Path) -> dict[str, str]:
        return {str(p.relative_to(d)): p.read_text() for p in sorted((d / "crashes").rglob("*.json"))}

    assert files(a) and files(a) == files(b)
    (b / MIN_STATE).unlink()
    for p in (b / "crashes").rglob("*.json"):
        p.unlink()
    c = run_campaign(req_b, progress=False)
    assert c.resumed == len(_lines(b / STATE))
    assert files(b) == files(a)
