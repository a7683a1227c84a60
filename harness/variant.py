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
derive others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errno import ENODEV
from mutators.shapes import Shape


@dataclass(frozen=True)
class Pred:
    """One conjunct: a predicate name from the site's vocabulary, maybe negated."""

    name: str
    neg: bool = False

    def c(self, vocab: Mapping[str, PredDef]) -> str:
        expr = vocab[self.name].c_expr
        return _c_not(expr) if self.neg else expr

    def c_not(self, vocab: Mapping[str, PredDef]) -> str:
        """C text of the negated conjunct (``!x`` -> ``x``, ``x`` -> ``!x``)."""
        expr = vocab[self.name].c_expr
        if not self.neg:
            return _c_not(expr)
        return expr if _atomic(expr) else f"({expr})"

    def __str__(self) -> str:
        return ("!" if self.neg else "") + self.name


def _atomic(expr: str) -> bool:
    return all(op not in expr for op in (" ", "==", "!=", "&&", "||", "?"))


def _c_not(expr: str) -> str:
    """``!expr`` without double negation: ``!ret`` negated is ``ret``."""
    if expr.startswith("!") and _atomic(expr[1:]) and not expr[1:].startswith("("):
        return expr[1:]
    return f"!{expr}" if _atomic(expr) else f"!({expr})"


@dataclass(frozen=True)
class Guard:
    """``conj[0] && conj[1] && ...``; the empty conjunction is true."""

    conj: tuple[Pred, ...] = ()

    def c(self, vocab: Mapping[str, PredDef]) -> str:
        return " && ".join(p.c(vocab) for p in self.conj) or "1"

    def c_not(self, vocab: Mapping[str, PredDef]) -> str:
        """C text of ``!(guard)`` by De Morgan: ``!a || !b ...``; the empty guard gives 0."""
        return " || ".join(p.c_not(vocab) for p in self.conj) or "0"

    def __str__(self) -> str:
        return " && ".join(str(p) for p in self.conj) or "true"


@dataclass(frozen=True)
class PredDef:
    """A state predicate usable at a site: its C text and how the model reads it.

    ``read(env)`` receives the site's environment (the C locals in scope,
    e.g. ``dev``, ``drv``, ``ret``) and returns the predicate's truth value.
    Reads go through the model's objects, so a predicate that dereferences a
    NULL or bogus pointer oopses, as the C would.
    """

    c_expr: str
    read: Callable[[Mapping[str, Any]], Any]
    doc: str = ""


@dataclass(frozen=True)
class Site:
    """A named guard site: where it is, what it guards, its vocabulary."""

    name: str
    function: str
    file: str
    kind: str  # "guard" or "choice"
    doc: str
    v614: Any
    next: Any
    vocab: Mapping[str, PredDef] = field(default_factory=dict)
    alternatives: tuple[str, ...] = ()  # for choice sites
    patch: str = ""  # which patch of the series introduced the NEXT value
    #: the C side of the site: a :class:`mutators.shapes.Shape` that generates
    #: the Coccinelle rule for any value of the site (None: no C rule yet)
    c: Shape | None = None


def P(name: str, neg: bool = False) -> Pred:  # noqa: N802 - short constructor
    return Pred(name, neg)


def G(*preds: Pred) -> Guard:  # noqa: N802 - short constructor
    return Guard(tuple(preds))


# -- vocabularies --------------------------------------------------------------

def _dev(e: Mapping[str, Any]) -> Any:
    return e["dev"]


