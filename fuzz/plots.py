"""The plots of ``report.html`` (matplotlib, SVG text kept as text).

A module of its own because importing matplotlib takes seconds: only
:func:`fuzz.report.html_report` imports it, when an explore campaign writes
its report, so no other verb pays for it at start-up.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure

from fuzz.ranking import ORDER, Row

PLOT_ROWS = 30  # variants in the plots: the best of each family that changes something


# -- plots ----------------------------------------------------------------------------------


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _plot_rows(rows: list[Row]) -> list[Row]:
    """The best of each family that changes a finding against the base, in rank order
    (at most PLOT_ROWS): families that change nothing have nothing to plot."""
    return [r for r in rows if r.family_best and (r.fixed or r.introduced)][:PLOT_ROWS]


def _label(r: Row, n: int = 58) -> str:
    text = f"{r.rank}. " + ("[G] " if r.reverts_goal else "") + r.id
    return text if len(text) <= n else text[:n - 1] + "…"


def heatmap_svg(rows: list[Row], boards: list[str]) -> str:
    """Variant x board: (title, board) pairs fixed minus introduced on each board."""
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text (searchable, crisp)
    sel = _plot_rows(rows)
    if not sel:
        return "<p>No variant changes a finding against the base.</p>"
    data = [[sum(1 for d in r.fixed if b in d.boards) - sum(1 for d in r.introduced if b in d.boards)
             for b in boards] for r in sel]
    lim = max([abs(x) for row in data for x in row] + [1])
    fig = Figure(figsize=(12.5, 1.6 + 0.28 * len(sel)))
    ax = fig.add_subplot()
    im = ax.imshow(data, cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(boards)), boards, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(sel)), [_label(r) for r in sel], fontsize=8)
    for i, row in enumerate(data):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, f"{v:+d}", ha="center", va="center", fontsize=7)
    ax.set_xlabel("board")
    ax.set_ylabel("variant (rank; best of each fix family that changes a finding;\n"
                  "[G] reverts the series' goal)")
    ax.set_title("findings fixed (+) and introduced (-) against the base, per board")
    fig.colorbar(im, ax=ax, label="net (title, board) pairs fixed", shrink=0.6)
    return _svg(fig)


def fixed_introduced_svg(rows: list[Row]) -> str:
    """Per variant: distinct findings fixed (right) and introduced (left), stacked by kind."""
    matplotlib.rcParams["svg.fonttype"] = "none"
    sel = _plot_rows(rows)
    if not sel:
        return "<p>No variant changes a finding against the base.</p>"
    colours = {"oops": "#c0392b", "deadlock": "#8e44ad", "group": "#d35400", "isolation": "#e67e22",
               "warn": "#f1c40f", "defer": "#95a5a6"}
    fig = Figure(figsize=(12.5, 1.6 + 0.28 * len(sel)))
    ax = fig.add_subplot()
    ys = range(len(sel))
    for sign, attr in ((1, "fixed"), (-1, "introduced")):
        left = [0.0] * len(sel)
        for k in ORDER:
            vals = [sign * sum(len(d.boards) for d in getattr(r, attr) if d.kind == k) for r in sel]
            if not any(vals):
                continue
            ax.barh(list(ys), vals, left=left, color=colours[k],
                    label=k if sign > 0 or not any(sum(len(d.boards) for d in r.fixed if d.kind == k)
                                                   for r in sel) else None)
            left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(list(ys), [_label(r) for r in sel], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("(title, board) pairs: introduced (left of 0) / fixed (right of 0)")
    ax.set_ylabel("variant (rank order, best of each fix family)")
    ax.set_title("what each variant fixes and introduces against the base")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, title="kind", fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def coverage_svg(timeline: list[tuple[float, int]]) -> str:
    """Distinct behaviour features seen by the campaign over time (a step line)."""
    matplotlib.rcParams["svg.fonttype"] = "none"
    fig = Figure(figsize=(12.5, 2.6))
    ax = fig.add_subplot()
    ax.step([t for t, _ in timeline] or [0.0], [c for _, c in timeline] or [0], where="post")
    ax.set_xlabel("seconds since the campaign started")
    ax.set_ylabel("behaviour features")
    ax.set_title("coverage over time")
    ax.grid(alpha=0.3)
    return _svg(fig)
