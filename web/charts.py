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
    name = escape(ident)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="pp-chart" id="{name}" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" aria-labelledby="{name}-title {name}-desc">'
            f'<title id="{name}-title">{escape(title)}</title>'
            f'<desc id="{name}-desc">{escape(desc)}</desc>')  # fmt: skip
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, content: object, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {FONT} fill="#0b0c0c">{escape(content)}</text>'


def _rect(x: float, y: float, width: float, height: float, colour: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{colour}"/>'


def bars(ident: str, title: str, rows: Sequence[tuple[str, int]], width: int = 640) -> Markup:
    """Horizontal bars, one a row: label on the left, value at the end of the bar."""
    label_w, row_h, top = 230, 30, 8
    most = max((v for _, v in rows), default=0) or 1
    span = width - label_w - 50
    body = []
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        length = round(span * value / most)
        body += [_text(label_w - 8, y + 19, label, "end"), _rect(label_w, y + 4, max(length, 1), row_h - 8, COLOURS[0]),
                 _text(label_w + length + 6, y + 19, value)]  # fmt: skip
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
        body += [_rect(x, 4, 14, 14, COLOURS[s % len(COLOURS)]), _text(x + 20, 16, name)]
    for c, category in enumerate(categories):
        x0 = left + c * group_w + (group_w - col_w * len(series)) / 2
        for s, (_name, values) in enumerate(series):
            value = values[c]
            h = round(plot_h * value / most)
            x, y = x0 + s * col_w, top + plot_h - h
            body += [
                _rect(x, y, col_w - 2, h, COLOURS[s % len(COLOURS)]),
                _text(x + (col_w - 2) / 2, y - 4, value, "middle"),
            ]
        label_x = left + c * group_w + group_w / 2
        body.append(_text(label_x, top + plot_h + 18, category, "middle"))
    desc = "; ".join(f"{cat}: " + ", ".join(f"{name} {values[c]}" for name, values in series)
                     for c, cat in enumerate(categories))  # fmt: skip
    return _svg(ident, title, width, top + plot_h + key_h + 4, body, desc)
