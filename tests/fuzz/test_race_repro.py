"""Race reproducers (issue 17): a race found by fuzzing generated inputs is
minimised and stored with its interleaving (window preemptions, schedule), and ``probefuzz repro FILE``
replays it to the same title; without its preemptions the same scenario is
clean of that title (interleaving-only).  And NEXT's own W3 double probe on
sdm845-db845c (fw_devlink=permissive: both arm-smmu walks at device_initcall),
stored from one window preemption, replays the same way."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from corpus.bundled import bundled_path, load_bundled
from fuzz.cli import main
from fuzz.crashstore import CrashStore
from fuzz.engines import native
from fuzz.engines.session import Found, Session
from fuzz.gen import CorpusBoard, FuzzInput, GenContext
from harness.boot import boot_config_to_json
from harness.run import run_scenario
from harness.variant import NEXT
from mutators.space import resolve
from tests.harness.test_window_preemptions import (
    DOUBLE_PROBE,
    PERMISSIVE,
    SMMU_ASYNC,
    W5,
    W5_BUG,
    device_windows,
    w3_preemptions,
    w5_walk_preemption,
)
from tests.quality.test_races import BOARD, RACES


def repro_titles(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    rc = main(["repro", "--json", str(path)])
    out = json.loads(capsys.readouterr().out)
    titles = [f["title"] for f in out["findings"]]
    assert rc == (1 if titles else 0)
    return titles


def test_a_fuzzed_race_replays_from_its_minimised_reproducer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    race = RACES[0]
    ctx = GenContext([CorpusBoard(BOARD, load_bundled(BOARD), str(bundled_path(BOARD)))], faults=False)
    # which run of the seed's sequence hits it first (the short race suite's
    # budget), without minimising: the inputs do not depend on minimisation
    first: list[Found] = []
    scout = Session(resolve(race.variant).variant, "native", None, minimise_findings=False,
                    on_found=lambda f: first.append(f) if f.title == race.title else None)
    native.fuzz_loop(scout, ctx, runs=60, seconds=None, seed=1, plain_first=False)
    assert first, f"{race.title!r} not found in 60 runs"
    hit: list[Found] = []
    # a small minimising budget keeps this fast; the reproducer replays either way
    s = Session(resolve(race.variant).variant, "native", tmp_path / "crashes", minimise_budget=40,
                on_found=lambda f: hit.append(f) if f.title == race.title else None)
    native.fuzz_loop(s, ctx, runs=first[0].execution, seconds=None, seed=1, plain_first=False)
    assert hit and hit[0].reproducer and hit[0].execution == first[0].execution
    path = Path(hit[0].reproducer)
    rep = json.loads(path.read_text())
    assert rep["title"] == race.title
    # the minimiser kept the interleaving it needs: window preemptions (no more
    # than the generator's 3) and/or a plain schedule prefix
    assert len(rep["config"].get("preempt", [])) <= 3, rep["config"]
    assert rep["config"].get("preempt") or rep.get("schedule"), rep["config"]
    assert race.title in repro_titles(path, capsys)
    # interleaving-only: the same reproducer without its preemptions
    plain = tmp_path / "plain.json"
    cfg = {k: v for k, v in rep["config"].items() if k != "preempt"}
    plain.write_text(json.dumps(dict(rep, config=cfg, schedule=[])))
    assert race.title not in repro_titles(plain, capsys)


def test_nexts_w3_double_probe_replays_from_a_stored_reproducer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = load_bundled(BOARD)
    assert run_scenario(board, NEXT).findings == []
    assert run_scenario(board, NEXT, PERMISSIVE).findings == []
    cfg = replace(PERMISSIVE, preempt=(w3_preemptions()[DOUBLE_PROBE][0],))
    f = next(f for f in run_scenario(board, NEXT, cfg).findings if f.title == DOUBLE_PROBE)
    saved = CrashStore(tmp_path).save(f, platform=board, variant=NEXT, schedule=[],
                                      config=boot_config_to_json(cfg))
    assert DOUBLE_PROBE in repro_titles(saved.path, capsys)


def test_a_device_aimed_race_is_stored_with_the_absolute_preemptions_it_took(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A finding from a device-aimed preemption (``preempt_dev``) is minimised
    as the absolute window preemptions it took (which the minimiser drops and
    re-anchors); the reproducer replays it, and old-style ``preempt`` alone."""
    p, _ = w5_walk_preemption()
    assert p is not None
    board = load_bundled(BOARD)
    bug = resolve(W5_BUG).variant
    devs = device_windows(board, bug, SMMU_ASYNC)
    dev = devs[p[0]]
    assert dev is not None
    aimed = replace(SMMU_ASYNC, preempt_dev=((dev, devs[:p[0]].count(dev), p[1]),))
    hit: list[Found] = []
    s = Session(bug, "native", tmp_path / "crashes", minimise_budget=30,
                on_found=lambda f: hit.append(f) if f.title == W5 else None)
    s.run(FuzzInput(BOARD, board, aimed, platform_ref=str(bundled_path(BOARD))))
    assert hit and hit[0].reproducer
    rep = json.loads(Path(hit[0].reproducer).read_text())
    assert "preempt_dev" not in rep["config"]
    assert len(rep["config"]["preempt"]) == 1
    assert W5 in repro_titles(Path(hit[0].reproducer), capsys)
