"""The one spelling of variant ids, and the parser that reads both spellings.

A variant id is ``BASE`` followed by one ``+<site><op>`` per mutation, e.g.
``NEXT+iommu_init_device.dma_configure-not.dev.driver``.  The spelling is safe
to paste unquoted into bash (no ``!``, ``>``, ``<``, ``~``, ``&``, ``|``, ``;``,
``(``, ``)``, spaces or quotes), is a valid git ref component and a valid file
name, so the same string names the variant, its crash folder and its branch
(``probefuzz/<id>``).

Operators, written right after the site name:

* ``-P``  drop conjunct ``P``;
* ``+P``  add conjunct ``P``;
* ``%P``  negate conjunct ``P`` in place;
* ``=V``  set the site to ``V`` (``absent``, ``present`` or a choice alternative).

A predicate ``P`` is its C spelling with ``->`` written ``.`` and a leading
``!`` written ``not.``: ``!dev->driver`` is ``not.dev.driver``.

The first spelling (``NEXT+site:-!dev->driver``, ``~`` for negation) is still
accepted on input: :func:`parse_id` reads both, :func:`format_id` writes only
the new one.  Internally a mutation's ``op`` keeps the C form (``-!dev->driver``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["SAFE_ID", "format_op", "format_pred", "format_token", "id_slug", "parse_op",
           "parse_pred", "split_id"]

#: Characters a formatted id may contain (bash-safe unquoted, git-ref-safe, file-name-safe).
SAFE_ID = re.compile(r"[A-Za-z0-9_.+%=-]+")

# Longest id kept verbatim as a branch / folder name; longer ones get a hash suffix.
_SLUG_MAX = 180

_OLD_OPS = {"~": "%"}  # the first spelling's negation operator


def format_pred(pred: str) -> str:
    """``!dev->driver`` -> ``not.dev.driver``."""
    out = ""
    while pred.startswith("!"):
        out += "not."
        pred = pred[1:]
    return out + pred.replace("->", ".")


def parse_pred(text: str) -> str:
    """The C spelling of a predicate written either way (``not.dev.driver`` or ``!dev->driver``)."""
    neg = ""
    while True:
        if text.startswith("not."):
            neg += "!"
            text = text[4:]
        elif text.startswith("!"):
            neg += "!"
            text = text[1:]
        else:
            break
    return neg + text.replace("->", ".").replace(".", "->")


def format_op(op: str) -> str:
    """An internal op (``-!dev->driver``, ``~P``, ``=absent``) in id spelling."""
    kind, arg = op[:1], op[1:]
    if kind == "=":
        return op
    return {"~": "%"}.get(kind, kind) + format_pred(arg)


def parse_op(text: str) -> str:
    """An op written in either spelling, in internal form (``-!dev->driver``)."""
    kind, arg = text[:1], text[1:]
    kind = _OLD_OPS.get(kind, kind)
    if kind == "=":
        return text
    internal = {"%": "~"}.get(kind, kind)
    return internal + parse_pred(arg)


def format_token(site: str, op: str) -> str:
    """One mutation in id spelling: ``site`` immediately followed by its op."""
    return f"{site}{format_op(op)}"


def split_id(vid: str, sites: Iterable[str]) -> tuple[str, list[tuple[str, str]]]:
    """``BASE+site<op>+site<op>`` (either spelling) -> (BASE, [(site, internal op)]).

    Ops may themselves contain ``+`` (``+dev.iommu``), so mutations are found by
    the known site names: ``+SITE`` followed by ``:`` (first spelling) or an
    operator character.
    """
    names = sorted(sites, key=len, reverse=True)
    pat = re.compile(r"\+(" + "|".join(re.escape(n) for n in names) + r"):?(?=[-+=%~])")
    starts = list(pat.finditer(vid))
    if not starts:
        return vid, []
    base = vid[:starts[0].start()]
    muts = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(vid)
        muts.append((m.group(1), parse_op(vid[m.end():end])))
    return base, muts


def id_slug(vid: str) -> str:
    """The id as a branch component and folder name: the id itself when it is
    in the safe spelling and not too long, else a sanitised prefix plus a hash
    of the whole id (ids of variant JSON files are free text)."""
    ok = (SAFE_ID.fullmatch(vid) is not None and len(vid) <= _SLUG_MAX and ".." not in vid
          and not vid.startswith((".", "-")) and not vid.endswith((".", ".lock")))
    if ok:
        return vid
    safe = re.sub(r"[^A-Za-z0-9_.+%=-]+", "_", vid)
    safe = re.sub(r"\.{2,}", ".", safe).strip("._-")[:80].rstrip(".")
    return f"{safe or 'variant'}-{hashlib.sha256(vid.encode()).hexdigest()[:8]}"
