"""harness/sites/active.py: compiled guards read the predicates like the
interpreted conjunction (order, short-circuit, negation) and follow activate()."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from harness import variant
from harness.sites import active
from harness.sites.site import G, P, PredDef
from harness.variant import NEXT, V614


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    variant.activate(V614)


def _vocab(reads: list[str]) -> dict[str, PredDef]:
    def pred(name: str) -> PredDef:
        def read(e: Mapping[str, Any]) -> object:
            reads.append(name)
            return e[name]
        return PredDef(name, read)
    return {n: pred(n) for n in ("a", "b", "c")}


@pytest.mark.parametrize("env", [dict(a=a, b=b, c=c) for a in (0, 1) for b in (0, 1) for c in (0, 1)])
def test_compiled_guard_reads_like_the_conjunction_left_to_right(env: dict[str, int]) -> None:
    reads: list[str] = []
    vocab = _vocab(reads)
    for g in (G(), G(P("a")), G(P("a", True)), G(P("a"), P("b", True), P("c"))):
        reads.clear()
        got = active.compile_guard("s", g, vocab)(env)
        # the interpreted reading: stop at the first conjunct that fails
        want, expected_reads = True, []
        for p in g.conj:
            expected_reads.append(p.name)
            if bool(env[p.name]) == p.neg:
                want = False
                break
        assert got is want and reads == expected_reads, (str(g), env)


def test_absent_statement_is_false_without_reading_anything() -> None:
    reads: list[str] = []
    assert active.compile_guard("s", None, _vocab(reads))({}) is False
    assert reads == []


def test_a_predicate_missing_from_the_vocabulary_fails_when_evaluated_not_before() -> None:
    # compile time does not raise (a variant may be activated and this site never reached)
    fn = active.compile_guard("s", G(P("nope")), {})
    active.set_values({"s": G(P("nope"))}, {"s": {}}, {"s": fn})
    try:
        with pytest.raises(KeyError):
            active.check("s", dev=None)
    finally:
        variant.activate(V614)


def test_check_follows_the_activated_variant() -> None:
    # a site whose value differs between the presets, evaluated on the same env
    site = "of_iommu_configure.replay"
    class Bus:
        pass

    class Dev:
        bus = Bus()

    env = dict(dev=Dev(), err=0, dev_iommu_present=True)
    variant.activate(V614)
    v614 = active.check(site, **env)
    variant.activate(NEXT)
    nxt = active.check(site, **env)
    variant.activate(V614)
    assert (v614, nxt) == (True, False)
    assert active.check(site, **env) is True
