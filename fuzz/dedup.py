"""Deduplicate findings by title, with alternative titles (as syzkaller does).

A bug is a *bucket* of titles: a finding joins the bucket that already holds
its title or one of its ``alt_titles`` (the same NULL dereference reached
through another caller, say), and its own titles join that bucket.  The
canonical title of a bucket is the first one seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.findings import Finding


@dataclass
class Bucket:
    """One deduplicated bug."""

    title: str
    kind: str
    titles: set[str] = field(default_factory=set)
    count: int = 0


class Deduper:
    """Title -> bucket, across boards, runs and engines."""

    def __init__(self) -> None:
        self.buckets: list[Bucket] = []
        self._by_title: dict[str, Bucket] = {}

    def bucket_of(self, f: Finding) -> Bucket | None:
        for t in (f.title, *f.alt_titles):
            b = self._by_title.get(t)
            if b is not None:
                return b
        return None

    def add(self, f: Finding) -> tuple[Bucket, bool]:
        """Record ``f``; returns its bucket and whether the bug is new."""
        b = self.bucket_of(f)
        new = b is None
        if b is None:
            b = Bucket(f.title, f.kind)
            self.buckets.append(b)
        b.count += 1
        for t in (f.title, *f.alt_titles):
            b.titles.add(t)
            self._by_title.setdefault(t, b)
        return b, new

    def canonical(self, title: str) -> str:
        b = self._by_title.get(title)
        return b.title if b is not None else title

    def __len__(self) -> int:
        return len(self.buckets)


def same_bug(f: Finding, title: str) -> bool:
    """Whether ``f`` is the bug titled ``title`` (its title or an alt title)."""
    return f.title == title or title in f.alt_titles
