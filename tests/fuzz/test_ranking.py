"""Ranking order and reasons, terminal/markdown/SVG reports, on synthetic results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fuzz.campaign import CampaignResult, ExploreRequest, UnitResult
from fuzz.ranking import rank, ranking_json
from fuzz.report import coverage_svg, findings_svg, html_report, markdown, table
from tests.fuzz.helpers import RK, board


def unit(vid: str, size: int, *found: tuple[str, str, list[str]]) -> UnitResult:
    return UnitResult(id=vid, index=0, description=f"desc {vid}", size=size,
                      found=[{"title": t, "kind": k, "boards": b, "reproducer": f"crashes/{vid}/{i}.json"}
                             for i, (t, k, b) in enumerate(found)],
                      executions=10, elapsed=0.1, coverage=5)


RESULTS = [
    unit("NEXT", 0, ("BUG: oops", "oops", [RK])),
    unit("A", 1),
    unit("B", 2),
    unit("C", 1, ("WARNING in x", "warning", [RK, "b2"])),
    unit("D", 1, ("possible deadlock in y", "deadlock", [RK])),
    unit("E", 1, ("WARNING in x", "warning", [RK])),
]


def test_rank_order_keys_and_reasons() -> None:
    rows = rank(RESULTS)
    assert [r.id for r in rows] == ["A", "B", "E", "C", "D", "NEXT"]
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].reason.startswith("best: no findings")
    assert "larger change (2 vs 1)" in rows[1].reason
    assert "more warnings (2 vs 1)" in rows[3].reason  # two boards weigh more than one
    assert "more deadlocks" in rows[4].reason
    assert "more oopses" in rows[5].reason
    assert rows[5].counts["oops"] == 1 and rows[5].titles == ["BUG: oops"]
    assert rows[5].reproducers == ["crashes/NEXT/0.json"]


def test_ranking_json_shape(tmp_path: Path) -> None:
    req = ExploreRequest("NEXT", 1, [board(RK)], tmp_path)
    c = CampaignResult(req, RESULTS, 1.5, [(0.0, 0), (1.0, 10)])
    data = ranking_json(c, rank(RESULTS))
    assert set(data) == {"base", "budget", "variants"} and data["base"] == "NEXT"
    v = data["variants"][0]
    assert set(v) == {"id", "rank", "description", "counts", "titles", "reproducers"}
    assert set(v["counts"]) == {"oops", "deadlock", "group", "isolation", "warn", "defer"}
    md = markdown(c, rank(RESULTS))
    assert md.count("\n| ") >= 7
    assert "NEXT" in table(rank(RESULTS))
    h = html_report(c, rank(RESULTS))
    assert "<svg" in h and "<table>" in h


def test_svgs_are_well_formed_and_scaled() -> None:
    rows = rank(RESULTS)
    bars = ET.fromstring(findings_svg(rows))
    rects = [e for e in bars.iter() if e.tag.endswith("rect") and e.find("{*}title") is not None]
    assert len(rects) == 4  # one bar segment per non-zero count (NEXT, C, D, E)
    line = ET.fromstring(coverage_svg([(0.0, 0), (1.0, 5), (2.0, 10)]))
    poly = next(e for e in line.iter() if e.tag.endswith("polyline"))
    assert len(poly.get("points", "").split()) == 5  # steps
