"""Kernel-style commit messages and the cover letter (pure text, no git).

What goes in follows Documentation/process/submitting-patches.rst and the
rules for tool-generated patches: the failure (finding title and a trimmed
call trace, no timestamps), the mechanism in C terms, the change and why it
is safe, the evidence, how it was found and tested (tool and version, boards,
budget) and what was not tested, then the trailers in the usual order --
``Fixes:``, ``Reported-by:`` immediately followed by ``Closes:``, ``Link:`` --
and a ``Signed-off-by:`` only when the human asked for theirs.  The
Coccinelle rules are not in the log: they go once per series, in coccicheck
form, in the cover letter (or below the ``---`` of a single patch).
Values are said in words or C, never as the model's names for them.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from harness.upstream import preset, prose_name
from harness.variant import SITES, Guard, Site, Variant
from mutators.propose.evidence import Evidence, Run
from mutators.propose.fixes import FixesTag
from mutators.propose.series import FIX, Unit

WIDTH = 72
TOOL = "probefuzz"
#: every fix commit propose makes says this of itself (``probefuzz cleanup`` knows
#: propose's branches by it, whitespace-normalised)
MARK = f"Found with {TOOL} "
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
    tool_version: str
    spatch_version: str
    #: the base in words (:func:`base_description`).  No hash in the body:
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
    """Capitalise a sentence -- unless it starts with a C identifier (``rk_iommu_probe()``)."""
    first = s.split(" ", 1)[0]
    if "_" in first or "(" in first:
        return s
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


def _an(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def problem_lines(ev: Evidence, reference: Variant) -> list[str]:
    """The failure: where, under what, the finding and its trimmed call trace."""
    pr = ev.problem
    if pr is None:
        return []
    out = _fill(f"Booting {pr.model or pr.board} ({pr.board}) on "
                f"{prose_name(reference.name)} in probefuzz's model of the probe path "
                f"ends in {_an(pr.kind)} {pr.kind}:")
    out += [""] + _wrap_pre(f"  {pr.title}")
    if pr.device:
        out += _wrap_pre(f"  device: {pr.device}")
    msg = pr.message
    if len(msg) > WIDTH - 2:  # "... at virtual address 3e8 (->numa_node)": drop the aside
        msg = msg.split(" (", 1)[0]
    if msg and len(msg) <= WIDTH - 2:
        out.append(f"  {msg}")
    out += ["  Call trace:"] + [ln for fn in pr.trace for ln in _wrap_pre(f"   {fn}")]
    if pr.omitted:
        out += ["", *_fill(f"({pr.omitted} outer frames of the generic driver registration "
                           "and initcall path omitted.)")]
    return out


def _wrap_pre(line: str) -> list[str]:
    if len(line) <= WIDTH:
        return [line]
    lead = " " * (len(line) - len(line.lstrip()) + 2)
    return textwrap.wrap(line, WIDTH, subsequent_indent=lead, break_long_words=False)


def behaviour(name: str, value: Any) -> str:
    """What the code at a site does with ``value``, in words and C (no model names)."""
    s = SITES[name]
    fn = f"{s.function}()"
    if s.kind == "choice":
        if s.doc.startswith("where "):
            rest = s.doc[len("where "):]
            rest = rest if rest.startswith(fn) else f"{fn} {rest}"
            return f"{rest} {_words(str(value))}"
        return f"{fn}: {s.doc}: {_words(str(value))}"
    if value is None:
        return f"{fn} does not {s.doc}" if s.doc.split(" ", 1)[0] in _VERBS \
            else f"{fn} has no {s.doc}"
    if isinstance(value, Guard):
        return f"in {fn}, {s.doc}: under if ({value.c(s.vocab)})"
    return f"in {fn}, {s.doc}"


def _action(name: str) -> str | None:
    """``sets the global dma_dev`` for a site documented "where f() sets the global dma_dev"."""
    s = SITES[name]
    prefix = f"where {s.function}() "
    return s.doc[len(prefix):] if s.kind == "choice" and s.doc.startswith(prefix) else None


def mechanism_lines(p: PatchText) -> list[str]:
    """Why it fails, in C terms: the site's current behaviour and the path to the fault."""
    ev, u = p.evidence, p.unit
    out = _fill(" ".join(_cap(behaviour(n, p.tree_values[n])) + "."
                         for n in u.sites if n in p.tree_values))
    pr = ev.problem if ev is not None else None
    if pr is None:
        return out
    fns = list(dict.fromkeys(SITES[s].function for s in u.sites))
    on_trace = [f for f in fns if f in pr.trace and pr.trace.index(f) > 0]
    if on_trace:
        f = on_trace[0]
        chain = list(reversed(pr.trace[:pr.trace.index(f)]))
        via = " -> ".join(c + "()" for c in chain)
        acts = [_action(n) for n in u.sites if SITES[n].function == f]
        act = next((a for a in acts if a), None)
        when = f", before it {act}" if act else ""
        out += [""] + _fill(f"On {pr.board}, {f}() reaches the fault through {via} "
                            f"(the trace above){when}.")
    else:
        out += [""] + _fill(f"{', '.join(x + '()' for x in fns)} is not on the trace above; "
                            "it changes what the faulting path finds.")
    v614 = [r for r in ev.runs if r.variant == "V614"] if ev is not None else []
    if v614 and all(pr.title not in r.titles for r in v614):
        out += [""] + _fill(f"v6.14 does not fail this way on the same board in the model: "
                            f"the failure comes with {prose_name(p.reference.name)}'s change"
                            + (" (the commit in Fixes:)." if p.fixes is not None else "."))
    return out


