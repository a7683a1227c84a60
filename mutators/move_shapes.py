"""C shape of a *placement* site: where one ``if (E) S`` statement of a
function sits relative to another step (a WARN before or after the call it
guards, a configure call before or after an allocation).

Each alternative names an anchor statement and a side; the rules find the
``if`` (by a pattern binding ``E`` and ``@p``), remove it where it is and put
it right before/after the anchor, carrying its comment along (the comment
placeholder of the new place gets the text, the old one removes a known
comment above it).  The ``if`` may be above or below the anchor, so there is
a rule for each direction, and each reports ``applied`` on its own.
The site declares a :class:`harness.sites.shapes.MoveIf`.
"""

from __future__ import annotations

from typing import Any

from harness.sites.shapes import Alternative, ChoiceShape, MoveIf, Place
from mutators.shapes import MARKER, _indent, _minus, _plus


def _ctx(smpl: str) -> str:
    return "\n".join(ln if ln in ("(", "|", ")") else " " + ln for ln in smpl.strip().splitlines())


def move_if(shape: MoveIf) -> ChoiceShape:
    """The choice between the places of a placement site: rules that move the
    ``if`` matched by ``find`` (an SmPL statement pattern whose condition is
    the metavariable ``E``, or a function of the variant giving one) to each
    place, re-emitting it as ``if (E)`` + ``body(variant)`` (C text).

    ``comment(variant)`` names the ``{ctx:NAME}`` comment that goes with the
    moved statement (a key of ``comment_texts``).
    """
    site, function, find, body = shape.site, shape.function, shape.find, shape.body
    places, comment, comment_texts = shape.places, shape.comment, shape.comment_texts
    when, order = shape.when, shape.order

    def _find(v: Any) -> str:
        return find if isinstance(find, str) else find(v)

    alts: dict[str, Alternative] = {}
    for name, pl in places.items():
        def transform(v: Any, pl: Place = pl) -> str:
            cmt = "+{ctx:" + comment(v) + "}\n" if comment is not None else ""
            new = f"{cmt}{_plus('if (E)' + chr(10) + _indent(body(v)))}\n+PROBEFUZZ_BLANK();\n"
            anchor = _ctx(pl.anchor)
            at = f"{anchor}\n{new}" if pl.after else f"{new}{anchor}\n"
            mv = f"expression E;\n{pl.metavars}\n"
            old = f"{_minus(_find(v))}\n+{{ctx:gone}}\n"
            return (f"@{{p}}_down depends on {{notdone}}@\n{mv}@@\n {function}(...)\n {{\n ...\n"
                    f"{old} ...\n{at} ...\n }}\n\n"
                    f"@{{p}}_to depends on {{notdone}} && !{{p}}_down@\n{mv}@@\n {function}(...)\n"
                    f" {{\n ...\n{at} ...\n{old} ...\n }}\n\n"
                    f"@script:python depends on {{p}}_down@\n@@\n"
                    f'print("{MARKER}\\t{site}\\tapplied")\n')
        def detect(v: Any, pl: Place = pl) -> str:
            # earlier rules of the same spatch run leave placeholder statements
            # (comments, blank lines) between the two: they do not count
            gaps = ("", " ph1(...);\n", " ph1(...);\n ph2(...);\n")
            first, second = ((_ctx(_find(v)), _ctx(pl.anchor)) if not pl.after
                             else (_ctx(pl.anchor), _ctx(_find(v))))
            at = "\n|\n".join(f"{first}\n{gap}{second}" for gap in gaps)
            return (f"expression E;\nidentifier ph1 =~ \"^PROBEFUZZ_\";\n"
                    f"identifier ph2 =~ \"^PROBEFUZZ_\";\n{pl.metavars}\n@@\n"
                    f" {function}(...)\n {{\n <+...\n(\n{at}\n)\n ...+>\n }}\n")
        alts[name] = Alternative(
            detect=detect,
            transform=transform, regex=pl.regex)
    return ChoiceShape(alternatives=alts, when=when, comment_texts=dict(comment_texts or {}),
                       order=order)


__all__ = ["Place", "move_if"]