V_DEV: dict[str, PredDef] = {
    "dev->driver": PredDef("dev->driver", lambda e: _dev(e).driver is not None,
                           "a driver is bound or binding (read now)"),
    "dev->iommu": PredDef("dev->iommu", lambda e: _dev(e).iommu is not None,
                          "per-device IOMMU data exists"),
    "dev->iommu->fwspec": PredDef("dev_iommu_fwspec_get(dev)",
                                  lambda e: _dev(e).iommu is not None
                                  and _dev(e).iommu.fwspec is not None,
                                  "firmware already identified the instance"),
    "dev->iommu_group": PredDef("dev->iommu_group", lambda e: _dev(e).iommu_group is not None,
                                "already IOMMU-probed"),
    "dev->dma_range_map": PredDef("dev->dma_range_map", lambda e: _dev(e).dma_range_map is not None,
                                  "dma-ranges already parsed"),
    "dev->bus": PredDef("dev->bus", lambda e: _dev(e).bus is not None, "on a bus"),
    "dev->bus->dma_configure": PredDef(
        "dev->bus->dma_configure", lambda e: _dev(e).bus.dma_configure is not None,
        "the bus has a dma_configure hook"),
}


def _vocab(*names: str, **extra: PredDef) -> dict[str, PredDef]:
    v = {n: V_DEV[n] for n in names}
    v.update(extra)
    return v


RET_OK = PredDef("!ret", lambda e: e["ret"] == 0, "firmware configuration succeeded")
ERR_OK = PredDef("!err", lambda e: e["err"] == 0, "parsing succeeded")


def _drv_not_managed(field_name: str) -> PredDef:
    # ``drv`` is the bus driver derived from dev->driver at function entry:
    # NULL or a bogus pointer when no driver was set, so reading it faults.
    return PredDef(f"!{field_name}->driver_managed_dma",
                   lambda e: not e["drv"].driver_managed_dma,
                   "the bound driver uses the kernel DMA API")


def _bus_hook_site(bus: str, fn: str, file: str, drvvar: str) -> Site:
    vocab = _vocab("dev->driver", "dev->iommu_group", "dev->iommu", "dev->dma_range_map",
                   **{"!ret": RET_OK, "!drv->driver_managed_dma": _drv_not_managed(drvvar)})
    return Site(
        name=f"{fn}.use_default_domain",
        function=fn,
        file=file,
        kind="guard",
        doc=f"{bus} bus: when dma_configure claims the default domain for the driver",
        v614=G(P("!ret"), P("!drv->driver_managed_dma")),
        next=G(P("!ret"), P("dev->driver"), P("!drv->driver_managed_dma")),
        vocab=vocab,
        patch="4/4",
    )


INSTANCE_REGISTERED = PredDef(
    "iommu_fwspec_ops(dev->iommu->fwspec)",
    lambda e: _instance_of(e) is not None,
    "the device's IOMMU instance is registered")


def _instance_of(e: Mapping[str, Any]) -> Any:
    from harness.iommu.iommu import iommu_fwspec_ops  # late: avoids an import cycle

    dev = e["dev"]
    fw = dev.iommu.fwspec if dev.iommu is not None else None
    return iommu_fwspec_ops(fw)


SITES: dict[str, Site] = {}


def _add(s: Site) -> None:
    SITES[s.name] = s


_add(Site(
    name="iommu_init_device.dma_configure",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="guard",
    doc="run the bus dma_configure (firmware parsing) from the IOMMU probe path",
    v614=None,
    next=G(P("dev->driver", neg=True), P("dev->bus->dma_configure")),
    vocab=_vocab("dev->driver", "dev->bus->dma_configure", "dev->iommu_group",
                 "dev->iommu->fwspec", "dev->dma_range_map"),
    patch="4/4"))
_add(Site(
    name="iommu_init_device.dma_configure_lock",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="choice",
    doc="iommu_probe_device_lock around that dma_configure call",
    v614="drop", next="drop", alternatives=("drop", "hold", "drop_revalidate"),
    patch="4/4"))
_add(Site(
    name="iommu_init_device.late_probe_warn",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="guard",
    doc='dev_WARN "late IOMMU probe at driver bind"',
    v614=None, next=G(P("dev->driver")),
    vocab=_vocab("dev->driver", "dev->iommu_group"),
    patch="4/4"))