def change_lines(p: PatchText) -> list[str]:
    """What the patch does, per site: the behaviour before and after."""
    out: list[str] = []
    for name in p.unit.sites:
        s = SITES[name]
        new = behaviour(name, p.target.value(name))
        old = behaviour(name, p.tree_values[name]) if name in p.tree_values else None
        where = f"{s.file}: "
        was, now = p.tree_values.get(name), p.target.value(name)
        if s.kind == "choice" and old is not None and s.doc.startswith("where "):
            text = f"{where}{_cap(new)}, not {_words(str(was))}."
        elif isinstance(was, Guard) and isinstance(now, Guard):
            text = (f"{where}In {s.function}(), {s.doc}: under if ({now.c(s.vocab)}), "
                    f"not if ({was.c(s.vocab)}).")
        elif old is not None:
            text = f"{where}{_cap(new)} (was: {old})."
        else:
            text = f"{where}{_cap(new)}."
        out += _bullet(text)
    return out


def _findings(run: Run) -> str:
    if run.clean:
        return "no findings"
    kinds = ", ".join(f"{n} {k}" for k, n in run.counts.items() if n)
    return f"{kinds}: {'; '.join(run.titles)}"


def why_lines(p: PatchText) -> list[str]:
    """Why the change is safe: the end state with it, against v6.14's."""
    ev = p.evidence
    fns = list(dict.fromkeys(SITES[s].function for s in p.unit.sites))
    out = _fill(f"Only {', '.join(f + '()' for f in fns)} changes; everything else stays as "
                f"in {prose_name(p.reference.name)}.")
    if ev is None:
        return out
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
        change = "the change" if p.total == 1 else "the whole series"
        out += [""] + _fill(f"With {change}, {r.board} boots in the model with "
                            f"{_findings(r)}{detail}{same}.")
    return out


def _label(run: Run, p: PatchText) -> str:
    return "with the fix" if run.variant == p.target.name else prose_name(run.variant)


