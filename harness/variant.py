"""Guard sites and variants.

Every place where the series under study (or a fix for it) changes behaviour
is a named *guard site*.  A site's value in a variant is one of:

* a :class:`Guard` -- a condition written as an ordered conjunction of state
  predicates (evaluated left to right with C's short-circuit, so a predicate
  that dereferences a pointer is only evaluated when the conjuncts before it
  held);
* ``None`` -- the guarded statement is absent from the code;
* for *choice* sites, a string naming one of the site's alternatives (which
  lock discipline, where a statement sits relative to another).

The model reads a site with :func:`check` (guards) or :func:`choice`; it never
compares variant names.  ``V614`` and ``NEXT`` are presets; the mutators
derive others.  The sites themselves are declared under :mod:`harness.sites`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import inputs
from harness.base.initcall import INITCALL_LEVELS
from harness.errno import ENODEV
from harness.inputs import clip
from harness.sites import SITES, active
from harness.sites.active import check, choice, present
from harness.sites.site import G, Guard, P, Pred, PredDef, Site, SiteValue


@dataclass(frozen=True)
class Variant:
    """A value for every site.  ``values`` holds only sites that differ from V614.

    ``initcalls`` holds the registration levels of the tree under test where
    they differ from the model's own (a tree profile's, ``mutators.facts``):
    ``(IOMMU driver name or client match ID, level)``; empty for the presets.

    ``builds`` holds the IOMMU drivers the tree's configuration does not build
    in, per board architecture: ``("ARCH:driver name", "module" | "absent")``
    (``ARCH`` as in ``arch/ARCH/boot/dts``); empty for the presets, whose
    drivers are all built in.
    """

    name: str
    description: str
    values: tuple[tuple[str, SiteValue], ...] = ()
    initcalls: tuple[tuple[str, str], ...] = ()
    builds: tuple[tuple[str, str], ...] = ()

    def value(self, site: str) -> Any:
        for k, v in self.values:
            if k == site:
                return v
        return SITES[site].v614

    def as_dict(self) -> dict[str, SiteValue]:
        return {name: self.value(name) for name in SITES}

    def fingerprint(self) -> str:
        """Stable hash of the semantics (not the name)."""
        sem: dict[str, Any] = {k: render_value(SITES[k], v) for k, v in self.as_dict().items()}
        if self.initcalls:  # absent for preset-driven variants: their hashes stay
            sem["\0initcalls"] = dict(self.initcalls)
        if self.builds:
            sem["\0builds"] = dict(self.builds)
        blob = json.dumps(sem, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def with_values(self, name: str, description: str, **changes: Any) -> Variant:
        d = self.as_dict()
        for k, v in changes.items():
            if k not in SITES:
                raise KeyError(f"unknown guard site {k!r}")
            d[k] = v
        return make_variant(name, description, d, dict(self.initcalls), dict(self.builds))


#: what a tree's configuration makes of an IOMMU driver it does not build in
BUILD_KINDS = ("module", "absent")


def make_variant(name: str, description: str, values: Mapping[str, Any],
                 initcalls: Mapping[str, str] | None = None,
                 builds: Mapping[str, str] | None = None) -> Variant:
    """A variant from every site's value (and the tree's registration levels
    that differ from the model's, and the drivers it does not build in, see
    :class:`Variant`)."""
    diff = tuple(sorted((k, v) for k, v in values.items() if v != SITES[k].v614))
    return Variant(name, description, diff, tuple(sorted((initcalls or {}).items())),
                   tuple(sorted((builds or {}).items())))


def tree_facts(v: Variant) -> tuple[dict[str, str], dict[str, str]]:
    """``v``'s tree facts (initcalls, builds) as ``make_variant`` takes them:
    a variant derived from ``v`` keeps the tree it runs on."""
    return dict(v.initcalls), dict(v.builds)


def render_value(site: Site, v: object) -> str:
    """Human/C-ish text of a site value."""
    if v is None:
        return "(absent)"
    if isinstance(v, Guard):
        return f"if ({v.c(site.vocab)})"
    return str(v)


V614 = Variant("V614", "v6.14: before the series")
NEXT = make_variant(
    "NEXT",
    "linux-next at bcb81ac6ae3c: the four-patch series, IOMMU drivers as in v6.14",
    {name: s.next for name, s in SITES.items()},
)
PRESETS: dict[str, Variant] = {"V614": V614, "NEXT": NEXT}


class VariantError(ValueError):
    pass


def variant_to_json(v: Variant) -> dict[str, Any]:
    out: dict[str, Any] = {"name": v.name, "description": v.description, "sites": {}}
    for name in SITES:
        val = v.value(name)
        out["sites"][name] = _value_json(val)
    if v.initcalls:
        out["initcalls"] = dict(v.initcalls)
    if v.builds:
        out["builds"] = dict(v.builds)
    return out


def _value_json(val: Any) -> Any:
    if isinstance(val, Guard):
        return {"guard": [str(p) for p in val.conj]}
    return val


def _value_from_json(site: Site, raw: object, where: str) -> Any:
    if raw is None and site.kind != "choice":
        return None  # a guarded statement that is absent
    if site.kind == "choice":  # always one of its alternatives: null is not one
        if raw not in site.alternatives:
            raise VariantError(f"{where}: {clip(repr(raw))} is not one of {', '.join(site.alternatives)}")
        return raw
    if not isinstance(raw, dict) or not isinstance(raw.get("guard"), list):
        raise VariantError(f"{where}: expected null or {{\"guard\": [...]}}")
    preds = []
    for item in raw["guard"]:
        if not isinstance(item, str):
            raise VariantError(f"{where}: guard conjuncts are strings")
        neg = item.startswith("!") and item[1:] in site.vocab
        name = item[1:] if neg else item
        if name not in site.vocab:
            raise VariantError(f"{where}: {clip(repr(item))} is not a predicate of this site "
                               f"({', '.join(site.vocab)})")
        preds.append(Pred(name, neg))
    return Guard(tuple(preds))


def variant_from_json(data: object, source: str = "<variant>") -> Variant:
    """Read a saved variant; unknown sites or predicates are errors."""
    source = inputs.name(source)
    if not isinstance(data, dict) or not isinstance(data.get("sites"), dict):
        raise VariantError(f"{source}: not a variant (expected an object with 'sites')")
    for key, limit in (("name", 200), ("description", 2000)):
        if not isinstance(data.get(key, ""), str) or len(data.get(key, "")) > limit:
            raise VariantError(f"{source}: {key}: expected a string of at most {limit} characters")
    values: dict[str, Any] = {}
    for k, raw in data["sites"].items():
        if k not in SITES:
            raise VariantError(f"{source}: sites.{clip(k)}: unknown guard site")
        values[k] = _value_from_json(SITES[k], raw, f"{source}: sites.{k}")
    for k, s in SITES.items():
        values.setdefault(k, s.v614)
    initcalls = data.get("initcalls", {})
    if not isinstance(initcalls, dict) or not all(
            isinstance(k, str) and v in INITCALL_LEVELS for k, v in initcalls.items()):
        raise VariantError(f"{source}: initcalls: expected {{driver or ID: level}} with levels "
                           f"{', '.join(INITCALL_LEVELS)}")
    builds = data.get("builds", {})
    if not isinstance(builds, dict) or not all(
            isinstance(k, str) and ":" in k and v in BUILD_KINDS for k, v in builds.items()):
        raise VariantError(f"{source}: builds: expected {{\"ARCH:driver\": "
                           f"{' or '.join(BUILD_KINDS)}}}")
    return make_variant(str(data.get("name", "custom")), str(data.get("description", "")), values,
                        initcalls, builds)


# -- what the model calls ------------------------------------------------------

_VOCABS = {name: s.vocab for name, s in SITES.items()}
_active: Variant = V614


# Variant -> its as_dict() and compiled guards: activate() runs once per
# boot and the fuzzers boot the same few variants over and over (a Variant is
# frozen, hashable; nothing writes the active values while a run reads them).
_ACTIVATED: dict[Variant, tuple[dict[str, SiteValue], dict[str, active.Compiled]]] = {}


def activate(v: Variant) -> None:
    """Make ``v`` the variant the model reads (one run at a time)."""
    global _active
    _active = v
    done = _ACTIVATED.get(v)
    if done is None:
        if len(_ACTIVATED) > 256:
            _ACTIVATED.clear()
        values = v.as_dict()
        done = _ACTIVATED[v] = (values, active.compile_values(values, _VOCABS))
    active.set_values(done[0], _VOCABS, done[1])


def active_variant() -> Variant:
    """The variant :func:`activate` made active."""
    return _active


activate(V614)


# Kept for the modules that translate an -ENODEV into "not behind an IOMMU".
__all__ = ["BUILD_KINDS", "ENODEV", "SITES", "NEXT", "PRESETS", "V614", "G", "Guard", "P", "Pred",
           "PredDef", "Site",
           "Variant", "VariantError", "activate", "active_variant", "check", "choice",
           "make_variant", "present", "render_value", "tree_facts", "variant_from_json",
           "variant_to_json"]
