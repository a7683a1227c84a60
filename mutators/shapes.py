"""Coccinelle rules from the C shapes of the guard sites.

Each :class:`harness.sites.site.Site` carries a shape (its ``c`` field, a
dataclass of :mod:`harness.sites.shapes`); this module generates the
Coccinelle semantic patch of a :class:`GuardedIf` or a :class:`ChoiceShape`
for any value of the site (:mod:`mutators.smpl` lowers the other shapes to a
:class:`ChoiceShape` first).  Rules are *semantic*: they find the site by the shape of the code --
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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.sites.shapes import Alternative, Anchor, ChoiceShape, Comment, GuardedIf, Shape
from harness.sites.site import Site
from harness.variant import Variant

#: marker printed by the generated script rules: ``PROBEFUZZ<TAB>site<TAB>status``
MARKER = "PROBEFUZZ"


class ShapeError(ValueError):
    """A site value has no C rendering (e.g. removing a bus hook's claim)."""


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


def guarded_if_rules(shape: GuardedIf, site: Site, value: Any, prefix: str, ctx: RuleContext) -> str:
    """The rules that give the ``if`` of ``site`` the value ``value`` (a guard or None)."""
    fn = site.function
    if shape.label is not None:
        ctx.labels[shape.label[0]] = fn
    follow = ("\n" + _ctx(shape.follow)) if shape.follow else ""
    body = _ctx(shape.body)
    out: list[str] = []
    if value is None:
        if not shape.removable:
            raise ShapeError(f"{site.name}: the guarded statement cannot be removed")
        gone = ctx.comment(None, shape.known_comments())
        out.append(f"@{prefix}_gone@\nexpression E;\n@@\n {fn}(...)\n {{\n <+...\n"
                   f"-if (E)\n{_minus(shape.body)}\n+{gone}{follow}\n ...+>\n }}\n")
        if shape.anchor is not None:
            a = shape.anchor
            pat = "\n".join(x for x in (_ctx(a.before), _ctx(a.after)) if x)
            out.append(f"@{prefix}_absent depends on !{prefix}_gone@\n{a.metavars}\n@@\n"
                       f" {fn}(...)\n {{\n <+...\n{pat}\n ...+>\n }}\n")
            out.append(_script(f"{prefix}_absent", site.name, "already"))
        out.append(_script(f"{prefix}_gone", site.name, "applied"))
        return "\n".join(out)

    cond = shape.cond(site, value)
    cmt = ctx.comment(shape.comment_for(value), shape.known_comments())
    out.append(f"@{prefix}_done@\n@@\n {fn}(...)\n {{\n <+...\n if ({cond})\n{body}"
               f"{follow}\n ...+>\n }}\n")
    out.append(f"@{prefix}_rw depends on !{prefix}_done@\nexpression E;\n@@\n"
               f" {fn}(...)\n {{\n <+...\n+{cmt}\n if (\n-E\n+{cond}\n )\n{body}"
               f"{follow}\n ...+>\n }}\n")
    rw_ok = f"{prefix}_rw"
    if shape.anchor is not None and shape.insert_body is not None:
        a = shape.anchor
        new_if = f"if ({cond})\n" + _indent(shape.insert_body(ctx.variant))
        parts = [f"@{prefix}_ins depends on !{prefix}_done && !{prefix}_rw@",
                 a.metavars, "@@", f" {fn}(...)", " {", " ..."]
        if a.before:
            parts.append(_ctx(a.before))
        if shape.blank_before:
            parts.append("+PROBEFUZZ_BLANK();")
        parts += [f"+{cmt}", _plus(new_if)]
        if shape.blank_after:
            parts.append("+PROBEFUZZ_BLANK();")
        if a.after:
            parts.append(_ctx(a.after))
        if shape.label is not None:
            name, where = shape.label
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


def choice_rules(shape: ChoiceShape, site: Site, value: Any, prefix: str, ctx: RuleContext) -> str:
    """The rules that turn the code of ``site`` into the alternative ``value``."""
    alt = shape.alternatives.get(value)
    if alt is None:
        raise ShapeError(f"{site.name}: no C for alternative {value!r}")
    known = shape.known_comments()

    def sub_comment(m: re.Match[str]) -> str:
        name = m.group(1)
        return ctx.comment(shape.comment_texts.get(name), known)

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


__all__ = ["MARKER", "Alternative", "Anchor", "ChoiceShape", "Comment", "CommentFix", "GuardedIf",
           "RuleContext", "Shape", "ShapeError", "choice_rules", "guarded_if_rules",
           "shape_regex_alternative"]


def shape_regex_alternative(shape: ChoiceShape, text: str) -> list[str]:
    """Readback for choice sites: the alternatives whose regex matches ``text``."""
    flat = " ".join(text.split())
    return [k for k, a in shape.alternatives.items() if re.search(a.regex, flat)]
