"""Split a variant's change to a tree into logical patches (pure; no git here).

Each changed guard site is classified against two references:

* the *tree* value (read back from the base C with :mod:`mutators.readback`);
* the *reference* variant the finding was seen under (``NEXT`` for the seed,
  or the ``base`` of an ``explore`` ranking).

A site whose tree value already is the reference's, and which the variant
changes, is a **fix** (what avoids the finding).  A site the tree does not
have as in the reference yet is a **port**: the reference's own change,
carried into this tree (possibly modified by the variant).

Fix sites are grouped per file (one subsystem's change per patch); port
sites per patch of the series that introduced them (``Site.patch``: those
changes only work together, so splitting them would break bisection), and
per file when a site has no series patch.  Ports come first: the fix goes on
top of the change it fixes (ports are only ever re-created for testing; the
user's series holds the fixes alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.variant import SITES, Variant

FIX = "fix"
PORT = "port"


@dataclass
class Unit:
    """One patch of the series: a logical change over some sites."""

    kind: str  # FIX or PORT
    key: str  # file (fix / port without series patch) or series patch tag ("4/4")
    sites: list[str]
    #: port sites whose value the variant changes from the reference's
    modified: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # filled once committed

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "sites": list(self.sites),
                "modified": list(self.modified), "files": list(self.files)}


def classify(site: str, tree_value: Any, target: Variant, reference: Variant,
             known: bool = True) -> str:
    """FIX or PORT for one changed site (``known``: the tree value could be read)."""
    if not known:
        return FIX if target.value(site) != reference.value(site) else PORT
    return FIX if tree_value == reference.value(site) else PORT


def _patch_order(tag: str) -> tuple[int, str]:
    head = tag.split("/", 1)[0]
    return (int(head) if head.isdigit() else 1000, tag)


def split(changed: list[str], tree_values: dict[str, Any], target: Variant,
          reference: Variant) -> list[Unit]:
    """The logical patches for the ``changed`` sites, in series order.

    ``tree_values`` maps a site to its value in the base tree; a missing key
    means the value could not be read back (the site is then a fix exactly
    when the variant differs from the reference there).
    """
    order = {name: i for i, name in enumerate(SITES)}
    fixes: dict[str, Unit] = {}
    ports: dict[str, Unit] = {}
    for name in sorted(changed, key=lambda n: order[n]):
        site = SITES[name]
        kind = classify(name, tree_values.get(name), target, reference, name in tree_values)
        if kind == FIX:
            u = fixes.setdefault(site.file, Unit(FIX, site.file, []))
        else:
            key = site.patch or site.file
            u = ports.setdefault(key, Unit(PORT, key, []))
            if target.value(name) != reference.value(name):
                u.modified.append(name)
        u.sites.append(name)
    out = sorted(ports.values(), key=lambda u: _patch_order(u.key))
    out += sorted(fixes.values(), key=lambda u: u.key)
    return out