def _budget(budget: Any) -> str:
    """A ranking's budget in words (never the dict it is stored as)."""
    if isinstance(budget, bool) or budget is None:
        return "its default budget"
    if isinstance(budget, int):
        return f"{budget} fuzzed probe orders per variant"
    if isinstance(budget, dict):
        parts = [f"{v} {str(k).replace('_', ' ')}" for k, v in budget.items()
                 if v is not None and not isinstance(v, (dict, list))]
        return ", ".join(parts) or "its default budget"
    return str(budget)


def evidence_lines(p: PatchText) -> list[str]:
    ev = p.evidence
    if ev is None:
        return []
    out = ["Model boots (default probe order):", ""]
    if ev.facts:
        out = [*_fill("Model boots (default probe order; guard sites, driver facts and "
                      f"initcall levels read from the tree at {ev.facts[:12]}):"), ""]
    name_w = max(len(r.board) for r in ev.runs) if ev.runs else 10
    label_w = max((len(_label(r, p)) for r in ev.runs), default=10)
    for r in ev.runs:
        out += _wrap_pre(f"  {r.board:<{name_w}}  {_label(r, p):<{label_w}}  {_findings(r)}")
    rk = ev.ranking
    if rk is not None:
        counts = ", ".join(f"{n} {k}" for k, n in rk.counts.items())
        out += [""] + _fill(f"probefuzz explore ranked this change {rk.rank} of {rk.total} "
                            f"against {prose_name(rk.base or p.reference.name)} over "
                            f"{_budget(rk.budget)}; findings left: {counts}.")
        if rk.titles:
            out += _fill("Titles still seen: " + "; ".join(rk.titles) + ".")
        if rk.reproducers:
            out += _fill("Reproducers (probefuzz repro): " + ", ".join(rk.reproducers) + ".")
    return out


def tested_lines(p: PatchText) -> list[str]:
    """How it was found and tested, and what was not tested, in words."""
    ev = p.evidence
    boards = sorted({r.board for r in ev.runs}) if ev is not None else []
    where = "the semantic patch in the cover letter" if p.total > 1 else \
        "the semantic patch below the ---"
    out = _fill(f"{MARK}{p.tool_version}, which runs a model of the driver "
                "core and IOMMU probe path, written from the kernel's C, on the device "
                "trees of real boards and fuzzes the order in which devices, drivers and "
                f"IOMMUs appear; the change was made with Coccinelle {p.spatch_version} by "
                f"{where}.")
    budget = ""
    if ev is not None and ev.ranking is not None:
        budget = f", and by probefuzz explore over {_budget(ev.ranking.budget)}"
    tested = (f"the model boots of {', '.join(boards)} above{budget}" if boards
              else "no model boots")
    out += [""] + _fill(f"Tested: {tested}; checkpatch.pl --strict; git am onto {p.base}.")
    out += [""] + _fill("Not tested: not compiled, not booted on hardware or under QEMU; "
                        "boards other than the ones named were not run.")
    return out


def trailer_lines(p: PatchText) -> list[str]:
    t = p.trailers
    out: list[str] = []
    if p.fixes is not None and p.unit.kind == FIX:
        out.append(p.fixes.line())
    if t.reported_by:
        out.append(f"Reported-by: {t.reported_by}")
        if t.closes:
            out.append(f"Closes: {t.closes}")
    elif t.closes:
        out.append(f"Closes: {t.closes}")
    if t.link:
        out.append(f"Link: {t.link}")
    if t.signoff:
        out.append(f"Signed-off-by: {t.signoff}")
    return out


def commit_message(p: PatchText) -> str:
    """The whole commit message of one fix patch."""
    parts: list[list[str]] = []
    if p.evidence is not None:
        parts.append(problem_lines(p.evidence, p.reference))
    parts.append(mechanism_lines(p))
    parts.append([*_fill(summary_sentence(p)), *change_lines(p)])
    parts.append(why_lines(p))
    parts.append(evidence_lines(p))
    parts.append(tested_lines(p))
    body = "\n\n".join("\n".join(x) for x in parts if x)
    tr = trailer_lines(p)
    return f"{subject(p)}\n\n{body}\n" + ("\n" + "\n".join(tr) + "\n" if tr else "")


