"""The variant space: mutation operators over guard sites, ids, descriptions.

Operators (each one mutation at one site; internally ``op`` keeps the C
spelling shown here, ids spell it as :mod:`mutators.ids` says):

* ``-P``   drop conjunct ``P`` from the site's guard;
* ``+P``   add conjunct ``P`` (``P`` may be negated: ``+!dev->driver``) from
  the site's vocabulary, at the end (C evaluates left to right);
* ``~P``   negate conjunct ``P`` in place (``%P`` in ids);
* ``=absent`` / ``=present``  remove the guarded statement / put it back
  (with the site's NEXT value, or V614's when NEXT has none);
* ``=ALT`` set a choice site to another alternative.

A variant id is ``BASE`` followed by ``+<site><op>`` per mutation, e.g.
``NEXT+platform_dma_configure.use_default_domain-dev.driver`` (safe to paste
unquoted in a shell; the first spelling ``...:-dev->driver`` is still read).  Variants are
de-duplicated by :func:`semantic_key` (same semantics = same variant; a site
that neither the model nor the C reads in a variant does not count), and only
mutants that have C (the site's shape can render them) are listed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.inputs import read_json
from harness.variant import (
    PRESETS,
    SITES,
    Guard,
    Pred,
    Variant,
    VariantError,
    make_variant,
    render_value,
    tree_facts,
    variant_from_json,
)
from mutators.ids import format_token, split_id
from mutators.shapes import GuardedIf, RuleContext, ShapeError
from mutators.smpl import site_rules


@dataclass(frozen=True)
class Mutation:
    site: str
    op: str  # "-P", "+P", "~P", "=absent", "=present", "=ALT"

    @property
    def token(self) -> str:
        """The mutation as written in variant ids (:func:`mutators.ids.format_token`)."""
        return format_token(self.site, self.op)


@dataclass(frozen=True)
class Mutant:
    id: str
    description: str
    variant: Variant
    mutations: tuple[Mutation, ...]


def _ops(site_name: str, value: Any) -> Iterator[str]:
    site = SITES[site_name]
    if site.kind == "choice":
        for alt in site.alternatives:
            if alt != value:
                yield f"={alt}"
        return
    if value is None:
        yield "=present"
        return
    assert isinstance(value, Guard)
    have = {p.name for p in value.conj}
    for p in value.conj:
        yield f"-{p}"
    for p in value.conj:
        yield f"~{p}"
    for name in site.vocab:
        if name not in have:
            yield f"+{name}"
            yield f"+!{name}"
    if isinstance(site.c, GuardedIf) and site.c.removable:
        yield "=absent"


def mutate(values: dict[str, Any], m: Mutation) -> dict[str, Any]:
    """Apply one mutation to a site->value dict (raises VariantError if it does not fit)."""
    site = SITES.get(m.site)
    if site is None:
        raise VariantError(f"unknown guard site {m.site!r}")
    v = values[m.site]
    out = dict(values)
    op, arg = m.op[0], m.op[1:]
    if op == "=":
        if arg == "absent":
            out[m.site] = None
        elif arg == "present":
            out[m.site] = site.next if site.next is not None else site.v614
        elif site.kind == "choice" and arg in site.alternatives:
            out[m.site] = arg
        else:
            raise VariantError(f"{m.token}: not an alternative of {m.site}")
        return out
    if not isinstance(v, Guard):
        raise VariantError(f"{m.token}: {m.site} has no guard to change here")
    neg = arg.startswith("!") and arg[1:] in site.vocab
    name = arg[1:] if neg else arg
    if name not in site.vocab:
        raise VariantError(f"{m.token}: {arg!r} is not a predicate of {m.site}")
    conj = list(v.conj)
    idx = next((i for i, p in enumerate(conj) if p.name == name), None)
    if op == "-":
        if idx is None or conj[idx].neg != neg:
            raise VariantError(f"{m.token}: the guard has no conjunct {arg!r}")
        del conj[idx]
    elif op == "+":
        if idx is not None:
            raise VariantError(f"{m.token}: the guard already tests {name!r}")
        conj.append(Pred(name, neg))
    elif op == "~":
        if idx is None or conj[idx].neg != neg:
            raise VariantError(f"{m.token}: the guard has no conjunct {arg!r}")
        conj[idx] = Pred(name, not conj[idx].neg)
    else:
        raise VariantError(f"{m.token}: unknown operator {op!r}")
    out[m.site] = Guard(tuple(conj))
    return out


def describe(m: Mutation, before: Any, after: Any) -> str:
    """One line a maintainer understands."""
    site = SITES[m.site]
    where = f"{site.function}()"
    op, arg = m.op[0], m.op[1:]
    if op == "=" and arg == "absent":
        return f"{where}: remove `{render_value(site, before)}` ({site.doc})"
    if op == "=" and arg == "present":
        return f"{where}: add `{render_value(site, after)}` ({site.doc})"
    if op == "=":
        return f"{where}: {site.doc}: {before} -> {arg}"
    verb = {"-": "stop testing", "+": "also test", "~": "negate"}[op]
    neg = arg.startswith("!") and arg[1:] in site.vocab
    pred = Pred(arg[1:] if neg else arg, neg)
    return f"{where}: {verb} `{pred.c(site.vocab)}` -> `{render_value(site, after)}`"


def _has_c(v: Variant, site_name: str) -> bool:
    site = SITES[site_name]
    if site.c is None:
        return v.value(site_name) == site.v614
    if not site.c.applicable(site, v):
        return True
    try:
        site_rules(site, v.value(site_name), "x", RuleContext(v))
    except ShapeError:
        return False
    return True


def _inert(v: Variant, site_name: str) -> bool:
    """A site whose shape has no C in ``v`` (a lock choice around a call ``v``
    does not make, a snapshot of a field its guard does not test): by
    construction the model does not read it there either."""
    site = SITES[site_name]
    return site.c is not None and not site.c.applicable(site, v)


def semantic_key(v: Variant) -> str:
    """De-duplication key: the fingerprint with inert sites at their v6.14 value,
    so that two variants differing only where neither model nor C looks are one."""
    inert = {n: SITES[n].v614 for n in SITES if _inert(v, n)}
    if not inert:
        return v.fingerprint()
    return make_variant(v.name, "", {**v.as_dict(), **inert}, *tree_facts(v)).fingerprint()


def neighbours(base: Mutant) -> Iterator[Mutant]:
    """Every single-mutation neighbour of ``base`` that has C (and an effect)."""
    values = base.variant.as_dict()
    touched = {m.site for m in base.mutations}
    for name in SITES:
        if name in touched or _inert(base.variant, name):
            continue
        for op in _ops(name, values[name]):
            m = Mutation(name, op)
            try:
                new = mutate(values, m)
            except VariantError:
                continue
            vid = f"{base.id}+{m.token}"
            desc = describe(m, values[name], new[name])
            if base.mutations:
                desc = f"{base.description}; {desc}"
            v = make_variant(vid, desc, new, *tree_facts(base.variant))
            if not _has_c(v, name):
                continue
            yield Mutant(vid, desc, v, (*base.mutations, m))


#: The largest variant space ``space()`` is asked to enumerate from the CLI.
MAX_SPACE = 100_000


def space_size_bound(base: str | Mutant, depth: int) -> int:
    """An upper bound on ``len(space(base, depth))`` without enumerating it:
    choosing ``k <= depth`` distinct sites and one of each site's single
    mutations (the elementary symmetric sums of the per-site op counts).
    De-duplication makes the real count a little smaller (depth 2 around
    NEXT: 8,841 bound, 8,828 listed)."""
    root = resolve(base) if isinstance(base, str) else base
    per_site: dict[str, int] = {}
    for n in neighbours(root):
        site = n.mutations[-1].site
        per_site[site] = per_site.get(site, 0) + 1
    e = [1] + [0] * depth
    for count in per_site.values():
        for k in range(depth, 0, -1):
            e[k] += e[k - 1] * count
    return sum(e[1:])


def preset(name: str, presets: Mapping[str, Variant] = PRESETS) -> Mutant:
    """The root of a space: preset ``name``, named by it (a tree profile's
    presets, :func:`mutators.facts.tree_presets`, carry their tree's values
    and registration levels under the same names)."""
    v = presets[name]
    if v.name != name:
        v = make_variant(name, v.description, v.as_dict(), *tree_facts(v))
    return Mutant(name, v.description, v, ())


def space(base: str | Mutant = "NEXT", depth: int = 2) -> list[Mutant]:
    """All variants within ``depth`` mutations of ``base`` (an id, or a root
    such as ``resolve(id, tree_presets(profile))``), de-duplicated."""
    root = resolve(base) if isinstance(base, str) else base
    seen = {semantic_key(root.variant)}
    out: list[Mutant] = []
    frontier = [root]
    for _ in range(depth):
        nxt: list[Mutant] = []
        for m in frontier:
            for n in neighbours(m):
                fp = semantic_key(n.variant)
                if fp in seen:
                    continue
                seen.add(fp)
                out.append(n)
                nxt.append(n)
        frontier = nxt
    return out


def parse_id(vid: str) -> tuple[str, list[Mutation]]:
    """Split ``BASE+site<op>+site<op>`` (either id spelling; ops may contain
    '+', so split on known sites)."""
    base, muts = split_id(vid, SITES)
    return base, [Mutation(site, op) for site, op in muts]


def format_id(base: str, mutations: tuple[Mutation, ...] | list[Mutation]) -> str:
    """The one spelling of a variant id."""
    return base + "".join(f"+{m.token}" for m in mutations)


def resolve(vid: str, presets: Mapping[str, Variant] | None = None) -> Mutant:
    """A variant from an id (preset, preset+mutations) or a saved variant JSON file.

    ``presets``: what the base names stand for, by default the model's own
    (:data:`harness.variant.PRESETS`); a tree profile's
    (:func:`mutators.facts.tree_presets`) make ``NEXT+site<op>`` the series
    over that tree's drivers with the mutation, and add ``TREE``.  Ids stay
    as typed: the tree is part of the context, as ``--tree`` is on the
    command line."""
    presets = PRESETS if presets is None else presets
    base, muts = parse_id(vid)
    if base in presets:
        cur = preset(base, presets)
    elif not muts and _is_file(base):
        v = variant_from_json(read_json(base, VariantError), base)
        return Mutant(v.name, v.description, v, ())
    else:
        raise VariantError(f"unknown variant {_short(vid)!r} (known: {', '.join(presets)}, "
                           "PRESET+site<op>..., or a variant JSON file)")
    values = cur.variant.as_dict()
    descs = [cur.description] if muts else []
    for m in muts:
        new = mutate(values, m)
        descs.append(describe(m, values[m.site], new[m.site]))
        values = new
    desc = "; ".join(descs[1:]) if muts else cur.description
    vid = format_id(base, muts)  # the one spelling, whichever was typed
    v = make_variant(vid, desc, values, *tree_facts(cur.variant))
    for m in muts:
        if not _has_c(v, m.site):
            raise VariantError(f"{m.token}: this value has no C rendering")
    return Mutant(vid, desc, v, tuple(muts))


def _is_file(path: str) -> bool:
    """``Path(path).is_file()`` that is False, not OSError, for names too long or invalid."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def _short(text: str, limit: int = 80) -> str:
    """``text`` cut to one short line for an error message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
