"""Build the Coccinelle semantic patches of a variant, one per kernel file.

Each guard site's shape (``Site.c``, see :mod:`mutators.smpl`) generates
the rules for the site's value in the variant; the rules of all sites that
live in the same file are concatenated (in ``Shape.order``, then declaration
order) so that spatch runs once per file and later rules see the result of
earlier ones (e.g. the late-probe WARN goes after the ops lookup that 2/4
moves into ``iommu_init_device``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.variant import SITES, Site, Variant
from mutators.shapes import RuleContext, ShapeError
from mutators.smpl import site_rules


class RuleError(Exception):
    """A rule could not be generated or did not apply; ``str(e)`` is one line."""


@dataclass
class FileRules:
    """The semantic patch for one file and what fixups need to finish it."""

    file: str  # path relative to the tree root
    sites: list[str]
    smpl: str
    ctx: RuleContext


@dataclass
class Plan:
    """What applying a variant does: per-file rules, and sites with no C."""

    variant: Variant
    files: list[FileRules] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # site -> reason


def _prefix(i: int) -> str:
    return f"s{i}"


def site_order(site: Site) -> int:
    return site.c.order if site.c is not None else 1000


def plan(variant: Variant, locations: dict[str, str] | None = None,
         only: set[str] | None = None) -> Plan:
    """Generate the rules of ``variant``.

    ``locations`` maps a site to the file its function lives in (default: the
    site's declared file); ``only`` restricts to some sites.
    """
    out = Plan(variant)
    by_file: dict[str, list[tuple[int, int, Site]]] = {}
    for idx, (name, site) in enumerate(SITES.items()):
        if only is not None and name not in only:
            continue
        value = variant.value(name)
        if site.c is None:
            if value != site.v614:
                raise RuleError(f"site {name} has no Coccinelle rule, so its value "
                                f"{value!r} cannot be applied")
            out.skipped[name] = "no C rule (value as in v6.14)"
            continue
        if not site.c.applicable(site, variant):
            out.skipped[name] = "not applicable in this variant"
            continue
        f = (locations or {}).get(name, site.file)
        by_file.setdefault(f, []).append((site_order(site), idx, site))
    for f, entries in by_file.items():
        ctx = RuleContext(variant)
        chunks = []
        names = []
        for _order, idx, site in sorted(entries, key=lambda e: (e[0], e[1])):
            assert site.c is not None
            ctx.owned_locals.update(site.c.owned_locals)
            try:
                chunks.append(f"// site {site.name} = {variant.value(site.name)!r}\n"
                              + site_rules(site, variant.value(site.name), _prefix(idx), ctx))
            except ShapeError as e:
                raise RuleError(str(e)) from None
            names.append(site.name)
        out.files.append(FileRules(f, names, "\n".join(chunks), ctx))
    return out
