"""The variant the model runs, as the model reads it at a guard site.

A leaf (it imports nothing from the harness at run time): the sites' own
predicates (e.g. a bus hook's snapshot of ``dev->driver``) and every model
module read the active values here, while :func:`harness.variant.activate`
sets them.

:func:`check` runs ~1,000 times a boot, so each guard is compiled once into
a closure over its predicates' ``read`` functions (no per-call walk of the
conjunction through the vocabulary); the compiled form evaluates the same
reads in the same left-to-right, short-circuit order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.sites.site import PredDef, SiteValue

#: a compiled guard: the site's environment -> whether the guarded statement runs
Compiled = Callable[[Mapping[str, Any]], bool]

_active_values: dict[str, SiteValue] = {}
_vocabs: Mapping[str, Mapping[str, PredDef]] = {}
_compiled: dict[str, Compiled] = {}
# (site, value) -> compiled guard, valid for the vocabularies in _cache_vocabs
_cache: dict[tuple[str, Any], Compiled] = {}
_cache_vocabs: object = None


def _absent(env: Mapping[str, Any]) -> bool:
    return False


def _always(env: Mapping[str, Any]) -> bool:
    return True


def _interpreted(site: str) -> Compiled:
    """The guard read through the vocabulary at each call (a value the
    compiler cannot resolve up front, e.g. a predicate the vocabulary lacks:
    the KeyError comes when the guard is evaluated, as before)."""

    def run(env: Mapping[str, Any]) -> bool:
        g: Any = _active_values[site]
        if g is None:
            return False
        vocab = _vocabs[site]
        for p in g.conj:
            if bool(vocab[p.name].read(env)) == p.neg:
                return False
        return True

    return run


def compile_guard(site: str, value: SiteValue, vocab: Mapping[str, PredDef]) -> Compiled:
    """``value`` (a guard of ``site``, or None) as one function of the environment."""
    if value is None:
        return _absent
    conj = getattr(value, "conj", None)
    if conj is None:  # a choice site's alternative: check() is not for those
        return _interpreted(site)
    try:
        preds = tuple((vocab[p.name].read, bool(p.neg)) for p in conj)
    except KeyError:
        return _interpreted(site)
    if not preds:
        return _always
    if len(preds) == 1:
        read, neg = preds[0]
        if neg:
            return lambda env: not read(env)
        return lambda env: bool(read(env))

    def run(env: Mapping[str, Any]) -> bool:
        for read, neg in preds:
            if bool(read(env)) == neg:
                return False
        return True

    return run


def compile_values(values: Mapping[str, SiteValue],
                   vocabs: Mapping[str, Mapping[str, PredDef]]) -> dict[str, Compiled]:
    """Every site's value of ``values`` compiled (:func:`compile_guard`)."""
    global _cache_vocabs
    if vocabs is not _cache_vocabs or len(_cache) > 4096:
        _cache.clear()
        _cache_vocabs = vocabs
    compiled: dict[str, Compiled] = {}
    for site, value in values.items():
        key = (site, value)
        fn = _cache.get(key)
        if fn is None:
            fn = _cache[key] = compile_guard(site, value, vocabs.get(site, {}))
        compiled[site] = fn
    return compiled


def set_values(values: dict[str, SiteValue], vocabs: Mapping[str, Mapping[str, PredDef]],
               compiled: dict[str, Compiled] | None = None) -> None:
    """Make ``values`` (site -> value, every site) what the model reads;
    ``compiled`` is :func:`compile_values` of them when the caller kept it."""
    global _active_values, _vocabs, _compiled
    _compiled = compiled if compiled is not None else compile_values(values, vocabs)
    _active_values = values
    _vocabs = vocabs


def present(site: str) -> bool:
    """Whether the guarded statement exists in this variant's code."""
    return _active_values[site] is not None


def check(site: str, **env: Any) -> bool:
    """Evaluate the site's guard in ``env``; False when the statement is absent."""
    return _compiled[site](env)


def choice(site: str) -> str:
    """The alternative of a choice site."""
    v = _active_values[site]
    assert isinstance(v, str), site
    return v
