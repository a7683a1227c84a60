"""C shapes of the guard sites: how a site's value looks in the kernel's C.

Each :class:`harness.variant.Site` carries a shape (its ``c`` field), so one
declaration holds both the model semantics (vocabulary, V614/NEXT values,
read by the harness) and the C rule (generated here as a Coccinelle semantic
patch).  Rules are *semantic*: they find the site by the shape of the code --
the function, the guarded statement, an anchor statement -- never by line
numbers, so they apply to any tree whose code has that shape (6.12, 6.14, ...).

Every generated rule set for a site reports, through ``@script:python`` rules
that print a marker line, one of:

``already``  the code already has the wanted value (nothing changed);
``applied``  spatch rewrote/inserted/removed the code;
nothing      the rule matched nothing -> the caller reports an error naming
             the site and the file.

Coccinelle's pretty-printer places comments and labels badly, so rules never
emit them directly: they emit placeholder statements (``PROBEFUZZ_COMMENT(n);``,
``PROBEFUZZ_LABEL(name);``, ``PROBEFUZZ_BLANK();``) that
:mod:`mutators.fixups` turns into kernel-style text afterwards.

This module must not import :mod:`harness` at import time (``harness.variant``
imports it); values are duck-typed :class:`~harness.variant.Guard` objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from harness.variant import Guard, Site, Variant

#: marker printed by the generated script rules: ``PROBEFUZZ<TAB>site<TAB>status``
MARKER = "PROBEFUZZ"


class ShapeError(ValueError):
    """A site value has no C rendering (e.g. removing a bus hook's claim)."""


@dataclass(frozen=True)
class Comment:
    """A comment that goes above a site's statement.

    It is emitted when the site's guard contains every conjunct in ``requires``
    (``str(Pred)`` spelling, e.g. ``"dev->driver"``, ``"!dev_iommu_present"``);
    when several match, the first one wins.  Every comment of a site is also
    *known*: when the value changes, a known comment directly above the
    statement is removed first, so comments never go stale.
    """

    text: str
    requires: tuple[str, ...] = ()

    def fits(self, guard: Guard | None) -> bool:
        if guard is None:
            return False
        have = {str(p) for p in guard.conj}
        return all(r in have for r in self.requires)


@dataclass
class CommentFix:
    """What fixups does at a ``PROBEFUZZ_COMMENT(n);`` placeholder."""

    text: str | None
    known: tuple[str, ...] = ()


@dataclass
class RuleContext:
    """State shared by the rule generators of one spatch run (one file)."""

    variant: Variant
    comments: dict[int, CommentFix] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # label -> function owning it
    #: locals the rules may leave unused (dropped by fixups when nothing reads them)
    owned_locals: set[str] = field(default_factory=set)
    _next_id: int = 1

    def comment(self, text: str | None, known: tuple[str, ...] = ()) -> str:
        """Allocate a placeholder statement for a comment (``None``: remove known ones)."""
        n = self._next_id
        self._next_id += 1
        self.comments[n] = CommentFix(text, known)
        return f"PROBEFUZZ_COMMENT({n});"


def _plus(c_text: str) -> str:
    """Prefix every line of C text with '+' (SmPL added code)."""
    return "\n".join("+" + ln for ln in c_text.strip("\n").splitlines())


_DISJ = ("(", "|", ")")


def _ctx(smpl: str) -> str:
    """Prefix every line of an SmPL pattern with a space (context code).

    Disjunction delimiters (a line that is just ``(``, ``|`` or ``)``) stay in
    column 0, where SmPL wants them.
    """
    return "\n".join(ln if ln in _DISJ else " " + ln
                     for ln in smpl.strip("\n").splitlines() if ln)


def _minus(smpl: str) -> str:
    """Prefix every line of an SmPL pattern with '-' (removed code)."""
    return "\n".join(ln if ln in _DISJ else "-" + ln
                     for ln in smpl.strip("\n").splitlines() if ln)


def _script(rule: str, site: str, status: str) -> str:
    return (f"@script:python depends on {rule}@\n@@\n"
            f'print("{MARKER}\\t{site}\\t{status}")\n')


@dataclass(frozen=True)
class Anchor:
    """Where a statement is inserted when the site goes from absent to present.

    ``before``/``after`` are SmPL statement patterns; the new code goes between
    them (either may be empty, not both).  They must be adjacent in the code.
    """

    before: str = ""
    after: str = ""
    metavars: str = ""


class Shape:
    """Base class: a generator of the Coccinelle rules for one site."""

    #: rules of one file run in ascending ``order`` (then declaration order)
    order: int = 50
    owned_locals: tuple[str, ...] = ()

    def rules(self, site: Site, value: Any, prefix: str, ctx: RuleContext) -> str:
        raise NotImplementedError

    def applicable(self, site: Site, variant: Variant) -> bool:
        """False when the site has no C of its own in this variant (e.g. a lock
        choice around a call the variant does not make)."""
        return True

    def known_comments(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class GuardedIf(Shape):
    """``if (COND) BODY`` inside the site's function.

    * ``body`` -- SmPL matching the guarded statement (may use ``...``).
    * ``follow`` -- SmPL of the statement right after the ``if`` (pins which
      ``if`` it is, e.g. the claim after platform's early return).
    * ``negated`` -- the C condition is the *negation* of the model's guard
      (early-return form: ``if (!guard) return ret;``), written with De Morgan.
    * ``insert_body`` -- C of the body for absent->present, from the variant
      (``None``: the site cannot be inserted); ``anchor`` -- where.
    * ``label`` -- ``(name, SmPL statement)``: a label the inserted body jumps
      to, placed before that statement (a later statement of the function).
    * ``removable`` -- whether the value ``None`` (statement absent) has C.
    """

    body: str
    follow: str = ""
    negated: bool = False
    insert_body: Callable[[Variant], str] | None = None
    anchor: Anchor | None = None
    label: tuple[str, str] | None = None
    removable: bool = True
    comments: tuple[Comment, ...] = ()
    body_regex: str = ""  # readback: regex the C body of the right ``if`` matches
    order: int = 50
    blank_after: bool = True  # a blank line after an inserted ``if``
    blank_before: bool = False  # a blank line before it (and its comment)
    owned_locals: tuple[str, ...] = ()
    #: readback: C spellings another site's rule may give a conjunct,
    #: ``(local, vocab C text)`` -- e.g. a snapshot local read instead of the field
    aliases: tuple[tuple[str, str], ...] = ()

    def known_comments(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.comments)

    def cond(self, site: Site, guard: Guard) -> str:
        """The C condition of the ``if`` for ``guard``."""
        return guard.c_not(site.vocab) if self.negated else guard.c(site.vocab)

    def comment_for(self, guard: Guard | None) -> str | None:
        for c in self.comments:
            if c.fits(guard):
                return c.text
        return None

    def rules(self, site: Site, value: Any, prefix: str, ctx: RuleContext) -> str:
        fn = site.function
        if self.label is not None:
            ctx.labels[self.label[0]] = fn
        follow = ("\n" + _ctx(self.follow)) if self.follow else ""
        body = _ctx(self.body)
        out: list[str] = []
        if value is None:
            if not self.removable:
                raise ShapeError(f"{site.name}: the guarded statement cannot be removed")
            gone = ctx.comment(None, self.known_comments())
            out.append(f"@{prefix}_gone@\nexpression E;\n@@\n {fn}(...)\n {{\n <+...\n"
                       f"-if (E)\n{_minus(self.body)}\n+{gone}{follow}\n ...+>\n }}\n")
            if self.anchor is not None:
                a = self.anchor
                pat = "\n".join(x for x in (_ctx(a.before), _ctx(a.after)) if x)
                out.append(f"@{prefix}_absent depends on !{prefix}_gone@\n{a.metavars}\n@@\n"
                           f" {fn}(...)\n {{\n <+...\n{pat}\n ...+>\n }}\n")
                out.append(_script(f"{prefix}_absent", site.name, "already"))
            out.append(_script(f"{prefix}_gone", site.name, "applied"))
            return "\n".join(out)

        cond = self.cond(site, value)
        cmt = ctx.comment(self.comment_for(value), self.known_comments())
        out.append(f"@{prefix}_done@\n@@\n {fn}(...)\n {{\n <+...\n if ({cond})\n{body}"
                   f"{follow}\n ...+>\n }}\n")
        out.append(f"@{prefix}_rw depends on !{prefix}_done@\nexpression E;\n@@\n"
                   f" {fn}(...)\n {{\n <+...\n+{cmt}\n if (\n-E\n+{cond}\n )\n{body}"
                   f"{follow}\n ...+>\n }}\n")
        rw_ok = f"{prefix}_rw"
        if self.anchor is not None and self.insert_body is not None:
            a = self.anchor
            new_if = f"if ({cond})\n" + _indent(self.insert_body(ctx.variant))
            parts = [f"@{prefix}_ins depends on !{prefix}_done && !{prefix}_rw@",
                     a.metavars, "@@", f" {fn}(...)", " {", " ..."]
            if a.before:
                parts.append(_ctx(a.before))
            if self.blank_before:
                parts.append("+PROBEFUZZ_BLANK();")
            parts += [f"+{cmt}", _plus(new_if)]
            if self.blank_after:
                parts.append("+PROBEFUZZ_BLANK();")
            if a.after:
                parts.append(_ctx(a.after))
            if self.label is not None:
                name, where = self.label
                parts += [" ...", f"+PROBEFUZZ_LABEL({name});", _ctx(where)]
            parts += [" ...", " }", ""]
            out.append("\n".join(parts))
            out.append(_script(f"{prefix}_ins", site.name, "applied"))
        out.append(_script(f"{prefix}_done", site.name, "already"))
        out.append(_script(rw_ok, site.name, "applied"))
        return "\n".join(out)


def _indent(c_text: str) -> str:
    """Indent a C body by one tab unless it is a braced block."""
    t = c_text.strip("\n")
    if t.startswith("{"):
        return t
    return "\n".join("\t" + ln for ln in t.splitlines())


@dataclass(frozen=True)
class Alternative:
    """One alternative of a choice site.

    * ``detect`` -- a complete SmPL rule body (metavariable section + ``@@`` +
      pattern, no header) that matches when the code already is this
      alternative;
    * ``transform`` -- one or more complete SmPL rules (with headers containing
      ``{p}``, the rule prefix, and ``{ctx:NAME}`` comment placeholders) that
      turn any other alternative into this one; ``{notdone}`` stands for
      "the detect rule did not match"; the rule named ``{p}_to`` is the one
      reported as ``applied``;
    * ``regex`` -- readback: matches the site's function text (whitespace
      collapsed to single spaces) exactly when the code is this alternative.
    """

    detect: str | Callable[[Variant], str]
    transform: str | Callable[[Variant], str]
    regex: str


@dataclass(frozen=True)
class ChoiceShape(Shape):
    """A choice site: one :class:`Alternative` per value."""

    alternatives: Mapping[str, Alternative]
    #: ``(variant) -> bool``: whether the choice has C in this variant at all
    when: Callable[[Variant], bool] | None = None
    #: named comments the transforms may place: ``{ctx:NAME}`` -> text
    comment_texts: Mapping[str, str] = field(default_factory=dict)
    order: int = 50
    owned_locals: tuple[str, ...] = ()

    def applicable(self, site: Site, variant: Variant) -> bool:
        return self.when is None or self.when(variant)

    def known_comments(self) -> tuple[str, ...]:
        return tuple(self.comment_texts.values())

    def rules(self, site: Site, value: Any, prefix: str, ctx: RuleContext) -> str:
        alt = self.alternatives.get(value)
        if alt is None:
            raise ShapeError(f"{site.name}: no C for alternative {value!r}")
        known = self.known_comments()

        def sub_comment(m: re.Match[str]) -> str:
            name = m.group(1)
            return ctx.comment(self.comment_texts.get(name), known)

        raw = alt.transform if isinstance(alt.transform, str) else alt.transform(ctx.variant)
        transform = re.sub(r"\{ctx:([\w.]+)\}", sub_comment, raw)
        transform = transform.replace("{p}", prefix).replace("{notdone}", f"!{prefix}_done")
        detect = alt.detect if isinstance(alt.detect, str) else alt.detect(ctx.variant)
        return "\n".join([
            _detect_rule(prefix, detect),
            transform.strip() + "\n",
            _script(f"{prefix}_done", site.name, "already"),
            _script(f"{prefix}_to", site.name, "applied"),
        ])


def _detect_rule(prefix: str, detect: str) -> str:
    d = detect.strip()
    if d.startswith("@exists@"):
        return f"@{prefix}_done exists@\n{d[len('@exists@'):].strip()}\n"
    return f"@{prefix}_done@\n{d}\n"


def shape_regex_alternative(shape: ChoiceShape, text: str) -> list[str]:
    """Readback for choice sites: the alternatives whose regex matches ``text``."""
    flat = " ".join(text.split())
    return [k for k, a in shape.alternatives.items() if re.search(a.regex, flat)]
