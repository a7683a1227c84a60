"""``probefuzz explore``: ranking.json shape and order, reports, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from corpus.bundled import bundled_names, bundled_path
from fuzz.crashstore import load_reproducer
from harness.boot import boot_config_from_json
from harness.run import run_scenario
from harness.variant import variant_from_json
from tests.fuzz.helpers import FIX, RK, ROOT, SEED_TITLE, probefuzz

COUNTS = {"oops", "deadlock", "group", "isolation", "warn", "defer"}


def small_corpus(tmp: Path, *names: str) -> Path:
    d = tmp / "corpus"
    d.mkdir(exist_ok=True)
    for n in names:
        shutil.copy(bundled_path(n), d / f"{n}.json")
    return d


def check_ranking(data: dict, out: Path) -> None:
    assert {"base", "budget", "variants", "top", "order"} <= set(data)
    rows = data["variants"]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    for r in rows:
        assert {"id", "rank", "description", "counts", "titles", "reproducers", "fixed", "introduced",
                "unchanged", "reverts_goal", "family", "reason"} <= set(r)
        assert set(r["counts"]) == COUNTS
        assert len(r["reproducers"]) == len(r["titles"])
    # the series' goal is a constraint: no variant that reverts it ranks above one that keeps it
    goal = [r["reverts_goal"] for r in rows]
    assert goal == sorted(goal)
    # rank 1 removes the seed oops and keeps the goal; the top 3 are from different families
    best = rows[0]
    assert not best["reverts_goal"] and SEED_TITLE in [d["title"] for d in best["fixed"]]
    assert not best["introduced"]
    top = [r for r in rows if r["id"] in data["top"]]
    assert len(top) == len(data["top"]) and len({r["family"] for r in top}) == len(top)
    assert top[0]["id"] == best["id"]
    ids = [r["id"] for r in rows]
    nxt = rows[ids.index("NEXT")]
    assert SEED_TITLE in nxt["titles"]
    fix = rows[ids.index(FIX)]
    assert SEED_TITLE not in fix["titles"] and fix["rank"] < nxt["rank"]
    # NEXT's reproducer for the seed oops replays to the same title
    rep = out / nxt["reproducers"][nxt["titles"].index(SEED_TITLE)]
    r = probefuzz("repro", "--json", str(rep))
    assert r.returncode == 1 and json.loads(r.stdout)["findings"][0]["title"] == SEED_TITLE
    # minimised: the client and its IOMMU
    emb = json.loads(rep.read_text())["platform"]["embedded"]
    assert len([n for n in emb["nodes"] if n.get("compatible")]) <= 3


def test_explore_small_space_ranks_and_reports(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path, RK, "sun50i-h6-orangepi-3")
    out = tmp_path / "out"
    r = probefuzz("explore", "--corpus", str(corpus), "--runs-per-board", "1", "--jobs", "2",
                  "--out", str(out), "--no-progress")
    assert "NEXT (the base) ranks" in r.stdout and "Top 3, from different fix families" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines() if str(out) not in line) <= 120
    data = json.loads((out / "ranking.json").read_text())
    # exit 0 only when the best-ranked variant has no finding at all
    assert r.returncode == (1 if data["variants"][0]["titles"] else 0), r.stderr
    check_ranking(data, out)
    from mutators.space import space

    assert data["base"] == "NEXT" and data["budget"]["variants"] == len(space("NEXT", 1)) + 1
    assert data["budget"]["boards"] == [RK, "sun50i-h6-orangepi-3"]
    md = (out / "report.md").read_text()
    assert "| rank | variant |" in md and "## Top 3" in md and "NEXT" in md
    html = (out / "report.html").read_text()
    svgs = [html[i:html.index("</svg>", i) + 6] for i in range(len(html)) if html.startswith("<svg", i)]
    assert len(svgs) == 3  # heatmap, fixed/introduced, coverage (matplotlib)
    for s in svgs:
        ET.fromstring(s)  # well-formed
    # a second run with the same --out resumes everything: nothing to do
    r2 = probefuzz("explore", "--corpus", str(corpus), "--runs-per-board", "1", "--jobs", "1",
                   "--out", str(out), "--no-progress", "--json")
    assert json.loads(r2.stdout)["variants"] == data["variants"]


def test_explore_other_campaign_in_out_is_refused(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path, "sun50i-h6-orangepi-3")
    out = tmp_path / "out"
    r = probefuzz("explore", "--corpus", str(corpus), "--depth", "0", "--out", str(out), "--no-progress")
    assert r.returncode in (0, 1), r.stderr
    r = probefuzz("explore", "--corpus", str(corpus), "--depth", "0", "--seed", "5", "--out", str(out),
                  "--no-progress")
    assert r.returncode == 2 and "different explore campaign" in r.stderr


def test_explore_bad_input_exit_2(tmp_path: Path) -> None:
    for args in (["--base", "NOPE"], ["--depth", "7"], ["--corpus", str(tmp_path / "none")],
                 ["--jobs", "0"]):
        r = probefuzz("explore", "--out", str(tmp_path / "o"), "--no-progress", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _titles_by_variant(out: Path) -> dict[str, list[str]]:
    data = json.loads((out / "ranking.json").read_text())
    return {r["id"]: sorted(r["titles"]) for r in data["variants"]}


def test_explore_resumes_after_sigkill_and_loses_no_finding(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path, RK, "sun50i-h6-orangepi-3")
    common = ["explore", "--corpus", str(corpus), "--runs-per-board", "3", "--jobs", "2", "--no-progress"]
    ref = tmp_path / "ref"
    r = probefuzz(*common, "--out", str(ref))
    assert r.returncode in (0, 1), r.stderr
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "fuzz.cli", *common, "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                         start_new_session=True)
    state = out / "state.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if state.exists() and len(state.read_text().splitlines()) >= 20:
            break
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)  # the CLI's whole group: its supervisor lives elsewhere
    p.wait()
    done = len(state.read_text().splitlines())
    assert 20 <= done < 107, "the kill must land mid-campaign"
    # the supervisor removes the killed CLI's scratch directory (Dask's included)
    scratch = Path(tempfile.gettempdir())
    deadline = time.monotonic() + 30
    while list(scratch.glob(f"probefuzz-{p.pid}-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(scratch.glob(f"probefuzz-{p.pid}-*"))
    r = probefuzz(*common, "--out", str(out))
    assert r.returncode in (0, 1), r.stderr
    assert f"resumed: {done}" in r.stdout or "resumed:" in r.stdout
    assert _titles_by_variant(out) == _titles_by_variant(ref)
    # every row's reproducers exist and replay to their titles under the row's variant
    # (which variant minimised a shared title first depends on the workers' timing)
    for row in json.loads((out / "ranking.json").read_text())["variants"]:
        assert len(row["reproducers"]) == len(row["titles"])
        for title, rel in zip(row["titles"], row["reproducers"], strict=True):
            rep = load_reproducer(out / rel)
            assert rep.title == title and rep.variant["name"] == row["id"]
            r = run_scenario(rep.platform(), variant_from_json(rep.variant),
                             boot_config_from_json(rep.config, rep.schedule))
            assert title in {f.title for f in r.findings}


@pytest.mark.slow
def test_default_explore_meets_the_issue(tmp_path: Path) -> None:
    """`probefuzz explore` with no arguments (timing is in bench/, not asserted)."""
    r = probefuzz("explore", "--no-progress", cwd=tmp_path, timeout=900)
    out = tmp_path / "probefuzz-out"
    data = json.loads((out / "ranking.json").read_text())
    # exit 0 only when the best-ranked variant has no finding at all
    assert r.returncode == (1 if data["variants"][0]["titles"] else 0), r.stderr
    check_ranking(data, out)
    assert data["budget"]["boards"] == bundled_names()
    assert len(data["top"]) == 3
