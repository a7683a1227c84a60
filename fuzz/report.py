"""Reports of an explore campaign: terminal table, ``report.md``, ``report.html``.

The HTML report is self-contained: the ranked table and two inline SVG plots
(findings per variant in rank order, stacked by kind; campaign coverage over
time), drawn by hand since the project takes no plotting dependency.
"""

from __future__ import annotations

import html
from pathlib import Path

from fuzz.campaign import CampaignResult
from fuzz.ranking import ORDER, Row

COLOURS = {"oops": "#c0392b", "deadlock": "#8e44ad", "group": "#d35400", "isolation": "#e67e22",
           "warn": "#f1c40f", "defer": "#95a5a6"}


def table(rows: list[Row], limit: int | None = None, width: int = 60) -> str:
    """The ranking as a fixed-width text table."""
    head = f"{'rank':>4}  {'variant':<{width}} " + " ".join(f"{k[:5]:>5}" for k in ORDER) + "  titles"
    lines = [head, "-" * len(head)]
    for r in rows[:limit] if limit else rows:
        vid = r.id if len(r.id) <= width else r.id[:width - 1] + "…"
        lines.append(f"{r.rank:>4}  {vid:<{width}} " + " ".join(f"{r.counts[k]:>5}" for k in ORDER)
                     + "  " + ("; ".join(r.titles) if r.titles else "-"))
    if limit and len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more in ranking.json / report.md")
    return "\n".join(lines) + "\n"


def markdown(c: CampaignResult, rows: list[Row]) -> str:
    req = c.request
    out = [f"# probefuzz explore: variants around {req.base}", "",
           f"Depth {req.depth}, {len(rows)} variants x {len(req.boards)} boards, engine {req.engine}, "
           f"seed {req.seed}, "
           + (f"{req.time_per_variant} s per variant" if req.time_per_variant
              else f"{req.runs_per_board} runs per board and variant")
           + f"; {sum(r.executions for r in rows)} executions in {c.elapsed:.1f} s "
           f"({req.jobs} processes).", "",
           "Ranked by (oopses, deadlocks, group problems, devices without isolation, warnings, "
           "deferred-probe churn, change size); counts are distinct (title, board) pairs.", "",
           "| rank | variant | " + " | ".join(ORDER) + " | titles | reproducers | why |",
           "|---:|---|" + "---:|" * len(ORDER) + "---|---|---|"]
    for r in rows:
        cell = "<br>".join(_md(t) for t in r.titles) or "-"
        reps = "<br>".join(f"[{Path(p).name[:16]}]({p})" for p in r.reproducers) or "-"
        out.append(f"| {r.rank} | `{_md(r.id)}`<br>{_md(r.description)} | "
                   + " | ".join(str(r.counts[k]) for k in ORDER) + f" | {cell} | {reps} | {_md(r.reason)} |")
    out += ["", "Replay a reproducer: `probefuzz repro OUT/<reproducer>`; gate a candidate on every "
            "stored one: `probefuzz regress --variant ID --crashes OUT/crashes`.", ""]
    return "\n".join(out)


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def findings_svg(rows: list[Row], width: int = 900, height: int = 260) -> str:
    """Stacked bars: findings per variant, in rank order."""
    n = max(1, len(rows))
    top = max([sum(r.counts.values()) for r in rows] + [1])
    pad_l, pad_b, pad_t = 40, 30, 20
    bw = (width - pad_l - 10) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="findings per variant">',
             f'<text x="{pad_l}" y="14" font-size="12">findings per variant (rank order)</text>']
    plot_h = height - pad_b - pad_t
    for i, r in enumerate(rows):
        y = float(height - pad_b)
        for k in ORDER:
            v = r.counts[k]
            if not v:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(f'<rect x="{pad_l + i * bw:.1f}" y="{y:.1f}" width="{max(bw - 1, 1):.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[k]}"><title>{html.escape(r.id)}: '
                         f'{v} {k}</title></rect>')
    parts.append(f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - 10}" y2="{height - pad_b}" '
                 'stroke="black"/>')
    parts.append(f'<text x="4" y="{pad_t + 10}" font-size="11">{top}</text>')
    parts.append(f'<text x="4" y="{height - pad_b}" font-size="11">0</text>')
    x = pad_l
    for k in ORDER:
        parts.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{COLOURS[k]}"/>'
                     f'<text x="{x + 13}" y="{height - 5}" font-size="11">{k}</text>')
        x += 90
    parts.append("</svg>")
    return "".join(parts)


def coverage_svg(timeline: list[tuple[float, int]], width: int = 900, height: int = 220) -> str:
    """A step line: distinct behaviour features seen by the campaign over time."""
    pad_l, pad_b, pad_t = 50, 30, 20
    t_max = max([t for t, _ in timeline] + [1e-9])
    c_max = max([c for _, c in timeline] + [1])
    pw, ph = width - pad_l - 10, height - pad_b - pad_t
    pts = []
    last_y = None
    for t, c in timeline:
        x = pad_l + pw * t / t_max
        y = pad_t + ph * (1 - c / c_max)
        if last_y is not None:
            pts.append(f"{x:.1f},{last_y:.1f}")
        pts.append(f"{x:.1f},{y:.1f}")
        last_y = y
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="coverage over time"><text x="{pad_l}" y="14" font-size="12">coverage '
            f'(distinct behaviour features) over time</text>'
            f'<polyline fill="none" stroke="#2c3e50" stroke-width="2" points="{" ".join(pts)}"/>'
            f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - 10}" y2="{height - pad_b}" '
            'stroke="black"/>'
            f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}" stroke="black"/>'
            f'<text x="4" y="{pad_t + 10}" font-size="11">{c_max}</text>'
            f'<text x="{width - 60}" y="{height - 8}" font-size="11">{t_max:.1f} s</text></svg>')


def html_report(c: CampaignResult, rows: list[Row]) -> str:
    req = c.request
    esc = html.escape
    trs = []
    for r in rows:
        reps = "<br>".join(f'<a href="{esc(p)}">{esc(Path(p).name[:16])}</a>' for p in r.reproducers)
        trs.append(f"<tr><td>{r.rank}</td><td><code>{esc(r.id)}</code><br><small>{esc(r.description)}"
                   "</small></td>" + "".join(f"<td>{r.counts[k]}</td>" for k in ORDER)
                   + f"<td>{'<br>'.join(esc(t) for t in r.titles) or '-'}</td><td>{reps or '-'}</td>"
                   f"<td>{esc(r.reason)}</td></tr>")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probefuzz explore around {esc(req.base)}</title>
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}}</style></head><body>
<h1>probefuzz explore: variants around {esc(req.base)}</h1>
<p>Depth {req.depth}, {len(rows)} variants &times; {len(req.boards)} boards, engine {esc(req.engine)},
seed {req.seed}; {sum(r.executions for r in rows)} executions in {c.elapsed:.1f} s.</p>
{findings_svg(rows)}
{coverage_svg(c.coverage_timeline)}
<table><tr><th>rank</th><th>variant</th>{''.join(f'<th>{k}</th>' for k in ORDER)}<th>titles</th>
<th>reproducers</th><th>why</th></tr>
{''.join(trs)}
</table></body></html>
"""
