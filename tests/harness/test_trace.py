"""harness.trace: the model reaches its hooks, observers attach and chain."""

from __future__ import annotations

from typing import Any

import pytest

from corpus.bundled import load_bundled
from harness import oracles, trace
from harness.run import run_scenario
from harness.variant import NEXT


def test_oracles_are_the_hooks_they_attach_to() -> None:
    # one observer: the hook *is* the oracle's function (no wrapper frame)
    for name in oracles.CHECKS:
        assert getattr(trace, name) is getattr(oracles, name), name
    assert set(oracles.CHECKS) <= set(trace.HOOKS)


def test_a_second_observer_chains_after_the_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(trace, "of_xlate_call", trace.of_xlate_call)  # restored afterwards
    trace.attach("of_xlate_call", lambda dev, spec: seen.append((dev.init_name, spec.np.full_name)))
    r = run_scenario(load_bundled("rk3568-odroid-m1"), NEXT)
    # the seed oops happens inside rk_iommu_of_xlate: the hook ran first
    assert any(f.function == "rk_iommu_of_xlate" for f in r.findings)
    assert seen and all(path.endswith("iommu") or "iommu@" in path for _, path in seen), seen


def test_unknown_hooks_are_refused() -> None:
    with pytest.raises(KeyError):
        trace.attach("no_such_hook", lambda *a: None)


def test_a_hook_nobody_attached_to_does_nothing() -> None:
    args: Any = (object(), object())
    assert trace.priv_set(*args) is None
