"""Reports of an explore campaign: terminal table, ``report.md``, ``report.html``.

Written for a maintainer with a minute: the top 3 candidates (the best of
three fix families) with a paragraph each -- what it fixes, what it costs,
the evidence -- then the ranking.  ``report.html`` adds two plots made with
matplotlib (a variant x board heatmap of findings fixed and introduced, and
a per-variant fixed/introduced chart) and the campaign's coverage curve, and
fits a 1400-pixel window; the terminal table fits 120 columns (rich).
"""

from __future__ import annotations

import html
import io
import textwrap

from rich import box
from rich.console import Console
from rich.table import Table

from fuzz.campaign import CampaignResult
from fuzz.ranking import GOAL_INVARIANTS, LEVELS, ORDER, Diff, Row, describe_change, families, top

TERMINAL_WIDTH = 120
PAGE_WIDTH = 1400  # px: the HTML report fits a window this wide
_SHORT = {"oops": "oops", "deadlock": "dlock", "group": "group", "isolation": "isol", "warn": "warn",
          "defer": "defer"}


def _short(diffs: list[Diff]) -> str:
    """``oops 1 (1 board), warn 2 (11 boards)``: bugs per kind and their boards."""
    if not diffs:
        return "-"
    by: dict[str, list[Diff]] = {}
    for d in diffs:
        by.setdefault(d.kind, []).append(d)
    parts = []
    for k in sorted(by, key=lambda k: ORDER.index(k) if k in ORDER else 9):
        n, b = len(by[k]), len({x for d in by[k] for x in d.boards})
        parts.append(f"{_SHORT.get(k, k)} {n}/{b}b")
    return " ".join(parts)


def table(rows: list[Row], limit: int | None = None, width: int = TERMINAL_WIDTH) -> str:
    """The best variant of each fix family, in rank order, as a table that fits ``width`` columns."""
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True,
              caption="fixed/introduced: kind bugs/boards (warn 1/11b: one warning title on 11 boards); "
                      "G: reverts the series' goal; fam: variants in the fix family (the best shown)",
              caption_justify="left")
    t.add_column("rank", justify="right", no_wrap=True, width=4)
    t.add_column("variant", no_wrap=True, overflow="ellipsis", width=44)
    t.add_column("fam", justify="right", no_wrap=True, width=3)
    t.add_column("G", no_wrap=True, width=1)
    t.add_column("fixed", no_wrap=True, overflow="ellipsis", width=14)
    t.add_column("introduced", no_wrap=True, overflow="ellipsis", width=16)
    t.add_column("why", no_wrap=True, overflow="ellipsis", width=width - 4 - 44 - 3 - 1 - 14 - 16 - 6 * 2)
    best = [r for r in rows if r.family_best]
    shown = best[:limit] if limit else best
    for r in shown:
        t.add_row(str(r.rank), r.id, str(r.family_size), "G" if r.reverts_goal else "",
                  _short(r.fixed), _short(r.introduced), r.why)
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False, soft_wrap=False).print(t)
    out = "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"
    if len(best) > len(shown):
        out += (f"... {len(best) - len(shown)} more fix families; all {len(rows)} variants in "
                "ranking.json / report.md\n")
    return out


# -- words for the top 3 --------------------------------------------------------------


def _where(d: Diff) -> str:
    boards = ", ".join(d.boards) if len(d.boards) <= 3 else f"{len(d.boards)} boards"
    if not d.plain:
        return boards
    every = "every boot" if d.plain == d.boards else f"every boot of {len(d.plain)}"
    return f"{boards} ({every})"


def _diff_words(diffs: list[Diff], limit: int = 4) -> str:
    parts = [f"{d.title} on {_where(d)}" for d in diffs[:limit]]
    if len(diffs) > limit:
        parts.append(f"{len(diffs) - limit} more")
    return "; ".join(parts)


