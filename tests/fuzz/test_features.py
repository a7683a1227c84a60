"""Behaviour features: what the engines count as coverage (and atheris hands to libFuzzer)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fuzz.engines import native, session
from fuzz.engines.session import Session
from fuzz.features import SiteRecorder, feature_index, features
from fuzz.gen import from_bytes
from harness import variant
from harness.boot import BootConfig
from harness.kernel import is_window
from harness.run import Result, run_scenario
from harness.variant import NEXT, V614
from tests.fuzz.helpers import RK, board, ctx


def test_site_recorder_notes_each_guard_outcome_without_changing_the_run() -> None:
    p = board(RK).platform
    plain = run_scenario(p, NEXT)
    rec = SiteRecorder()
    rec.install()
    try:
        r = run_scenario(p, NEXT)
    finally:
        rec.uninstall()
    assert variant.check.__name__ == "check"  # uninstalled
    assert [f.to_json() for f in r.findings] == [f.to_json() for f in plain.findings]
    feats = rec.take()
    # NEXT's replay guard is evaluated on this board, one way or the other
    assert any(f.startswith("site:iommu_init_device.dma_configure=") for f in feats)
    assert any(f.startswith("site:iommu_init_device.ops_lookup=") for f in feats)
    assert rec.take() == set()


def test_contended_scheduling_points_are_features_of_a_recorded_run() -> None:
    p = board(RK).platform
    cfg = BootConfig(driver_async_probe=("*",), schedule=[1, 0, 2] * 50)
    r = run_scenario(p, V614, cfg, record=True)
    assert r.where, "an async boot makes scheduling decisions"
    sched = {f for f in features(r) if f.startswith("sched:")}
    assert sched and all("0x" not in f for f in sched)  # numbers abstracted
    assert not any(f.startswith("sched:") for f in features(run_scenario(p, V614, cfg)))


def test_window_points_reached_are_features_with_preemption_and_thread_kind() -> None:
    """Window coverage (issue 17): each decision at a window point of the spec
    is a feature -- the point, which kind of thread was there, and whether it
    kept running or was preempted for which kind of thread (device and
    driver names dropped) -- in plain runs too (the native engine does not
    record), and a synchronous boot has none."""
    p = board("sdm845-db845c").platform
    assert not any(f.startswith("window:") for f in features(run_scenario(p, NEXT)))
    cfg = BootConfig(async_probe_all=True, driver_async_probe=("*",))
    kept = {f for f in features(run_scenario(p, NEXT, cfg)) if f.startswith("window:")}
    assert kept and all(f.split("|")[2] == "kept" for f in kept)
    assert "window:iommu_device_register:listed|kworker/async|kept" in kept
    assert not any(".iommu" in f or "@" in f for f in kept)  # no device names
    # preempting at window decisions adds the (point, preempted, thread) pairs
    pre = replace(cfg, preempt=tuple((k, 1) for k in range(0, 400, 7)))
    r = run_scenario(p, NEXT, pre)
    got = {f for f in features(r) if f.startswith("window:")}
    preempted = {f for f in got if f.split("|")[2].startswith("preempted for ")}
    assert preempted
    # for which kind of thread: the others of the run, by kind
    assert {f.split("|")[2].removeprefix("preempted for ") for f in preempted} <= \
        {"swapper/0", "kworker/async", "kworker/u:deferred_probe_work", "modprobe", "sh"}
    assert all(is_window(f.split("|")[0].removeprefix("window:")) for f in got)


def test_the_native_engine_keeps_an_input_that_only_reaches_a_window_another_way() -> None:
    """Inputs that add window features join the native engine's pool:
    Session.observe counts a run new when its only new features are windows."""
    s = Session(NEXT, "native", None, minimise_findings=False)
    a = Result("v", "b", [], {"devices": 1}, windows=["device_set_driver|swapper/0|kept"])
    b = Result("v", "b", [], {"devices": 1},
               windows=["device_set_driver|swapper/0|preempted for kworker/async"])
    inp = from_bytes(bytes([0]), ctx(RK))
    assert s.observe(inp, a)
    assert not s.observe(inp, a)
    assert s.observe(inp, b)
    assert "window:device_set_driver|swapper/0|preempted for kworker/async" in s.features


def test_feature_index_is_stable_and_in_range() -> None:
    idx = feature_index("site:iommu_init_device.dma_configure=True", 1 << 14)
    assert idx == feature_index("site:iommu_init_device.dma_configure=True", 1 << 14)
    assert 0 <= idx < 1 << 14


def test_session_reports_progress(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(session, "PROGRESS_EVERY", 0.0)
    seen: list[tuple[int, int]] = []
    s = Session(NEXT, "native", tmp_path, minimise_findings=False)
    s._next_progress = 0.0
    s.progress = lambda st, n: seen.append((st.executions, n))
    native.fuzz_loop(s, ctx(RK), runs=3, seconds=None, seed=0)
    assert [e for e, _ in seen] == [1, 2, 3]
    assert seen[-1][1] == len(s.found) >= 1
