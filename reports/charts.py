"""Small server-side SVG charts: a grouped bar chart and a line chart.

Each chart is an <svg role="img"> with a <title> and <desc> (what a screen reader announces),
axis labels in text, and a <title> on every bar and point, so hovering shows the figure.
Colours are attributes, not CSS, so the chart prints the same as it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, log10

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1f5fbf", "#d9822b", "#1c7c4a", "#8e44ad", "#b3261e", "#5d6b7e")
WIDTH, HEIGHT = 520, 240
LEFT, RIGHT, TOP, BOTTOM = 36, 10, 12, 48
LEGEND_ROW = 16


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int | float]


def nice_max(value: float) -> tuple[float, float]:
    """A round top for the y axis and its tick step (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / 4
    power = 10 ** int(log10(raw)) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return step * ceil(value / step), step


def bar_chart(labels: list[str], series: list[Series], *, title: str, desc: str) -> SafeString:
    """Bars grouped per label, one colour per series, with a legend."""
    top, step = nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(1, len(labels))
    bar_w = min(28.0, group_w * 0.8 / max(1, len(series)))
    parts = _frame(title, desc, top, step)
    for i, label in enumerate(labels):
        x0 = LEFT + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / top
            parts.append(
                format_html(
                    '<rect class="bar" x="{}" y="{}" width="{}" height="{}" '
                    'fill="{}"><title>{}: {} {}</title></rect>',
                    _f(x0 + j * bar_w),
                    _f(TOP + plot_h - h),
                    _f(bar_w - 2),
                    _f(h),
                    PALETTE[j % len(PALETTE)],
                    label,
                    _number(value),
                    s.name.lower(),
                )
            )
        parts.append(_x_label(LEFT + (i + 0.5) * group_w, label, every=_label_every(labels), i=i))
    legend, rows = _legend(series)
    parts.append(legend)
    return _svg(title, desc, parts, rows)


def line_chart(labels: list[str], series: list[Series], *, title: str, desc: str) -> SafeString:
    """One line per series over the same labels (e.g. days), with a dot on the last point."""
    values = [v for s in series for v in s.values]
    top, step = nice_max(max(values, default=0))
    bottom = -step * ceil(-min(values, default=0) / step) if min(values, default=0) < 0 else 0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max(1, len(labels) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return LEFT + plot_w * i / span, TOP + plot_h * (top - v) / (top - bottom)

    parts = _frame(title, desc, top, step, bottom)
    for j, s in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        points = " ".join(",".join(map(_f, xy(i, v))) for i, v in enumerate(s.values))
        parts.append(
            format_html(
                '<polyline class="line" points="{}" fill="none" stroke="{}" stroke-width="2.5" '
                'stroke-linejoin="round"><title>{}</title></polyline>',
                points,
                colour,
                s.name,
            )
        )
        if s.values:
            x, y = xy(len(s.values) - 1, s.values[-1])
            parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="4" fill="{}"><title>{} on {}: {}</title></circle>',
                    _f(x),
                    _f(y),
                    colour,
                    s.name,
                    labels[len(s.values) - 1],
                    _number(s.values[-1]),
                )
            )
    every = _label_every(labels)
    for i, label in enumerate(labels):
        parts.append(_x_label(xy(i, 0)[0], label, every=every, i=i))
    legend, rows = _legend(series)
    parts.append(legend)
    return _svg(title, desc, parts, rows)


def _svg(title: str, desc: str, parts: list[str], legend_rows: int = 1) -> SafeString:
    body = "".join(parts)
    height = HEIGHT + LEGEND_ROW * (legend_rows - 1)
    return mark_safe(  # noqa: S308 - every piece above is built with format_html
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{_id(title)}-t {_id(title)}-d" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        f'<title id="{_id(title)}-t">{escape(title)}</title>'
        f'<desc id="{_id(title)}-d">{escape(desc)}</desc>{body}</svg>'
    )


def _frame(title: str, desc: str, top: float, step: float, bottom: float = 0) -> list[str]:
    """Horizontal grid lines with their values on the left."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    value = bottom
    while value <= top + 1e-9:
        y = TOP + plot_h * (top - value) / (top - bottom)
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#dde3ea"/>'
                '<text x="{}" y="{}" text-anchor="end" fill="#5d6b7e">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                _f(y),
                _f(y),
                LEFT - 6,
                _f(y + 4),
                _number(value),
            )
        )
        value += step
    return parts


def _x_label(x: float, label: str, *, every: int, i: int) -> str:
    if i % every:
        return ""
    return format_html(
        '<text x="{}" y="{}" text-anchor="middle" fill="#5d6b7e">{}</text>',
        _f(x),
        HEIGHT - BOTTOM + 16,
        label,
    )


def _legend(series: list[Series]) -> tuple[str, int]:
    """The legend, and its number of lines: a name that would pass the right edge starts a
    line below (the licence chart's product names fill more than one)."""
    parts, x, row = [], LEFT, 0
    for j, s in enumerate(series):
        width = 14 + 7.5 * len(s.name)
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, row = LEFT, row + 1
        y = HEIGHT - 16 + LEGEND_ROW * row
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
                '<text x="{}" y="{}" fill="#1c2430">{}</text>',
                _f(x),
                y,
                PALETTE[j % len(PALETTE)],
                _f(x + 14),
                y + 9,
                s.name,
            )
        )
        x += width + 12
    return "".join(parts), row + 1


def _label_every(labels: list[str]) -> int:
    """Show at most about 8 labels along the x axis."""
    return max(1, ceil(len(labels) / 8))


def _f(value: float) -> str:
    return f"{value:.1f}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _id(title: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())[:40]
