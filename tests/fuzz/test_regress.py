"""``probefuzz regress``: a CI gate over the crash corpus in KTAP (exit 0 / 1 / 2)."""

from __future__ import annotations

import json
import re
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
    cases = ktap(r.stdout)
    assert cases == [("not ok", 1, f"{RK}: {SEED_TITLE}", "still fails")]
    r = probefuzz("regress", "--variant", "NEXT", "--crashes", str(crashes), "--json")
    out = json.loads(r.stdout)
    assert out["failing"] == 1 and out["results"][0]["status"] == "fails"


def test_regress_exit_0_on_a_fix(crashes: Path) -> None:
    r = probefuzz("regress", "--variant", FIX, "--crashes", str(crashes))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert ktap(r.stdout) == [("ok", 1, f"{RK}: {SEED_TITLE}", None)]
    assert "0 of 1" in r.stdout


def test_regress_counts_another_finding_as_failing(crashes: Path) -> None:
    """The minimised seed scenario has no client driver: V614 has no oops there, but
    it never gives the driverless VPU the group the series is about (invariant 7)."""
    r = probefuzz("regress", "--variant", "V614", "--crashes", str(crashes), "--json")
    assert r.returncode == 1, r.stderr
    [row] = json.loads(r.stdout)["results"]
    assert row["status"] == "fails"
    assert row["findings"] == ["iommu: no IOMMU group for a device without driver"]


def ktap(text: str) -> list[tuple[str, int, str, str | None]]:
    """Parse a KTAP version 1 document the way the kernel's parsers read it: the
    version line, the plan, then one result line per test numbered from 1."""
    lines = text.splitlines()
    assert lines[0] == "KTAP version 1"
    plan = next(line for line in lines if re.fullmatch(r"1\.\.\d+", line))
    results = []
    for line in lines:
        m = re.fullmatch(r"(ok|not ok) (\d+) ([^#]*?)(?: # (.*))?", line)
        if m:
            results.append((m.group(1), int(m.group(2)), m.group(3), m.group(4)))
        else:
            assert line.startswith("#") or line in ("KTAP version 1", plan), line
    assert [n for _, n, _, _ in results] == list(range(1, int(plan[3:]) + 1))
    return results


def test_regress_against_a_base(crashes: Path) -> None:
    """Only what passes on the base and fails on the variant is a regression."""
    # the fix passes where NEXT fails: ok, exit 0
    r = probefuzz("regress", "--variant", FIX, "--base", "NEXT", "--crashes", str(crashes))
    assert r.returncode == 0, r.stderr
    assert ktap(r.stdout) == [("ok", 1, f"{RK}: {SEED_TITLE}", None)]
    # NEXT against itself: it fails on the base too -- skipped, not a regression
    r = probefuzz("regress", "--variant", "NEXT", "--base", "NEXT", "--crashes", str(crashes))
    assert r.returncode == 0, r.stderr
    [(res, _, _, directive)] = ktap(r.stdout)
    assert res == "ok" and directive is not None and directive.startswith("SKIP ")
    # V614 trades the oops for a driverless device without its group: new against NEXT
    r = probefuzz("regress", "--variant", "V614", "--base", "NEXT", "--crashes", str(crashes))
    assert r.returncode == 1, r.stderr
    [(res, _, _, directive)] = ktap(r.stdout)
    assert res == "not ok" and directive is not None and "regression" in directive
    assert "# iommu: no IOMMU group for a device without driver" in r.stdout.splitlines()
    # the other way round: the seed oops is new against V614 (which fails otherwise)
    r = probefuzz("regress", "--variant", "NEXT", "--base", "V614", "--crashes", str(crashes), "--json")
    assert r.returncode == 1, r.stderr
    [row] = json.loads(r.stdout)["results"]
    assert row["status"] == "regression" and row["new"] == [SEED_TITLE]
    assert row["base_findings"] == ["iommu: no IOMMU group for a device without driver"]


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
                 ["--variant", "NEXT", "--base", "NOPE", "--crashes", str(crashes)],
                 ["--variant", "NEXT", "--crashes", str(tmp_path / "missing")],
                 ["--variant", "NEXT", "--crashes", str(tmp_path / "empty")],
                 ["--variant", "NEXT", "--crashes", str(bad)]):
        r = probefuzz("regress", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
