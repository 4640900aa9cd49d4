"""Small server-side SVG bar charts (no JavaScript, no inline styles: colours are classes)."""

from __future__ import annotations

from markupsafe import Markup, escape

ROW_HEIGHT = 22
LABEL_WIDTH = 160
BAR_WIDTH = 300
VALUE_WIDTH = 60


def bar_chart(title: str, items: list[tuple[str, int]], *, css_class: str = "") -> Markup:
    """Horizontal bars, one per (label, value), scaled to the largest value; the title is the
    chart's accessible name and every bar has its value as text."""
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = max(1, len(items)) * ROW_HEIGHT
    top = max((value for _label, value in items), default=0) or 1
    parts = [
        f'<svg class="engagement-chart {escape(css_class)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for row, (label, value) in enumerate(items):
        y = row * ROW_HEIGHT
        length = round(BAR_WIDTH * value / top)
        shown = label if len(label) <= 26 else label[:25] + "…"
        parts.append(
            f'<text class="chart-label" x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
            f'<rect class="chart-bar" x="{LABEL_WIDTH}" y="{y + 4}" width="{length}" '
            f'height="{ROW_HEIGHT - 8}"></rect>'
            f'<text class="chart-value" x="{LABEL_WIDTH + length + 6}" y="{y + 15}">'
            f"{value:,}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
