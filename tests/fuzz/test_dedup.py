"""Deduplication by title with alternative titles."""

from __future__ import annotations

from fuzz.dedup import Deduper, same_bug
from harness.findings import Finding


def f(title: str, *alt: str, kind: str = "oops") -> Finding:
    return Finding(kind=kind, title=title, function="x", device=None, trace=[], alt_titles=list(alt))


def test_same_title_is_one_bug() -> None:
    d = Deduper()
    b1, new1 = d.add(f("BUG: a"))
    b2, new2 = d.add(f("BUG: a"))
    assert new1 and not new2 and b1 is b2 and b1.count == 2 and len(d) == 1


def test_alt_titles_join_buckets_both_ways() -> None:
    d = Deduper()
    d.add(f("BUG: in foo", "BUG: in bar"))
    b, new = d.add(f("BUG: in bar"))
    assert not new and b.title == "BUG: in foo"
    # a later finding whose alt title is an earlier title joins too
    b2, new2 = d.add(f("WARNING in baz", "BUG: in foo"))
    assert not new2 and b2 is b
    assert d.canonical("WARNING in baz") == "BUG: in foo"
    _, new3 = d.add(f("WARNING in other", kind="warning"))
    assert new3 and len(d) == 2


def test_same_bug() -> None:
    assert same_bug(f("A", "B"), "B") and same_bug(f("A"), "A") and not same_bug(f("A"), "B")
