"""``probefuzz regress``: a CI gate over the crash corpus (exit 0 / 1 / 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.crashstore import CrashStore
from fuzz.engines import native
from fuzz.engines.session import Session
from harness.variant import NEXT
from tests.fuzz.helpers import FIX, RK, SEED_TITLE, ctx, probefuzz


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("crashes")
    s = Session(NEXT, "native", d / "NEXT")
    native.fuzz_loop(s, ctx(RK), runs=1, seconds=None, seed=0)
    assert SEED_TITLE in s.found
    return d


def test_regress_exit_1_while_the_bug_is_there(crashes: Path) -> None:
    r = probefuzz("regress", "--variant", "NEXT", "--crashes", str(crashes))
    assert r.returncode == 1, r.stderr
    assert "FAIL" in r.stdout and SEED_TITLE in r.stdout
    r = probefuzz("regress", "--variant", "NEXT", "--crashes", str(crashes), "--json")
    out = json.loads(r.stdout)
    assert out["failing"] == 1 and out["results"][0]["status"] == "fails"


def test_regress_exit_0_on_a_fix(crashes: Path) -> None:
    r = probefuzz("regress", "--variant", FIX, "--crashes", str(crashes))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "0 of 1" in r.stdout


def test_regress_counts_another_finding_as_failing(crashes: Path) -> None:
    """The minimised seed scenario has no client driver: V614 has no oops there, but
    it never gives the driverless VPU the group the series is about (invariant 7)."""
    r = probefuzz("regress", "--variant", "V614", "--crashes", str(crashes), "--json")
    assert r.returncode == 1, r.stderr
    [row] = json.loads(r.stdout)["results"]
    assert row["status"] == "other"
    assert row["findings"] == ["iommu: no IOMMU group for a device without driver"]


def test_regress_replays_a_scenario_stored_twice_once(crashes: Path, tmp_path: Path) -> None:
    rep = next(iter(CrashStore(crashes / "NEXT")))
    for sub in ("a", "b"):
        CrashStore(tmp_path / sub).save(rep.finding, platform=rep.platform(), variant=rep.variant,
                                        schedule=rep.schedule, config=rep.config)
    r = probefuzz("regress", "--variant", "NEXT", "--crashes", str(tmp_path), "--json")
    out = json.loads(r.stdout)
    assert out["scenarios"] == 1 and len(out["results"][0]["files"]) == 2


def test_regress_bad_input_exit_2(crashes: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.json").write_text('{"format": "probefuzz-reproducer", "version": 99}')
    for args in (["--variant", "NOPE", "--crashes", str(crashes)],
                 ["--variant", "NEXT", "--crashes", str(tmp_path / "missing")],
                 ["--variant", "NEXT", "--crashes", str(tmp_path / "empty")],
                 ["--variant", "NEXT", "--crashes", str(bad)]):
        r = probefuzz("regress", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
