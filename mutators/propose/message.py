"""Kernel-style commit messages and the cover letter (pure text, no git).

What goes in follows Documentation/process/submitting-patches.rst and the
rules for tool-generated patches: the problem (finding title and a trimmed
call trace, no timestamps), the change and why it is safe, the evidence, the
tool and version, the Coccinelle input that produced the change and how it
was tested, then the trailers in the usual order -- ``Fixes:``,
``Reported-by:`` immediately followed by ``Closes:``, ``Link:`` -- and a
``Signed-off-by:`` only when the human asked for theirs.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from harness.variant import SITES, Guard, Site, Variant, render_value
from mutators.propose.evidence import Evidence, Run
from mutators.propose.fixes import FixesTag
from mutators.propose.series import FIX, Unit

WIDTH = 72
TOOL = "probefuzz"
_VERBS = {"run", "replay", "skip", "use", "set", "take", "call", "hold", "drop", "free", "move"}


@dataclass
class Trailers:
    reported_by: str | None = None
    closes: str | None = None
    link: str | None = None
    signoff: str | None = None  # "Name <addr>" of the human, never invented


@dataclass
class PatchText:
    """Everything one commit message needs."""

    unit: Unit
    prefix: str
    tree_values: dict[str, Any]
    target: Variant
    reference: Variant
    evidence: Evidence | None
    rules: str  # the SmPL that produced the change
    tool_version: str
    spatch_version: str
    #: the base, by subject: '"subject" (the base-commit below)'.  No hash in the body:
    #: checkpatch wants ``commit <sha> ("title")`` on at most two lines, which a
    #: wrapped paragraph cannot promise; the hash is in format-patch's base-commit.
    base: str
    fixes: FixesTag | None = None
    trailers: Trailers = field(default_factory=Trailers)
    index: int = 1
    total: int = 1


def _words(alt: str) -> str:
    known = {s.function for s in SITES.values()}
    if alt in known or alt.startswith("__"):
        return f"in {alt}()"
    w = alt.replace("_", " ")
    return re.sub(r"\b(before|after) register\b", r"\1 registering", w)


def _imperative(text: str) -> str:
    m = re.match(r"(the [\w ]+?) (?:is|are) (\w+?)d (.*)", text)
    if m:  # "the ops are resolved from X" -> "resolve the ops from X"
        return f"{m.group(2)} {m.group(1)} {m.group(3)}"
    # a subject names the change, not what reads the state: drop "(read by ...)"
    while re.search(r"\([^()]*\)", text):
        text = re.sub(r"\s*\([^()]*\)", "", text)
    # "resets X and probes Y" -> "resets X and probe Y" (the first verb follows)
    text = re.sub(r" and ([a-z]+[^s])s ", r" and \1 ", text)
    first, _, rest = text.partition(" ")
    if first.endswith("s") and first[:-1] in _VERBS:
        return f"{first[:-1]} {rest}"
    # third person -> imperative: "publishes" -> "publish", "populates" -> "populate"
    if re.fullmatch(r"[a-z]+(sh|ch|x|ss|z)es", first):
        return f"{first[:-2]} {rest}"
    if re.fullmatch(r"[a-z]+[^s]s", first):
        return f"{first[:-1]} {rest}"
    return text


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _conds(site: Site, g: Guard) -> list[str]:
    return [p.c(site.vocab) for p in g.conj]


def summary(name: str, old: Any, new: Any) -> str:
    """One imperative line for a site change (a subject when it is the only one)."""
    site = SITES[name]
    doc = site.doc
    verb = doc.split(" ", 1)[0] in _VERBS
    if site.kind == "choice":
        if doc.startswith("where "):
            rest = doc[len("where "):].removeprefix(f"{site.function}() ")
            return _cap(f"{_imperative(rest)} {_words(str(new))}")
        return _cap(f"{doc}: {_words(str(new))}")
    if new is None:
        return f"Don't {doc}" if verb else f"Remove {doc}"
    if old is None or not isinstance(old, Guard):
        return _cap(doc) if verb else f"Add {doc}"
    add = [c for c in _conds(site, new) if c not in _conds(site, old)]
    drop = [c for c in _conds(site, old) if c not in _conds(site, new)]
    where = f"in {site.function}()"
    if add and drop:
        return f"Test {' && '.join(add)} instead of {' && '.join(drop)} {where}"
    if add:
        return f"Also test {' && '.join(add)} {where}"
    return f"Stop testing {' && '.join(drop)} {where}"


def subject(p: PatchText) -> str:
    first = p.unit.sites[0]
    return f"{p.prefix}: {summary(first, p.tree_values.get(first), p.target.value(first))}"


def _fill(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def _bullet(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent="- ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


def _findings(run: Run) -> str:
    if run.clean:
        return "no findings"
    kinds = ", ".join(f"{n} {k}" for k, n in run.counts.items() if n)
    return f"{kinds}: {'; '.join(run.titles)}"


def problem_lines(ev: Evidence, reference: Variant) -> list[str]:
    pr = ev.problem
    if pr is None:
        return []
    out = _fill(f"Booting {pr.model or pr.board} ({pr.board}) with {reference.name} "
                f"({reference.description}) in probefuzz's model of the probe path ends "
                f"in {'an' if pr.kind[0] in 'aeiou' else 'a'} {pr.kind}:")
    out += ["", f"  {pr.title}"]
    if pr.device:
        out.append(f"  device: {pr.device}")
    msg = pr.message
    if len(msg) > WIDTH - 2:  # "... at virtual address 3e8 (->numa_node)": drop the aside
        msg = msg.split(" (", 1)[0]
    if msg and len(msg) <= WIDTH - 2:
        out.append(f"  {msg}")
    out += ["  Call trace:"] + [f"   {fn}" for fn in pr.trace]
    if pr.omitted:
        out += ["", *_fill(f"({pr.omitted} outer frames of the generic driver registration "
                           "and initcall path omitted.)")]
    return out


def _wrap_pre(line: str) -> list[str]:
    if len(line) <= WIDTH:
        return [line]
    lead = " " * (len(line) - len(line.lstrip()) + 2)
    return textwrap.wrap(line, WIDTH, subsequent_indent=lead, break_long_words=False)


def change_lines(p: PatchText) -> list[str]:
    """Per site: where, what it is, the C before and after."""
    out: list[str] = []
    for name in p.unit.sites:
        s = SITES[name]
        new = render_value(s, p.target.value(name))
        old = render_value(s, p.tree_values[name]) if name in p.tree_values else "(as in the tree)"
        out += _bullet(f"{s.function}() in {s.file} ({s.doc}):")
        out += _wrap_pre(f"    was: {old}") + _wrap_pre(f"    now: {new}")
    return out


def why_lines(p: PatchText) -> list[str]:
    ev, u = p.evidence, p.unit
    out: list[str] = []
    if u.kind == FIX:
        fns = list(dict.fromkeys(SITES[s].function for s in u.sites))
        out += _fill(f"Only {', '.join(f + '()' for f in fns)} changes; everything else "
                     f"stays as in {p.reference.name}.")
        pr = ev.problem if ev is not None else None
        on_trace = [f for f in fns if pr is not None and f in pr.trace]
        if pr is not None and on_trace:
            f = on_trace[0]
            out += _fill(f"{f}() is on the call trace above, {pr.trace.index(f)} frames out "
                         f"from {pr.trace[0]}(): the change is in a function on the path "
                         "that faults.")
    else:
        tag = f"patch {u.key} of " if "/" in u.key else ""
        together = (" The sites changed here only work together, so they stay in one patch "
                    "to keep the series bisectable.") if len(u.sites) > 1 else ""
        out += _fill(f"This carries {tag}the change in {p.reference.name} "
                     f"({p.reference.description}) into this tree.{together}")
        out += [""] + _fill("It is re-created from probefuzz's declarations of those sites, "
                            "not the original patch: where the original exists, send it, "
                            "with its author, instead of this one.")
        if u.modified:
            out += [""] + _fill("It differs from that change at "
                                + ", ".join(u.modified) + ", as the variant asks.")
    if ev is not None:
        for r in ev.runs_of(p.target.name):
            st = r.stats
            detail = ""
            if st:
                detail = (f": {st.get('registered_instances', 0)}/{st.get('iommu_instances', 0)}"
                          f" IOMMU instances registered, {st.get('grouped_clients', 0)}/"
                          f"{st.get('clients', 0)} clients in a group, "
                          f"{st.get('bound_drivers', 0)}/{st.get('devices', 0)} devices bound")
            v614 = next((x for x in ev.runs if x.board == r.board and x.variant == "V614"), None)
            same = ""
            if v614 is not None and v614.stats == st and v614.clean == r.clean:
                same = " -- the same end state as v6.14, so nothing v6.14 set up is lost"
            out += [""] + _fill(f"With the whole series, {r.board} boots in the model with "
                                f"{_findings(r)}{detail}{same}.")
    return out


def evidence_lines(p: PatchText) -> list[str]:
    ev = p.evidence
    if ev is None:
        return []
    out = ["Evidence (probefuzz model runs, default schedule):", ""]
    name_w = max(len(r.board) for r in ev.runs) if ev.runs else 10
    for r in ev.runs:
        label = "this series" if r.variant == p.target.name else r.variant
        out += _wrap_pre(f"  {r.board:<{name_w}}  {label:<11}  {_findings(r)}")
    if ev.stages:
        out += [""] + _fill("Booted after each patch of the series (bisection): "
                            + "; ".join(f"{i}/{len(ev.stages)}: "
                                        + ", ".join(_findings(r) for r in runs)
                                        for i, runs in enumerate(ev.stages, 1)) + ".")
    rk = ev.ranking
    if rk is not None:
        counts = ", ".join(f"{n} {k}" for k, n in rk.counts.items())
        out += [""] + _fill(f"probefuzz explore ranked this variant {rk.rank} of {rk.total} "
                            f"against {rk.base or p.reference.name} (budget {rk.budget}): "
                            f"{counts}.")
        if rk.titles:
            out += _fill("Titles still seen: " + "; ".join(rk.titles) + ".")
        if rk.reproducers:
            out += _fill("Reproducers (probefuzz repro): " + ", ".join(rk.reproducers) + ".")
    return out


def tool_lines(p: PatchText) -> list[str]:
    out = _fill(f"Found and generated with {TOOL} {p.tool_version} (variant "
                f"{p.target.name}, fingerprint {p.target.fingerprint()}) and Coccinelle "
                f"{p.spatch_version}, applied on top of {p.base}. The semantic patch "
                "below produced the change (per site, one rule per shape the code may "
                "have; the one that matches applies); probefuzz then turned its "
                "PROBEFUZZ_COMMENT/BLANK/LABEL placeholder statements into comments, "
                "blank lines and labels. Tested: checkpatch.pl --strict, git am onto the "
                "base, and the model boots above; not compiled or booted on hardware.")
    out += [""] + [RULE_INDENT + ln if ln.strip() else ""
                   for raw in p.rules.strip("\n").splitlines() for ln in wrap_smpl(raw)]
    return out


RULE_INDENT = "    "
#: checkpatch wants commit-log lines of at most 75 columns
LOG_WIDTH = 75


def _commas_outside_strings(line: str) -> list[int]:
    out, quote, esc = [], "", False
    for i, ch in enumerate(line):
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif line.startswith(", ", i):
            out.append(i)
    return out


def wrap_smpl(line: str, width: int = LOG_WIDTH - len(RULE_INDENT)) -> list[str]:
    """Break a long SmPL line after a comma into equivalent lines (same +/- column)."""
    out = []
    sign = line[:1] if line[:1] in "+- " else ""
    while len(line) > width:
        cuts = [i for i in _commas_outside_strings(line) if len(sign) < i < width]
        if not cuts:
            break
        cut = cuts[-1]
        out.append(line[:cut + 1])
        line = f"{sign}\t\t{line[cut + 2:].lstrip()}"
    return [*out, line]


def trailer_lines(p: PatchText) -> list[str]:
    t = p.trailers
    out: list[str] = []
    carries_report = p.unit.kind == FIX or p.fixes is None and p.index == 1
    if p.fixes is not None and p.unit.kind == FIX:
        out.append(p.fixes.line())
    if carries_report and t.reported_by:
        out.append(f"Reported-by: {t.reported_by}")
        if t.closes:
            out.append(f"Closes: {t.closes}")
    elif carries_report and t.closes:
        out.append(f"Closes: {t.closes}")
    if t.link:
        out.append(f"Link: {t.link}")
    if t.signoff:
        out.append(f"Signed-off-by: {t.signoff}")
    return out


def commit_message(p: PatchText) -> str:
    """The whole commit message of one patch."""
    parts: list[list[str]] = []
    if p.evidence is not None and (p.unit.kind == FIX or p.total == 1):
        parts.append(problem_lines(p.evidence, p.reference))
    parts.append(["This changes:", *change_lines(p)])
    parts.append(why_lines(p))
    parts.append(evidence_lines(p))
    parts.append(tool_lines(p))
    body = "\n\n".join("\n".join(x) for x in parts if x)
    tr = trailer_lines(p)
    return f"{subject(p)}\n\n{body}\n" + ("\n" + "\n".join(tr) + "\n" if tr else "")


def cover_letter(patches: list[PatchText], subjects: list[str]) -> tuple[str, str]:
    """(subject, body) of the cover letter of a series of several patches."""
    first = patches[0]
    fix = next((p for p in patches if p.unit.kind == FIX), first)
    subj = subject(fix)
    body: list[str] = []
    if first.evidence is not None and first.evidence.problem is not None:
        body += problem_lines(first.evidence, first.reference) + [""]
    body += _fill(f"This series is {TOOL}'s proposal for variant {first.target.name}: "
                  f"{first.target.description or 'see the patches'}.") + [""]
    for i, (p, s) in enumerate(zip(patches, subjects, strict=True), 1):
        what = "fixes the finding" if p.unit.kind == FIX else \
            f"carries {p.reference.name}'s change" + (f" (patch {p.unit.key})"
                                                       if "/" in p.unit.key else "")
        body += _bullet(f"{i}/{len(patches)} {s} -- {what}")
    body += [""] + evidence_lines(first)
    body += [""] + _fill("The Coccinelle rules of each patch are in its commit message. "
                         f"Generated with {TOOL} {first.tool_version}; nothing was sent by "
                         "the tool.")
    return subj, "\n".join(body).rstrip() + "\n"
