"""Geometry for the dashboard's small SVG charts (drawn server-side: no script, readable
without JavaScript, and allowed by the strict Content-Security-Policy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    """One plotted value; ``small`` marks a small sample (drawn hollow)."""

    x: float
    y: float
    value: float
    small: bool
    label: str


@dataclass(frozen=True)
class Line:
    """One series: its key (for colour), label, and runs of points (gaps where no data)."""

    key: str
    label: str
    runs: list[list[Point]]

    @property
    def points(self) -> list[Point]:
        """Every point of the series."""
        return [p for run in self.runs for p in run]

    def polyline(self, run: list[Point]) -> str:
        """SVG ``points`` attribute of one run."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in run)


@dataclass(frozen=True)
class LineChart:
    """A month-by-month line chart."""

    width: int
    height: int
    left: int
    bottom: int
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    lines: list[Line]


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[tuple[float | None, bool]]]],
    y_min: float,
    y_max: float,
    ticks: Sequence[float],
    *,
    width: int = 560,
    height: int = 200,
    fmt: str = "{:.0f}",
) -> LineChart:
    """Lay out ``series`` of (key, label, [(value or None, small sample), …]) over the months."""
    left, right, top, bottom = 40, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(x_labels), 1)

    def x_at(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        v = min(max(v, y_min), y_max)
        return top + plot_h * (1 - (v - y_min) / (y_max - y_min))

    lines = []
    for key, label, values in series:
        runs: list[list[Point]] = []
        current: list[Point] = []
        for i, (value, small) in enumerate(values):
            if value is None:
                if current:
                    runs.append(current)
                current = []
                continue
            current.append(Point(x_at(i), y_at(value), value, small, x_labels[i]))
        if current:
            runs.append(current)
        lines.append(Line(key, label, runs))
    step = max(1, n // 6)  # at most ~6 month labels, so they never overlap
    labels = [(x_at(i), x_labels[i]) for i in range(0, len(x_labels), step)]
    return LineChart(
        width, height, left, height - bottom, labels, [(y_at(t), fmt.format(t)) for t in ticks], lines
    )


@dataclass(frozen=True)
class Bar:
    """One horizontal bar."""

    label: str
    value: float | None
    width: float
    note: str
    small: bool


def bars(
    items: Sequence[tuple[str, float | None, str, bool]], scale_max: float, width: float = 240
) -> list[Bar]:
    """Horizontal bars of (label, value or None, note, small sample) on a 0..scale_max axis."""
    out = []
    for label, value, note, small in items:
        w = 0.0 if value is None else width * max(0.0, min(value, scale_max)) / scale_max
        out.append(Bar(label, value, w, note, small))
    return out
