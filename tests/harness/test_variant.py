"""harness/variant.py: variants as values of every site, their JSON, and what
the model reads after activate()."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import variant
from harness.sites import SITES
from harness.variant import (
    NEXT,
    V614,
    G,
    P,
    VariantError,
    check,
    choice,
    present,
    variant_from_json,
    variant_to_json,
)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    variant.activate(V614)


def test_presets_differ_only_where_the_series_changes_something() -> None:
    assert V614.values == ()
    assert {k for k, _ in NEXT.values} == {n for n, s in SITES.items() if s.next != s.v614}


@pytest.mark.parametrize("v", [V614, NEXT], ids=["V614", "NEXT"])
def test_json_round_trip_keeps_the_semantics(v: variant.Variant) -> None:
    back = variant_from_json(variant_to_json(v))
    assert back.as_dict() == v.as_dict()
    assert back.fingerprint() == v.fingerprint()


def test_fingerprint_ignores_the_name() -> None:
    renamed = NEXT.with_values("other", "same values")
    assert renamed.fingerprint() == NEXT.fingerprint() != V614.fingerprint()


def test_tree_initcalls_round_trip_and_count_in_the_fingerprint() -> None:
    """A tree profile's registration levels travel with the variant (JSON,
    with_values) and make it a different variant; the presets carry none."""
    v = variant.make_variant("t", "", NEXT.as_dict(), {"rk_iommu": "subsys", "INT3432": "device"})
    back = variant_from_json(variant_to_json(v))
    assert back.initcalls == v.initcalls == (("INT3432", "device"), ("rk_iommu", "subsys"))
    assert back.fingerprint() == v.fingerprint() != NEXT.fingerprint()
    assert v.with_values("u", "").initcalls == v.initcalls
    assert "initcalls" not in variant_to_json(NEXT)
    data = variant_to_json(v)
    data["initcalls"]["rk_iommu"] = "early"
    with pytest.raises(VariantError, match="initcalls"):
        variant_from_json(data)


def test_unknown_sites_and_predicates_are_refused() -> None:
    with pytest.raises(KeyError):
        V614.with_values("x", "", **{"no_such.site": None})
    data = variant_to_json(V614)
    data["sites"]["of_iommu_configure.replay"] = {"guard": ["!no_such_predicate"]}
    with pytest.raises(VariantError, match="not a predicate of this site"):
        variant_from_json(data)


def test_the_model_reads_the_activated_variant() -> None:
    site = "of_iommu_configure.replay"
    env = {"err": 0, "dev": type("D", (), {"bus": object()})(), "dev_iommu_present": True}
    variant.activate(V614)  # !err && dev->bus
    assert present(site) and check(site, **env)
    variant.activate(NEXT)  # ... && !dev_iommu_present
    assert present(site) and not check(site, **env)
    assert choice("of_iommu_configure.cleanup") == "exact"
    variant.activate(V614.with_values("absent", "", **{site: None}))
    assert not present(site) and not check(site, **env)
    variant.activate(V614.with_values("err", "", **{site: G(P("!err"))}))
    assert not check(site, **{**env, "err": -19})
