"""Build the Coccinelle semantic patches of a variant, one per kernel file.

Each guard site's shape (``Site.c``, see :mod:`mutators.smpl`) generates
the rules for the site's value in the variant; the rules of all sites that
live in the same file are concatenated (in ``Shape.order``, then declaration
order) so that spatch runs once per file and later rules see the result of
earlier ones (e.g. the late-probe WARN goes after the ops lookup that 2/4
moves into ``iommu_init_device``).
"""

from __future__ import annotations

import re
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
                chunks.append(f"// site {site.name}\n"
                              + site_rules(site, variant.value(site.name), _prefix(idx), ctx))
            except ShapeError as e:
                raise RuleError(str(e)) from None
            names.append(site.name)
        out.files.append(FileRules(f, names, "\n".join(chunks), ctx))
    return out


# -- the series' semantic patch, in the form scripts/coccicheck runs ---------------

#: the placeholders probefuzz's fixups turn into comments, blank lines and labels
_PLACEHOLDER = re.compile(r"^\+\s*PROBEFUZZ_\w+\(.*\);\s*$")
_HEADER = re.compile(r"^@(\w+)(?:\s+depends on\s+(.*?))?(\s+exists|\s+forall)?@$")
_FUNC_LINE = re.compile(r"^ (\w+)\(\.\.\.\)\s*$")


def _rule_chunks(smpl: str) -> list[str]:
    return [c.strip("\n") for c in re.split(r"\n(?=@[^@])", smpl) if c.strip()]


def _changes_code(chunk: str) -> bool:
    body = chunk.split("@@", 2)[-1] if chunk.count("@@") else chunk
    return any(ln[:1] in "+-" for ln in body.splitlines()[1:])


def _with_dep(header: str, dep: str, name: str | None = None) -> str:
    m = _HEADER.match(header)
    if m is None:
        raise RuleError(f"unexpected SmPL rule header: {header}")
    cond = f"{dep} && ({m.group(2)})" if m.group(2) else dep
    return f"@{name or m.group(1)} depends on {cond}{m.group(3) or ''}@"


def _report_rule(chunk: str, message: str) -> list[str]:
    """The report-mode twin of a transform rule: match the old code, print where."""
    head, _, rest = chunk.partition("\n")
    meta, sep, body = rest.partition("@@\n")
    if not sep:
        return []
    m = _HEADER.match(head)
    if m is None:
        return []
    name = f"{m.group(1)}_r"
    lines = [ln for ln in body.splitlines() if not ln.startswith("+")]
    lines = [" " + ln[1:] if ln.startswith("-") else ln for ln in lines]
    if "position p;" not in meta:
        at = next((i for i, ln in enumerate(lines) if _FUNC_LINE.match(ln)), None)
        if at is None:
            return []  # nothing to hang a position on: patch mode only
        lines[at] = _FUNC_LINE.sub(r" \1@p(...)", lines[at])
        meta = meta + "position p;\n"
    text = message.replace("\\", "\\\\").replace('"', '\\"')
    return [f"{_with_dep(head, 'report', name)}\n{meta}@@\n" + "\n".join(lines),
            f"@script:python depends on report@\np << {name}.p;\n@@\n\n"
            f'coccilib.report.print_report(p[0], "{text}")']


def coccicheck_form(smpl: str, description: str, message: str, comments: list[str],
                    confidence: str = "Moderate") -> str:
    """One ``.cocci`` that ``make coccicheck MODE=report|patch COCCI=...`` runs.

    ``smpl`` is the concatenated rules probefuzz ran; probefuzz's markers (the
    ``// site`` lines and the python rules that print the outcome) and its
    placeholder statements are left out, rules that change code run in patch
    mode only, and each gets a report-mode twin that prints ``message`` at the
    function it would change.
    """
    out = [f"/// {ln}" for ln in description.splitlines()]
    out += ["///", f"// Confidence: {confidence}"]
    out += [f"// Comments: {ln}" for ln in comments]
    out += ["// Options: --no-includes --include-headers", "", "virtual patch",
            "virtual report", ""]
    for chunk in _rule_chunks(smpl):
        lines = [ln for ln in chunk.splitlines() if not ln.startswith("// site")]
        if not lines or lines[0].startswith("@script:"):
            continue
        chunk = "\n".join(ln for ln in lines if not _PLACEHOLDER.match(ln))
        if not _changes_code(chunk):
            out += [chunk, ""]
            continue
        head, _, rest = chunk.partition("\n")
        out += [f"{_with_dep(head, 'patch')}\n{rest}", ""]
        out += [r + "\n" for r in _report_rule(chunk, message)]
    return "\n".join(out).rstrip("\n") + "\n"
