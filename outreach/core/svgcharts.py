"""Server-side SVG charts: bar, line and stacked bar, each with a title and a data table.

A chart is drawn from labels (the x axis) and one or more named series of numbers. `Chart.svg` is
inline SVG (role="img", a <title> and a <desc> summing the data, a <title> on every bar and point
for a tooltip); `Chart.table` gives the same numbers as rows for the accessible table shown under
it. Colours come from CSS classes (`chart-s0`, `chart-s1`...), so no style attribute is written.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 48
MARGIN_RIGHT = 12
MARGIN_TOP = 12
MARGIN_BOTTOM = 48
SERIES_CLASSES = 8
_ids = itertools.count(1)


@dataclass
class Series:
    name: str
    values: list[float]


@dataclass
class Chart:
    """A drawn chart and its data as a table (header row, then one row per label)."""

    title: str
    svg: Markup
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _table(labels: list[str], series: list[Series]) -> tuple[list[str], list[list[str]]]:
    header = [""] + [s.name for s in series]
    rows = [[label] + [_number(s.values[i]) for s in series] for i, label in enumerate(labels)]
    return header, rows


def _desc(labels: list[str], series: list[Series]) -> str:
    if not labels:
        return "No data."
    parts = []
    for s in series:
        total = sum(s.values)
        parts.append(f"{s.name}: total {_number(total)}, highest {_number(max(s.values))}")
    return f"{len(labels)} points from {labels[0]} to {labels[-1]}. " + "; ".join(parts) + "."


class _Canvas:
    def __init__(self, title: str, desc: str, top: float, count: int):
        self.id = f"chart-{next(_ids)}"
        self.top = nice_max(top)
        self.count = max(count, 1)
        self.plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        self.plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
            f' role="img" aria-labelledby="{self.id}-t {self.id}-d">',
            f'<title id="{self.id}-t">{escape(title)}</title>',
            f'<desc id="{self.id}-d">{escape(desc)}</desc>',
        ]

    def y(self, value: float) -> float:
        return MARGIN_TOP + self.plot_h - value / self.top * self.plot_h

    def slot(self, index: int) -> tuple[float, float]:
        """The left edge and width of the x slot of label `index`."""
        width = self.plot_w / self.count
        return MARGIN_LEFT + index * width, width

    def axes(self, labels: list[str]) -> None:
        for tick in (0, self.top / 2, self.top):
            y = self.y(tick)
            self.parts.append(
                f'<line class="chart-grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}"'
                f' y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text class="chart-tick" x="{MARGIN_LEFT - 4}" y="{y + 4:.1f}"'
                f' text-anchor="end">{_number(tick)}</text>'
            )
        every = max(1, math.ceil(len(labels) / 12))
        for index, label in enumerate(labels):
            if index % every:
                continue
            left, width = self.slot(index)
            self.parts.append(
                f'<text class="chart-tick" x="{left + width / 2:.1f}"'
                f' y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>'
            )

    def legend(self, series: list[Series]) -> None:
        if len(series) < 2:
            return
        x = MARGIN_LEFT
        for number, s in enumerate(series):
            self.parts.append(
                f'<rect class="chart-s{number % SERIES_CLASSES}" x="{x}" y="{HEIGHT - 18}"'
                f' width="10" height="10"/><text class="chart-tick" x="{x + 14}"'
                f' y="{HEIGHT - 9}">{escape(s.name)}</text>'
            )
            x += 24 + 7 * len(s.name)

    def rect(self, css: str, x: float, y: float, w: float, h: float, tip: str) -> None:
        self.parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
            f"<title>{escape(tip)}</title></rect>"
        )

    def markup(self) -> Markup:
        return Markup("".join(self.parts) + "</svg>")


def _check(labels: list[str], series: list[Series]) -> None:
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(
                f"Series {s.name!r} has {len(s.values)} values for {len(labels)} labels."
            )


def bar_chart(title: str, labels: list[str], series: list[Series]) -> Chart:
    """Bars side by side for each label, one per series."""
    _check(labels, series)
    top = max((v for s in series for v in s.values), default=0)
    canvas = _Canvas(title, _desc(labels, series), top, len(labels))
    canvas.axes(labels)
    groups = max(len(series), 1)
    for index, label in enumerate(labels):
        left, width = canvas.slot(index)
        bar_w = width * 0.8 / groups
        for number, s in enumerate(series):
            value = s.values[index]
            y = canvas.y(value)
            canvas.rect(
                f"chart-s{number % SERIES_CLASSES}",
                left + width * 0.1 + number * bar_w,
                y,
                bar_w,
                canvas.y(0) - y,
                f"{label}, {s.name}: {_number(value)}",
            )
    canvas.legend(series)
    return Chart(title, canvas.markup(), *_table(labels, series))


def stacked_bar_chart(title: str, labels: list[str], series: list[Series]) -> Chart:
    """One bar per label, its series stacked from the bottom."""
    _check(labels, series)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    canvas = _Canvas(title, _desc(labels, series), max(totals, default=0), len(labels))
    canvas.axes(labels)
    for index, label in enumerate(labels):
        left, width = canvas.slot(index)
        base = 0.0
        for number, s in enumerate(series):
            value = s.values[index]
            if value:
                y = canvas.y(base + value)
                canvas.rect(
                    f"chart-s{number % SERIES_CLASSES}",
                    left + width * 0.1,
                    y,
                    width * 0.8,
                    canvas.y(base) - y,
                    f"{label}, {s.name}: {_number(value)}",
                )
            base += value
    canvas.legend(series)
    header, rows = _table(labels, series)
    if len(series) > 1:
        header.append("Total")
        for row, total in zip(rows, totals, strict=True):
            row.append(_number(total))
    return Chart(title, canvas.markup(), header, rows)


def line_chart(title: str, labels: list[str], series: list[Series]) -> Chart:
    """One line per series, a point (with its value as tooltip) at each label."""
    _check(labels, series)
    top = max((v for s in series for v in s.values), default=0)
    canvas = _Canvas(title, _desc(labels, series), top, len(labels))
    canvas.axes(labels)
    for number, s in enumerate(series):
        css = f"chart-s{number % SERIES_CLASSES}"
        points = []
        for index, value in enumerate(s.values):
            left, width = canvas.slot(index)
            points.append((left + width / 2, canvas.y(value), labels[index], value))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        canvas.parts.append(f'<polyline class="chart-line {css}" points={quoteattr(path)}/>')
        for x, y, label, value in points:
            canvas.parts.append(
                f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{escape(f'{label}, {s.name}: {_number(value)}')}</title></circle>"
            )
    canvas.legend(series)
    return Chart(title, canvas.markup(), *_table(labels, series))