def paragraph(r: Row, base: str, boards: int) -> str:
    """What a top variant fixes, what it costs, the evidence: plain words."""
    s = [f"{describe_change(r)}."]
    s.append(f"Against {base} on the same scenarios it fixes {_diff_words(r.fixed)}." if r.fixed
             else f"It fixes nothing {base} shows on these boards.")
    if r.introduced:
        s.append(f"It costs {_diff_words(r.introduced)}.")
    else:
        s.append(f"It introduces no finding on the {boards} boards.")
    if r.reverts_goal:
        s.append("It reverts the series' goal: " + "; ".join(r.goal[:2]) + ".")
    else:
        s.append("It keeps the series' goal (no new finding of invariants "
                 + ", ".join(str(k) for k in GOAL_INVARIANTS) + ").")
    if r.unchanged:
        s.append(f"Unchanged: {_diff_words(r.unchanged, 2)}.")
    s.append(f"Change size {r.size}; {r.executions} runs; {r.behaviour} behaviour features differ from "
             f"{base}" + (f"; best of {r.family_size} variants in its family" if r.family_size > 1 else "")
             + f". Rank {r.rank}: {r.reason}.")
    return " ".join(s)


def _top_words(rows: list[Row], base: str, boards: int) -> list[tuple[Row, str]]:
    return [(r, paragraph(r, base, boards)) for r in top(rows)]


def _order_words() -> str:
    return ("Ranked by difference against the base on the same scenarios: a variant that introduces a "
            "finding of the series' goal (" + "; ".join(f"{v} [{k}]" for k, v in GOAL_INVARIANTS.items())
            + ") ranks below all that keep it; then net bugs fixed by severity ("
            + ", ".join(n for n, _ in LEVELS) + "), then breadth (net title x board pairs, then "
            "scenarios), then change size; ties go to the variant that changes less of the observed "
            "probe-path behaviour, then to the space's order.")


def markdown(c: CampaignResult, rows: list[Row]) -> str:
    """``report.md``."""
    req = c.request
    out = [f"# probefuzz explore: variants around {req.base}", "", _budget(c, rows), "",
           _order_words(), "", "## Top 3 (best of three fix families)", ""]
    tops = _top_words(rows, req.base, len(req.boards))
    for i, (r, words) in enumerate(tops, 1):
        out += [f"{i}. **`{_md(r.id)}`** (rank {r.rank}) {_md(words)}", ""]
    if len(tops) < 3:
        out += [f"Only {len(tops)} fix families fix anything {req.base} shows.", ""]
    out += ["## Ranking", "",
            "| rank | variant | fixed | introduced | unchanged | goal | why |",
            "|---:|---|---|---|---:|---|---|"]
    for r in rows:
        out.append(f"| {r.rank} | `{_md(r.id)}`{' (best of family)' if r.family_best else ''} | "
                   f"{_md(_diff_words(r.fixed, 3)) or '-'} | {_md(_diff_words(r.introduced, 3)) or '-'} | "
                   f"{len(r.unchanged)} | {'reverts' if r.reverts_goal else 'kept'} | {_md(r.reason)} |")
    out += ["", "Replay a reproducer: `probefuzz repro OUT/<reproducer>`; gate a candidate against the "
            "base: `probefuzz regress --variant ID --base " + req.base
            + ("" if req.tree is None else f" --tree {req.tree.tree}") + " --crashes OUT/crashes`.", ""]
    return "\n".join(out)


def _budget(c: CampaignResult, rows: list[Row]) -> str:
    req = c.request
    fams = len([f for f, _ in families(rows) if not f.empty])
    return (f"Depth {req.depth}, {len(rows)} variants in {fams} fix families (and the base) x "
            f"{len(req.boards)} boards, engine {req.engine}, seed {req.seed}, "
            + (f"{req.time_per_variant} s per variant" if req.time_per_variant
               else f"{req.runs_per_board} runs per board and variant")
            + f"; {sum(r.executions for r in rows)} executions in {c.elapsed:.1f} s ({req.jobs} processes)."
            + ("" if req.tree is None else
               f" Built on the tree {req.tree.tree}"
               + (f" at {req.tree.commit[:12]}" if req.tree.commit else "")
               + ": its guard sites, driver facts and registration levels, the presets' core sites "
               "over them; pass the same --tree to repro, regress and propose."))


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


