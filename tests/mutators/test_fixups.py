"""mutators.fixups: layout repairs of Coccinelle's output."""

from __future__ import annotations

from harness.variant import V614
from mutators.fixups import fixup
from mutators.shapes import RuleContext

ORIGINAL = """\
int f(void)
{
\tret = g();
\tif (ret)
\t\treturn ret;

\treturn 0;
}
"""

# what spatch prints for an if/else it added after the call
PATCHED = """\
int f(void)
{
\tret = g();
\tif (ret)
\t\treturn ret;
\tif (a) {
\t\tb();
\t}
\telse {
\t\tc();
\t}

\treturn 0;
}
"""


def test_added_else_joins_its_closing_brace() -> None:
    out = fixup(ORIGINAL, PATCHED, RuleContext(V614))
    assert "\t} else {\n\t\tc();" in out
    assert "\n\telse" not in out


def test_else_already_in_the_original_is_left_alone() -> None:
    # only lines the rules added are touched
    original = PATCHED.replace("\tret = g();\n", "")
    patched = PATCHED
    out = fixup(original, patched, RuleContext(V614))
    assert "\t}\n\telse {" in out
