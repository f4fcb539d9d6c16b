"""Small server-rendered SVG charts: no script, readable without colour (values are printed on the bars).

Each chart is an image with a title and a description for screen readers; the page shows the same
figures in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLOURS = ("#1d70b8", "#00703c", "#f47738", "#4c2c92", "#d4351c", "#28a197")  # GOV.UK palette
FONT = 'font-family="GDS Transport, arial, sans-serif" font-size="14"'


def _svg(ident: str, title: str, width: int, height: int, body: list[str], desc: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="pp-chart" id="{escape(ident)}" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" aria-labelledby="{escape(ident)}-title {escape(ident)}-desc">'
            f'<title id="{escape(ident)}-title">{escape(title)}</title><desc id="{escape(ident)}-desc">{escape(desc)}</desc>')  # fmt: skip
    return Markup(head + "".join(body) + "</svg>")


def bars(ident: str, title: str, rows: Sequence[tuple[str, int]], width: int = 640) -> Markup:
    """Horizontal bars, one a row: label on the left, value at the end of the bar."""
    label_w, row_h, top = 230, 30, 8
    most = max((v for _, v in rows), default=0) or 1
    span = width - label_w - 50
    body = []
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        length = round(span * value / most)
        body.append(f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" {FONT} fill="#0b0c0c">{escape(label)}</text>'
                    f'<rect x="{label_w}" y="{y + 4}" width="{max(length, 1)}" height="{row_h - 8}" fill="{COLOURS[0]}"/>'
                    f'<text x="{label_w + length + 6}" y="{y + 19}" {FONT} fill="#0b0c0c">{value}</text>')  # fmt: skip
    desc = "; ".join(f"{label}: {value}" for label, value in rows)
    return _svg(ident, title, width, top * 2 + row_h * len(rows), body, desc)


def columns(ident: str, title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[int]]],
            width: int = 640) -> Markup:  # fmt: skip
    """Grouped columns: one group per category (a month or quarter), one column per series, with a key."""
    left, top, plot_h, key_h = 30, 46, 160, 24
    most = max((v for _, values in series for v in values), default=0) or 1
    group_w = (width - left - 10) / max(len(categories), 1)
    col_w = min(28.0, (group_w - 12) / max(len(series), 1))
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#b1b4b6"/>']
    for s, (name, _values) in enumerate(series):
        x = left + s * 190
        body.append(f'<rect x="{x}" y="4" width="14" height="14" fill="{COLOURS[s % len(COLOURS)]}"/>'
                    f'<text x="{x + 20}" y="16" {FONT} fill="#0b0c0c">{escape(name)}</text>')  # fmt: skip
    for c, category in enumerate(categories):
        x0 = left + c * group_w + (group_w - col_w * len(series)) / 2
        for s, (_name, values) in enumerate(series):
            value = values[c]
            h = round(plot_h * value / most)
            x, y = x0 + s * col_w, top + plot_h - h
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{col_w - 2:.1f}" height="{h}" fill="{COLOURS[s % len(COLOURS)]}"/>'
                        f'<text x="{x + (col_w - 2) / 2:.1f}" y="{y - 4}" text-anchor="middle" {FONT} fill="#0b0c0c">{value}</text>')  # fmt: skip
        label_x = left + c * group_w + group_w / 2
        body.append(f'<text x="{label_x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" {FONT} '
                    f'fill="#0b0c0c">{escape(category)}</text>')  # fmt: skip
    desc = "; ".join(f"{cat}: " + ", ".join(f"{name} {values[c]}" for name, values in series)
                     for c, cat in enumerate(categories))  # fmt: skip
    return _svg(ident, title, width, top + plot_h + key_h + 4, body, desc)
