"""One declaration per site: model semantics and C rule live together and fit."""

from __future__ import annotations

import pytest

from harness.variant import NEXT, SITES, V614, G, P, Variant
from mutators.rules import plan
from mutators.shapes import ChoiceShape, GuardedIf, RuleContext
from mutators.smpl import lower, site_rules
from mutators.space import parse_id, resolve, space


def test_every_site_has_a_c_shape() -> None:
    missing = [n for n, s in SITES.items() if s.c is None]
    assert not missing, f"sites without a Coccinelle shape: {missing}"


@pytest.mark.parametrize("name", [n for n, s in SITES.items() if s.kind == "choice"])
def test_every_alternative_has_c(name: str) -> None:
    s = SITES[name]
    assert s.c is not None
    shape = lower(s.c)
    assert isinstance(shape, ChoiceShape)
    assert set(shape.alternatives) == set(s.alternatives)


@pytest.mark.parametrize("name", [n for n, s in SITES.items() if s.kind == "guard"])
def test_guard_sites_render_their_presets(name: str) -> None:
    s = SITES[name]
    assert isinstance(s.c, GuardedIf)
    for v in (V614, NEXT):
        val = v.value(name)
        if val is None and not s.c.removable:
            continue
        text = site_rules(s, val, "t", RuleContext(v))
        assert "PROBEFUZZ\\t" + name in text


def test_negation_is_de_morgan_without_double_bang() -> None:
    s = SITES["platform_dma_configure.use_default_domain"]
    assert s.c.cond(s, NEXT.value(s.name)) == "ret || !dev->driver || drv->driver_managed_dma"
    assert s.c.cond(s, G()) == "0"
    assert G(P("!ret", neg=True)).c(s.vocab) == "ret"


def test_plan_groups_rules_per_file_in_order() -> None:
    p = plan(NEXT)
    iommu = next(f for f in p.files if f.file == "drivers/iommu/iommu.c")
    assert iommu.sites[:3] == ["iommu_init_device.ops_lookup", "iommu_init_device.dma_configure",
                              "iommu_init_device.dma_configure_lock"]
    assert "PROBEFUZZ_LABEL" not in iommu.smpl
    dev = next(f for f in p.files if f.file == "drivers/of/device.c")
    assert "PROBEFUZZ_LABEL(skip_map);" in dev.smpl


def test_lock_choice_has_no_c_without_the_call() -> None:
    assert "iommu_init_device.dma_configure_lock" in plan(V614).skipped


def test_space_ids_resolve_to_the_same_variant() -> None:
    items = space("NEXT", 1)
    assert len(items) > 50
    fps = {m.variant.fingerprint() for m in items}
    assert len(fps) == len(items)
    assert NEXT.fingerprint() not in fps
    for m in items:
        r = resolve(m.id)
        assert r.variant.fingerprint() == m.variant.fingerprint(), m.id
        assert m.description


def test_depth2_is_deduplicated_and_ids_parse() -> None:
    items = space("NEXT", 2)
    assert len({m.variant.fingerprint() for m in items}) == len(items)
    vid = "NEXT+platform_dma_configure.use_default_domain:+!dev->iommu_group" \
          "+of_iommu_configure.replay:-dev->bus"
    base, muts = parse_id(vid)
    assert base == "NEXT" and [m.op for m in muts] == ["+!dev->iommu_group", "-dev->bus"]
    v: Variant = resolve(vid).variant
    assert str(v.value("of_iommu_configure.replay")) == "!err && !dev_iommu_present"
