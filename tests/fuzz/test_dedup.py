"""Deduplication by title with alternative titles: the Deduper, and end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from fuzz.dedup import Deduper, same_bug
from fuzz.engines.session import Session
from fuzz.gen import Scenario
from harness.boot import BootConfig
from harness.findings import Finding
from harness.run import run_scenario
from harness.variant import NEXT
from tests.fuzz.helpers import RK, SEED_TITLE, board, probefuzz


def f(title: str, *alt: str, kind: str = "oops") -> Finding:
    return Finding(kind=kind, title=title, function="x", device=None, trace=[], alt_titles=list(alt))


def test_same_title_is_one_bug() -> None:
    d = Deduper()
    b1, new1 = d.add(f("BUG: a"))
    b2, new2 = d.add(f("BUG: a"))
    assert new1 and not new2 and b1 is b2 and b1.count == 2 and len(d) == 1


def test_alt_titles_join_buckets_both_ways() -> None:
    d = Deduper()
    d.add(f("BUG: in foo", "BUG: in bar"))
    b, new = d.add(f("BUG: in bar"))
    assert not new and b.title == "BUG: in foo"
    # a later finding whose alt title is an earlier title joins too
    b2, new2 = d.add(f("WARNING in baz", "BUG: in foo"))
    assert not new2 and b2 is b
    assert d.canonical("WARNING in baz") == "BUG: in foo"
    _, new3 = d.add(f("WARNING in other", kind="warning"))
    assert new3 and len(d) == 2


def test_same_bug() -> None:
    assert same_bug(f("A", "B"), "B") and same_bug(f("A"), "A") and not same_bug(f("A"), "B")


# -- end to end: real runs through the fuzz CLI and the engines' session ---------------

def test_fuzz_run_counts_each_bug_once_with_its_hits(tmp_path: Path) -> None:
    """The seed oops shows on every rk3568 run: one bug, many hits, one reproducer."""
    crashes = tmp_path / "c"
    r = probefuzz("fuzz", "--variant", "NEXT", "--engine", "native", "--runs", "30", "--seed",
                  "9", "--crashes", str(crashes), "--json", RK, "apq8016-sbc")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    found = out["found"]
    titles = [f["title"] for f in found]
    assert len(titles) == len(set(titles)) == out["stats"]["distinct_findings"] >= 2
    seed = next(f for f in found if f["title"] == SEED_TITLE)
    assert seed["hits"] >= 5 and seed["boards"] == [RK]
    assert sum(f["hits"] for f in found) > len(found)  # the same bugs were hit again
    assert len(list(crashes.glob("*/*.json"))) == len(found)  # one reproducer per bug
    # the text report announces each bug once
    t = probefuzz("fuzz", "--variant", "NEXT", "--engine", "native", "--runs", "30", "--seed",
                  "9", "--crashes", str(tmp_path / "t"), RK, "apq8016-sbc")
    assert t.stdout.count(SEED_TITLE) == 1, t.stdout


def test_session_joins_a_bug_seen_under_an_alternative_title(tmp_path: Path) -> None:
    """A real seed boot, then the same crash reported under its raw top frame (as syzbot
    titles it) with the guilty-frame title as alt title: one bucket, both titles."""
    s = Session(NEXT, "native", tmp_path, minimise_findings=False)
    scen = Scenario(board(RK).name, board(RK).platform, BootConfig())
    r = run_scenario(scen.platform, NEXT, scen.cfg)
    [seed] = [f for f in r.findings if f.title == SEED_TITLE]
    raw = replace(seed, title=f"BUG: kernel NULL pointer dereference in {seed.trace[0]}",
                  alt_titles=[SEED_TITLE])
    s.observe(scen, r)
    s.observe(scen, replace(r, findings=[raw]))
    s.observe(scen, r)
    assert len(s.dedup) == len({f.title for f in r.findings})
    b = s.dedup.bucket_of(raw)
    assert b is not None and b.title == SEED_TITLE and b.count == 3
    assert b.titles == {SEED_TITLE, raw.title}
    assert s.found[SEED_TITLE].hits == 3 and list(s.found) == [SEED_TITLE] + [
        t for t in s.found if t != SEED_TITLE]
    assert s.dedup.canonical(raw.title) == SEED_TITLE
