"""Charts for the dashboard as server-side SVG: no script, no library, no CDN. Every text
in a chart is escaped; colours are presentation attributes (the CSP allows no inline style)."""
from __future__ import annotations

from html import escape
from typing import Dict, List, Mapping, Sequence, Tuple

from markupsafe import Markup

ROUTE_COLOURS = {"answer": "#6b8f71", "handoff": "#1f3b63", "exclude": "#c0803a", "ignore": "#9aa6b8"}


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[Tuple[str, str, Sequence[int]]],
                 width: int = 760, height: int = 240) -> Markup:
    """Stacked columns, one per label; `series`: (name, colour, values per label)."""
    left, bottom, top = 36, 48, 28
    plot_h = height - bottom - top
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    peak = max(totals + [1])
    step = (width - left - 10) / max(len(labels), 1)
    bar = max(step * 0.7, 2)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width - 5}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde2ea"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{round(peak * fraction)}</text>')
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar) / 2
        y = top + plot_h
        for name, colour, values in series:
            value = values[i]
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{escape(colour)}">'
                         f'<title>{escape(label)} · {escape(name)}: {value}</title></rect>')
        if len(labels) <= 16 or i % max(1, len(labels) // 12) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">'
                         f'{escape(label)}</text>')
    legend_x = left
    for name, colour, _values in series:
        parts.append(f'<rect x="{legend_x}" y="{height - 16}" width="10" height="10" fill="{escape(colour)}"/>'
                     f'<text x="{legend_x + 14}" y="{height - 7}" font-size="11">{escape(name)}</text>')
        legend_x += 16 + 7 * len(name) + 16
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(title: str, rows: Sequence[Tuple[str, float, str]], width: int = 760, unit: str = "") -> Markup:
    """One bar per row: (label, value, text shown beside the bar)."""
    row_h, left = 22, 220
    height = max(len(rows), 1) * row_h + 10
    peak = max([r[1] for r in rows] + [1e-9])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (label, value, text) in enumerate(rows):
        y = 5 + i * row_h
        w = (width - left - 120) * value / peak
        parts.append(f'<text x="{left - 6}" y="{y + 14}" font-size="11" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="#8a1c1c"/>'
                     f'<text x="{left + w + 6:.1f}" y="{y + 14}" font-size="11">{escape(text)}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
