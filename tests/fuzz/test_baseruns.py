"""fuzz/baseruns.py: a variant's run taken from the base's is the run it would boot."""

from __future__ import annotations

from fuzz.baseruns import alternatives, differing_sites, run_recording, shared
from fuzz.campaign import common_input, units_for
from fuzz.features import features
from fuzz.gen import GenContext, from_bytes
from harness.run import Result, run_scenario
from harness.sites import active
from harness.variant import NEXT, V614, variant_from_json
from mutators.space import resolve
from tests.fuzz.helpers import FIX, RK, SEED_TITLE, board

SUN = "sun50i-h6-orangepi-3"


def _same(a: Result, b: Result) -> bool:
    return (a.to_json() == b.to_json() and a.log == b.log and a.decisions == b.decisions
            and a.windows == b.windows and features(a) == features(b))


def test_shared_runs_are_the_variants_own_runs() -> None:
    """Every depth-1 variant on common scenarios of two boards: where the base's
    run says the variant's is the same, booting the variant gives that result,
    and some runs are shared and some are not."""
    variants = [variant_from_json(u.variant, u.id) for u in units_for("NEXT", 1)]
    base = variants[0]
    alts = alternatives(variants)
    taken = booted = 0
    for name in (RK, SUN):
        b = board(name)
        for j in range(3):
            s = from_bytes(common_input(0, name, j), GenContext([b]))
            run = run_recording(s, base, alts)
            assert run.result is not None
            for v in variants[1:]:
                r = shared(run, v, differing_sites(base, v))
                if r is None:
                    booted += 1
                    continue
                taken += 1
                assert r.variant == v.name
                assert _same(r, run_scenario(s.platform, v, s.cfg)), (v.name, s.describe())
    assert taken > 0 and booted > 0


def test_a_variant_that_changes_what_the_run_read_is_booted() -> None:
    """The seed oops: the rk fix changes a site the seed board's plain boot reads
    with another outcome, so its run is not the base's."""
    s = from_bytes(bytes([0]), GenContext([board(RK)]))
    run = run_recording(s, NEXT, alternatives([NEXT, resolve(FIX).variant]))
    assert run.result is not None and SEED_TITLE in {f.title for f in run.result.findings}
    fix = resolve(FIX).variant
    diff = differing_sites(NEXT, fix)
    assert diff and shared(run, fix, diff) is None
    assert SEED_TITLE not in {f.title for f in run_scenario(s.platform, fix, s.cfg).findings}
    # the base's own run is its own; other registration levels never share
    assert shared(run, NEXT, frozenset()) is not None
    assert shared(run, fix, None) is None


def test_recording_changes_nothing_and_stops() -> None:
    s = from_bytes(common_input(0, RK, 2), GenContext([board(RK)]))
    plain = run_scenario(s.platform, V614, s.cfg)
    run = run_recording(s, V614, alternatives([V614, NEXT]))
    assert run.result is not None and _same(run.result, plain)
    assert run.reads.checked or run.reads.raw
    # recording is off again: the model's tables are plain dicts
    assert type(active._compiled) is dict and type(active._active_values) is dict
    assert active._reads is None
