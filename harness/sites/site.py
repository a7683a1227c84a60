"""Building blocks of guard sites: predicates, guards, and the site declaration.

A :class:`Site` is one declaration holding both the model semantics (its
vocabulary and preset values, read by the harness through
:mod:`harness.variant`) and its C shape (``c``: a dataclass of
:mod:`harness.sites.shapes`, which :mod:`mutators.smpl` turns into Coccinelle
rules).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.sites.shapes import Shape


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


#: a site's value: a guard, ``None`` (statement absent) or a choice's alternative
SiteValue = Guard | str | None


@dataclass(frozen=True)
class PredDef:
    """A state predicate usable at a site: its C text and how the model reads it.

    ``read(env)`` receives the site's environment (the C locals in scope,
    e.g. ``dev``, ``drv``, ``ret``) and returns the predicate's truth value.
    Reads go through the model's objects, so a predicate that dereferences a
    NULL or bogus pointer oopses, as the C would.
    """

    c_expr: str
    read: Callable[[Mapping[str, Any]], object]
    doc: str = ""


@dataclass(frozen=True)
class Site:
    """A named guard site: where it is, what it guards, its vocabulary."""

    name: str
    function: str
    file: str
    kind: str  # "guard" or "choice"
    doc: str
    v614: SiteValue
    next: SiteValue
    vocab: Mapping[str, PredDef] = field(default_factory=dict)
    alternatives: tuple[str, ...] = ()  # for choice sites
    patch: str = ""  # which patch of the series introduced the NEXT value
    #: the C side of the site: a :class:`harness.sites.shapes.Shape` from which
    #: mutators generate the Coccinelle rule for any value (None: no C rule yet)
    c: Shape | None = None


def P(name: str, neg: bool = False) -> Pred:  # noqa: N802 - short constructor
    return Pred(name, neg)


def G(*preds: Pred) -> Guard:  # noqa: N802 - short constructor
    return Guard(tuple(preds))