_add(Site(
    name="iommu_init_device.ops_lookup",
    function="iommu_init_device", file="drivers/iommu/iommu.c", kind="choice",
    doc="where the instance ops are resolved from the fwspec",
    v614="__iommu_probe_device", next="iommu_init_device",
    alternatives=("__iommu_probe_device", "iommu_init_device"),
    patch="2/4"))
_add(Site(
    name="iommu_device_use_default_domain.defer",
    function="iommu_device_use_default_domain", file="drivers/iommu/iommu.c", kind="guard",
    doc="-EPROBE_DEFER while the group has no default domain yet",
    v614=None, next=G(P("!group->default_domain")),
    vocab={"!group->default_domain": PredDef(
        "!group->default_domain", lambda e: e["group"].default_domain is None,
        "the registration walk has not finished the group")},
    patch="1/4"))
_add(Site(
    name="of_iommu_configure.replay",
    function="of_iommu_configure", file="drivers/iommu/of_iommu.c", kind="guard",
    doc="replay iommu_probe_device() after a successful parse",
    v614=G(P("!err"), P("dev->bus")),
    next=G(P("!err"), P("dev->bus"), P("dev_iommu_present", neg=True)),
    vocab=_vocab("dev->bus", "dev->driver", "dev->iommu_group",
                 **{"!err": ERR_OK,
                    "dev_iommu_present": PredDef("dev_iommu_present",
                                                 lambda e: e["dev_iommu_present"],
                                                 "dev->iommu existed on entry")}),
    patch="4/4"))
_add(Site(
    name="of_iommu_configure.cleanup",
    function="of_iommu_configure", file="drivers/iommu/of_iommu.c", kind="choice",
    doc="what a failed parse frees",
    v614="fwspec_free", next="exact", alternatives=("fwspec_free", "exact"),
    patch="3/4"))
_add(Site(
    name="acpi_iommu_configure_id.replay",
    function="acpi_iommu_configure_id", file="drivers/acpi/scan.c", kind="guard",
    doc="replay iommu_probe_device() after IORT/VIOT configuration",
    v614=G(P("!err"), P("dev->bus")), next=None,
    vocab=_vocab("dev->bus", "dev->driver", "dev->iommu_group", **{"!err": ERR_OK}),
    patch="4/4"))
_add(Site(
    name="of_dma_configure_id.skip_range_map",
    function="of_dma_configure_id", file="drivers/of/device.c", kind="guard",
    doc='skip dma-ranges parsing: "dma_range_map already set"',
    v614=None, next=G(P("dev->dma_range_map")),
    vocab=_vocab("dev->dma_range_map", "dev->driver"),
    patch="4/4"))
_add(Site(
    name="acpi_arch_dma_setup.skip_range_map",
    function="acpi_arch_dma_setup", file="drivers/acpi/arm64/dma.c", kind="guard",
    doc='skip _DMA parsing: "dma_range_map already set"',
    v614=None, next=G(P("dev->dma_range_map")),
    vocab=_vocab("dev->dma_range_map", "dev->driver"),
    patch="4/4"))
for _bus, _fn, _file, _drv in (
    ("platform", "platform_dma_configure", "drivers/base/platform.c", "drv"),
    ("amba", "amba_dma_configure", "drivers/amba/bus.c", "drv"),
    ("pci", "pci_dma_configure", "drivers/pci/pci-driver.c", "driver"),
    ("fsl-mc", "fsl_mc_dma_configure", "drivers/bus/fsl-mc/fsl-mc-bus.c", "mc_drv"),
    ("cdx", "cdx_dma_configure", "drivers/cdx/cdx.c", "cdx_drv"),
):
    _add(_bus_hook_site(_bus, _fn, _file, _drv))
# IOMMU driver probe order: where a driver publishes the state its callbacks
# read, relative to iommu_device_register().
_add(Site(
    name="rk_iommu_probe.dma_dev",
    function="rk_iommu_probe", file="drivers/iommu/rockchip-iommu.c", kind="choice",
    doc="where rk_iommu_probe() sets the global dma_dev",
    v614="after_register", next="after_register",
    alternatives=("after_register", "before_register")))


