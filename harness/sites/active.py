"""The variant the model runs, as the model reads it at a guard site.

A leaf (it imports nothing from the harness): the sites' own predicates
(e.g. a bus hook's snapshot of ``dev->driver``) and every model module read
the active values here, while :func:`harness.variant.activate` sets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.sites.site import PredDef, SiteValue

_active_values: dict[str, SiteValue] = {}
_vocabs: Mapping[str, Mapping[str, PredDef]] = {}


def set_values(values: dict[str, SiteValue], vocabs: Mapping[str, Mapping[str, PredDef]]) -> None:
    """Make ``values`` (site -> value, every site) what the model reads."""
    global _active_values, _vocabs
    _active_values = values
    _vocabs = vocabs


def present(site: str) -> bool:
    """Whether the guarded statement exists in this variant's code."""
    return _active_values[site] is not None


def check(site: str, **env: Any) -> bool:
    """Evaluate the site's guard in ``env``; False when the statement is absent."""
    g = _active_values[site]
    if g is None:
        return False
    vocab = _vocabs[site]
    for p in g.conj:
        val = bool(vocab[p.name].read(env))
        if val == p.neg:
            return False
    return True


def choice(site: str) -> str:
    """The alternative of a choice site."""
    v = _active_values[site]
    assert isinstance(v, str), site
    return v
