"""harness.inputs: the checks every input file goes through."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.inputs import MAX_DEPTH, nesting_depth


def _reference_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The character-by-character state machine nesting_depth replaced."""
    depth = deepest = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def test_brackets_inside_strings_do_not_count() -> None:
    assert nesting_depth('{"a": "[[[{{{", "b": [1, [2]]}') == 3
    assert nesting_depth(r'["\"[[[", ["x"]]') == 2
    assert nesting_depth(r'["\\", [[1]]]') == 3  # an escaped backslash ends the string


def test_unterminated_string_hides_the_rest() -> None:
    assert nesting_depth('[["abc [[[[') == 2
    assert nesting_depth('[["abc\\') == 2


def test_stops_counting_over_the_limit() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    assert nesting_depth(deep) == MAX_DEPTH + 1
    assert nesting_depth(deep, limit=3) == 4


def test_a_real_json_document() -> None:
    doc = {"nodes": [{"path": "/soc/iommu@fe043000", "props": {"reg": [0, 1], "s": "]]"}}]}
    assert nesting_depth(json.dumps(doc)) == 5


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}"\\ ab\n', max_size=80), st.integers(min_value=0, max_value=8))
def test_agrees_with_the_state_machine(text: str, limit: int) -> None:
    assert nesting_depth(text, limit) == _reference_depth(text, limit)