@dataclass(frozen=True)
class Variant:
    """A value for every site.  ``values`` holds only sites that differ from V614."""

    name: str
    description: str
    values: tuple[tuple[str, Any], ...] = ()

    def value(self, site: str) -> Any:
        for k, v in self.values:
            if k == site:
                return v
        return SITES[site].v614

    def as_dict(self) -> dict[str, Any]:
        return {name: self.value(name) for name in SITES}

    def fingerprint(self) -> str:
        """Stable hash of the semantics (not the name)."""
        blob = json.dumps({k: render_value(SITES[k], v) for k, v in self.as_dict().items()},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def with_values(self, name: str, description: str, **changes: Any) -> Variant:
        d = self.as_dict()
        for k, v in changes.items():
            if k not in SITES:
                raise KeyError(f"unknown guard site {k!r}")
            d[k] = v
        return make_variant(name, description, d)


def make_variant(name: str, description: str, values: Mapping[str, Any]) -> Variant:
    diff = tuple(sorted((k, v) for k, v in values.items() if v != SITES[k].v614))
    return Variant(name, description, diff)


def render_value(site: Site, v: Any) -> str:
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
    for name, s in SITES.items():
        val = v.value(name)
        out["sites"][name] = _value_json(val)
    return out


def _value_json(val: Any) -> Any:
    if isinstance(val, Guard):
        return {"guard": [str(p) for p in val.conj]}
    return val


def _value_from_json(site: Site, raw: Any, where: str) -> Any:
    if raw is None:
        return None
    if site.kind == "choice":
        if raw not in site.alternatives:
            raise VariantError(f"{where}: {raw!r} is not one of {', '.join(site.alternatives)}")
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
            raise VariantError(f"{where}: {item!r} is not a predicate of this site "
                               f"({', '.join(site.vocab)})")
        preds.append(Pred(name, neg))
    return Guard(tuple(preds))


def variant_from_json(data: Any, source: str = "<variant>") -> Variant:
    """Read a saved variant; unknown sites or predicates are errors."""
    if not isinstance(data, dict) or not isinstance(data.get("sites"), dict):
        raise VariantError(f"{source}: not a variant (expected an object with 'sites')")
    values: dict[str, Any] = {}
    for k, raw in data["sites"].items():
        if k not in SITES:
            raise VariantError(f"{source}: sites.{k}: unknown guard site")
        values[k] = _value_from_json(SITES[k], raw, f"{source}: sites.{k}")
    for k, s in SITES.items():
        values.setdefault(k, s.v614)
    return make_variant(str(data.get("name", "custom")), str(data.get("description", "")), values)


# -- what the model calls ------------------------------------------------------

_active: Variant = V614
_active_values: dict[str, Any] = V614.as_dict()


def activate(v: Variant) -> None:
    """Make ``v`` the variant the model reads (one run at a time)."""
    global _active, _active_values
    _active = v
    _active_values = v.as_dict()


def active() -> Variant:
    return _active


def present(site: str) -> bool:
    """Whether the guarded statement exists in this variant's code."""
    return _active_values[site] is not None


def check(site: str, **env: Any) -> bool:
    """Evaluate the site's guard in ``env``; False when the statement is absent."""
    g = _active_values[site]
    if g is None:
        return False
    vocab = SITES[site].vocab
    for p in g.conj:
        val = bool(vocab[p.name].read(env))
        if val == p.neg:
            return False
    return True


def choice(site: str) -> str:
    v = _active_values[site]
    assert isinstance(v, str), site
    return v


# Kept for the modules that translate an -ENODEV into "not behind an IOMMU".
__all__ = ["ENODEV", "SITES", "Variant", "V614", "NEXT", "PRESETS", "check", "choice", "present"]