def summary_sentence(p: PatchText) -> str:
    first = p.unit.sites[0]
    s = summary(first, p.tree_values.get(first), p.target.value(first))
    return f"{s[:1].upper()}{s[1:]} instead:"


def prerequisite_message(p: PatchText) -> str:
    """A re-created prerequisite: probefuzz's, for testing, never the user's to post."""
    pre = preset(p.reference.name)
    sp = pre.patch(p.unit.key) if pre is not None else None
    what = sp.label() if sp is not None else f"the change at {p.unit.key}"
    body = _fill(f"For testing only, not for posting: {TOOL} {p.tool_version} re-created "
                 f"this from its model of {prose_name(p.reference.name)}'s {what}, so that "
                 "a fix can be tried on a base that lacks it. It is not the original "
                 "patch and nobody's to send: apply the original, with its author, "
                 "wherever it exists.")
    if p.unit.modified:
        body += [""] + _fill("It differs from that change at "
                             + ", ".join(SITES[s].function + "()" for s in p.unit.modified)
                             + ", as the variant asks.")
    body += ["", "This changes:", *change_lines(p)]
    return f"{subject(p)}\n\n" + "\n".join(body) + "\n"


def base_description(subject_line: str, with_prerequisites: bool, reference: Variant) -> str:
    """The base in words: the upstream commit, and the series above it if any."""
    out = f'"{subject_line}" (the base-commit below)'
    if with_prerequisites:
        out += (f" with {prose_name(reference.name)}'s series (the "
                "prerequisite-patch-id lines)")
    return out


def cocci_description(texts: list[PatchText]) -> str:
    """The ``///`` lines of the series' semantic patch."""
    lines = [f"{subject(t).split(': ', 1)[-1]}." for t in texts]
    for t in texts:
        for n in t.unit.sites:
            if n in t.tree_values:
                lines += textwrap.wrap(f"{_cap(behaviour(n, t.tree_values[n]))}; "
                                       f"{behaviour(n, t.target.value(n))} instead.", 70)
    return "\n".join(lines)


def cocci_report(p: PatchText) -> str:
    """What report mode prints at the function it would change."""
    n = p.unit.sites[0]
    return _cap(behaviour(n, p.tree_values.get(n, p.reference.value(n))))


def cocci_comments(p: PatchText) -> list[str]:
    return [f"made by {TOOL} {p.tool_version} with Coccinelle {p.spatch_version};",
            "patch mode leaves out the comments and blank lines that",
            f"{TOOL} adds to its own output afterwards"]


def _cocci_block(cocci: str) -> list[str]:
    return ["The semantic patch that made the change (make coccicheck MODE=report",
            "COCCI=<this file> runs it):", "", *cocci.rstrip("\n").splitlines()]


def notes(p: PatchText, cocci: str) -> str:
    """Below the ``---`` of a single patch (not part of the commit): how to reproduce."""
    lines = _fill(f"{TOOL} variant: {p.target.name}") + [""] + _cocci_block(cocci)
    return "\n".join(lines) + "\n"


def cover_letter(patches: list[PatchText], subjects: list[str],
                 cocci: str = "") -> tuple[str, str]:
    """(subject, body) of the cover letter of a series of several fix patches."""
    first = patches[0]
    subj = subject(first)
    body: list[str] = []
    if first.evidence is not None and first.evidence.problem is not None:
        body += problem_lines(first.evidence, first.reference) + [""]
    body += _fill(f"These {len(patches)} patches fix it on top of {first.base}.") + [""]
    for i, s in enumerate(subjects, 1):
        body += _bullet(f"{i}/{len(patches)} {s}")
    body += [""] + evidence_lines(first)
    body += [""] + _fill(f"{TOOL} variant: {first.target.name}")
    if cocci:
        body += [""] + _cocci_block(cocci)
    return subj, "\n".join(body).rstrip() + "\n"
