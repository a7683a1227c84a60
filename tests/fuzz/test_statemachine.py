"""The RuleBasedStateMachine over driver-core events, oracles as invariants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from fuzz.engines.statemachine import machine_for
from harness.variant import NEXT, V614
from tests.fuzz.helpers import RK, SEED_TITLE, board

SETTINGS = settings(max_examples=15, stateful_step_count=4, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def test_v614_keeps_the_invariants_under_unbind_bind_remove() -> None:
    run_state_machine_as_test(machine_for(board("sun50i-h6-orangepi-3").platform, V614), settings=SETTINGS)


def test_next_breaks_an_invariant_at_boot() -> None:
    with pytest.raises(AssertionError, match=SEED_TITLE.replace("(", r"\(")):
        run_state_machine_as_test(machine_for(board(RK).platform, NEXT), settings=SETTINGS)


def test_events_run_in_the_booted_kernel() -> None:
    m = machine_for(board("sun50i-h6-orangepi-3").platform, V614)()
    dev = m.interesting[0]
    assert dev.driver is not None
    m.unbind(0)
    assert dev.driver is None and m.steps == [f"unbind {dev.init_name}"]
    m.bind(0)
    assert dev.driver is not None
    m.remove(0)
    assert dev.dead
    m.oracles_hold()