# -- HTML -------------------------------------------------------------------------------------


def html_report(c: CampaignResult, rows: list[Row]) -> str:
    """``report.html``: top 3 in words, plots, the ranked table; fits 1400 px."""
    # late: fuzz.plots imports matplotlib (~3 s on a loaded 2-core machine),
    # which only this function needs: the table, markdown and the other
    # verbs start without it
    from fuzz.plots import coverage_svg, fixed_introduced_svg, heatmap_svg

    req = c.request
    esc = html.escape
    tops = _top_words(rows, req.base, len(req.boards))
    top_html = "".join(f"<li><p><code>{esc(r.id)}</code> (rank {r.rank}). {esc(words)}</p></li>"
                       for r, words in tops)
    trs = []
    for r in rows:
        reps = " ".join(f'<a href="{esc(p)}">{i}</a>' for i, p in enumerate(r.reproducers, 1))
        cls = ' class="goal"' if r.reverts_goal else ""
        trs.append(f"<tr{cls}><td>{r.rank}</td><td><code>{esc(r.id)}</code>"
                   f"{' <b>*</b>' if r.family_best and not r.family.empty else ''}<br>"
                   f"<small>{esc(describe_change(r))}</small></td>"
                   f"<td>{esc(_diff_words(r.fixed, 3)) or '-'}</td>"
                   f"<td>{esc(_diff_words(r.introduced, 3)) or '-'}</td><td>{len(r.unchanged)}</td>"
                   f"<td>{reps or '-'}</td><td>{esc(r.reason)}</td></tr>")
    boards = [b.name for b in req.boards]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probefuzz explore around {esc(req.base)}</title>
<style>
body{{font-family:sans-serif;margin:0 auto;padding:1em;max-width:{PAGE_WIDTH - 40}px;box-sizing:border-box}}
svg{{max-width:100%;height:auto}}
table{{border-collapse:collapse;font-size:12px;width:100%;table-layout:fixed}}
td,th{{border:1px solid #ccc;padding:3px 5px;vertical-align:top;overflow-wrap:anywhere}}
tr.goal td{{background:#fbeeee}} code{{font-size:11px}}
</style></head><body>
<h1>probefuzz explore: variants around {esc(req.base)}</h1>
<p>{esc(_budget(c, rows))}</p>
<p>{esc(_order_words())}</p>
<h2>Top 3 (best of three fix families)</h2>
<ol>{top_html}</ol>
{'' if len(tops) >= 3 else f'<p>Only {len(tops)} fix families fix anything {esc(req.base)} shows.</p>'}
<h2>Per board</h2>
{heatmap_svg(rows, boards)}
<h2>Fixed and introduced</h2>
{fixed_introduced_svg(rows)}
<h2>Ranking</h2>
<p>Rows shaded red revert the series' goal; <b>*</b> marks the best of a fix family.</p>
<table><colgroup><col style="width:3%"><col style="width:27%"><col style="width:18%">
<col style="width:18%"><col style="width:5%"><col style="width:5%"><col style="width:24%"></colgroup>
<tr><th>rank</th><th>variant</th><th>fixed</th><th>introduced</th><th>un&shy;changed</th>
<th>repro&shy;ducers</th><th>why</th></tr>
{''.join(trs)}
</table>
<h2>Coverage</h2>
{coverage_svg(c.coverage_timeline)}
</body></html>
"""


def write_top(rows: list[Row], base: str, boards: int) -> str:
    """The top 3 in words for the terminal (one paragraph each)."""
    out = []
    for i, (r, words) in enumerate(_top_words(rows, base, boards), 1):
        out.append(f"{i}. {r.id} (rank {r.rank})\n" + textwrap.fill(
            words, TERMINAL_WIDTH, initial_indent="   ", subsequent_indent="   "))
    return "\n".join(out) + ("\n" if out else "")

