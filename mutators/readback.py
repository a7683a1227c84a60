"""Read a site's value back out of (patched) C, independently of Coccinelle.

The agreement check: after spatch applied a variant, this module parses the
site's function with plain text scanning -- find the ``if`` whose body matches
the shape's ``body_regex``, split its condition at top-level ``&&`` (or ``||``
for early-return shapes) and map each conjunct back to the site's vocabulary
-- and returns the :class:`Guard` the C implements.  Choice sites are read
with their alternatives' regexes.  If the model value and the value read back
differ, model and patch have drifted apart.
"""

from __future__ import annotations

import re
from typing import Any

from harness.variant import Guard, Pred, Site
from mutators.shapes import ChoiceShape, GuardedIf, shape_regex_alternative
from mutators.smpl import lower


class ReadbackError(ValueError):
    """The C at a site cannot be mapped to a site value."""


def strip_comments(c: str) -> str:
    c = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), c, flags=re.S)
    return re.sub(r"//[^\n]*", "", c)


def _match_close(text: str, i: int, open_: str, close: str) -> int:
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_:
            depth += 1
        elif text[j] == close:
            depth -= 1
            if depth == 0:
                return j
    raise ReadbackError(f"unbalanced {open_}{close}")


def function_bodies(c: str, name: str) -> list[str]:
    """Text of every definition of ``name`` (header + body), comments removed."""
    c = strip_comments(c)
    out = []
    for m in re.finditer(rf"^[A-Za-z_][^\n;]*\b{re.escape(name)}\(", c, flags=re.M):
        paren = c.index("(", m.end() - 1)
        close = _match_close(c, paren, "(", ")")
        rest = c[close + 1:]
        brace = re.match(r"\s*\{", rest)
        if not brace:
            continue  # a prototype
        start = close + 1 + brace.end() - 1
        end = _match_close(c, start, "{", "}")
        out.append(c[m.start():end + 1])
    return out


def _split_top(cond: str, op: str) -> list[str]:
    parts, depth, cur, i = [], 0, "", 0
    while i < len(cond):
        ch = cond[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and cond.startswith(op, i):
            parts.append(cur)
            cur = ""
            i += len(op)
            continue
        cur += ch
        i += 1
    parts.append(cur)
    return [" ".join(p.split()) for p in parts]


def _conjunct(site: Site, text: str, negated: bool) -> Pred:
    if isinstance(site.c, GuardedIf):
        for local, field in site.c.aliases:
            text = re.sub(rf"\b{re.escape(local)}\b", field, text)
    for name in site.vocab:
        for neg in (False, True):
            p = Pred(name, neg)
            if (p.c_not(site.vocab) if negated else p.c(site.vocab)) == text:
                return p
    raise ReadbackError(f"{site.name}: {text!r} is not a predicate of the site")


def read_guard(site: Site, c: str) -> Guard | None:
    """The guard of ``site`` as written in ``c`` (None: the statement is absent)."""
    shape = site.c
    if not isinstance(shape, GuardedIf):
        raise ReadbackError(f"{site.name}: not a guard site")
    found: list[Guard] = []
    for body in function_bodies(c, site.function):
        inside = -1  # the end of the last candidate's { block
        for m in re.finditer(r"\bif\s*\(", body):
            if m.start() < inside:
                continue  # a re-test inside the guarded block (e.g. under a lock)
            open_ = body.index("(", m.start())
            close = _match_close(body, open_, "(", ")")
            if not re.match(shape.body_regex, body[close + 1:]):
                continue
            if body[close + 1:].lstrip().startswith("{"):
                inside = _match_close(body, body.index("{", close), "{", "}")
            cond = " ".join(body[open_ + 1:close].split())
            if cond == ("0" if shape.negated else "1"):
                found.append(Guard(()))
                continue
            parts = _split_top(cond, "||" if shape.negated else "&&")
            found.append(Guard(tuple(_conjunct(site, p, shape.negated) for p in parts)))
    if len(found) > 1:
        raise ReadbackError(f"{site.name}: {len(found)} candidate statements in {site.function}")
    return found[0] if found else None


def read_choice(site: Site, c: str) -> str:
    shape = lower(site.c) if site.c is not None else None
    if not isinstance(shape, ChoiceShape):
        raise ReadbackError(f"{site.name}: not a choice site")
    hits: set[str] = set()
    for body in function_bodies(c, site.function):
        hits.update(shape_regex_alternative(shape, body))
    if len(hits) != 1:
        raise ReadbackError(f"{site.name}: C matches {sorted(hits) or 'no'} alternative(s)")
    return hits.pop()


def read_value(site: Site, c: str) -> Any:
    if site.kind == "choice":
        return read_choice(site, c)
    return read_guard(site, c)
