"""Fix families: variants that make the same change at the same site.

Two variants are one family when they touch the same guard sites in the same
direction: adding ``&& dev->dma_range_map`` or ``&& dev->iommu_group`` to the
guard of the ``dma_configure`` call in ``iommu_init_device()``, or removing the
call, are one idea ("call it in fewer cases"), and a maintainer looking for
alternatives wants the best of that idea once, not five times.  The family is
computed from the sites' values (the variant JSON of :mod:`harness.variant`),
never from a variant's id, whose spelling is a presentation matter.

Directions of a guard change (``if (A && B) stmt;``):

* ``fewer``: the statement runs in fewer cases (a conjunct added, or the
  guarded statement removed);
* ``more``: it runs in more cases (a conjunct dropped, or a statement added);
* ``negate``: a conjunct negated in place (neither a subset nor a superset);

A choice site (where a driver publishes its state, which lock is held) is one
decision: any other alternative there is the same idea, "decide differently
at this point", and the family says which alternatives its members pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.variant import SITES

DIRECTION_WORDS = {"fewer": "in fewer cases", "more": "in more cases", "negate": "with a negated test"}


@dataclass(frozen=True)
class Change:
    """One site whose value differs from the base's."""

    site: str
    function: str
    doc: str
    direction: str  # "fewer", "more", "negate", "choice"
    before: str
    after: str

    def to_json(self) -> dict[str, str]:
        return {"site": self.site, "function": self.function, "direction": self.direction,
                "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Family:
    """A fix family: the sites a variant changes and in which direction."""

    key: tuple[tuple[str, str], ...]  # sorted (site, direction); () for the base
    label: str

    @property
    def empty(self) -> bool:
        return not self.key


BASE_FAMILY = Family((), "no change")


def _text(raw: Any) -> str:
    if raw is None:
        return "(absent)"
    if isinstance(raw, dict) and isinstance(raw.get("guard"), list):
        return "if (" + " && ".join(str(p) for p in raw["guard"]) + ")" if raw["guard"] else "if (1)"
    return str(raw)


def _direction(before: Any, after: Any, kind: str) -> str:
    if kind == "choice" or not (before is None or isinstance(before, dict)) \
            or not (after is None or isinstance(after, dict)):
        return "choice"
    if after is None:
        return "fewer"  # the guarded statement removed: it runs in no case
    if before is None:
        return "more"  # a statement put back: it runs where it did not
    b, a = set(before.get("guard", [])), set(after.get("guard", []))
    if b < a:
        return "fewer"  # && one more condition
    if a < b:
        return "more"  # one condition less
    return "negate"


def changes(base: dict[str, Any], variant: dict[str, Any]) -> tuple[Change, ...]:
    """The sites where ``variant`` differs from ``base`` (both ``variant_to_json`` dicts)."""
    bs, vs = base.get("sites", {}), variant.get("sites", {})
    out = []
    for name in sorted(set(bs) | set(vs)):
        before, after = bs.get(name), vs.get(name)
        if before == after:
            continue
        site = SITES.get(name)
        kind = site.kind if site is not None else "guard"
        out.append(Change(name, site.function if site is not None else name.split(".")[0],
                          site.doc if site is not None else "", _direction(before, after, kind),
                          _text(before), _text(after)))
    return tuple(out)


def family(ch: tuple[Change, ...]) -> Family:
    """The family of a variant that makes the changes ``ch``."""
    if not ch:
        return BASE_FAMILY
    key = tuple(sorted((c.site, c.direction) for c in ch))
    parts = []
    for c in sorted(ch, key=lambda c: c.site):
        what = c.doc or c.site
        if c.direction == "choice":
            parts.append(f"{c.function}(): {what}, decided differently")
        else:
            parts.append(f"{c.function}(): {what}, {DIRECTION_WORDS[c.direction]}")
    return Family(key, "; ".join(parts))


def change_words(c: Change) -> str:
    """One line: ``rk_iommu_probe(): where ... : after_register -> before_register``."""
    return f"{c.function}(): {c.doc or c.site}: {c.before} -> {c.after}"
