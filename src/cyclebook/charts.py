"""The reports' charts, drawn as inline SVG.

A report's charts are a handful of bars and lines. Drawn here as SVG text they cost well
under a millisecond each, where a matplotlib figure saved as PNG cost 30-65 ms (76 of
them were about a sixth of the cells' time on the 20-organization benchmark cohort), and
they are better reports too: sharp at any zoom and on any phone, their labels are text
the privacy guard reads like any other (a PNG's numbers are pixels it cannot check), the
page needs no image decoder, and a screen reader gets the chart's ``aria-label``.

Every label is escaped (rung names and channels are typed by people). Sizes are in CSS
pixels of a 480-wide view box that scales down to the page: text is 13 px on a desktop
and about 9 px on a 375-px phone (a 600-wide chart's 12 px would be under 7 there).
Category labels too long for their bar wrap onto a second line, then end in an ellipsis
with the whole label as a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from cyclebook.display import esc

WIDTH = 480
FONT = 13
# Advance widths in em, to size margins and cut labels so that none runs past the chart's
# edge: DejaVu Sans (Linux's usual sans-serif face, wider than Helvetica or San
# Francisco) rounded up by class; any other lowercase letter 0.62, capital 0.72.
_EM = {
    **dict.fromkeys("iljI.,:;!|'", 0.30),
    **dict.fromkeys("ftr-()[]/ ", 0.40),
    **dict.fromkeys("0123456789", 0.64),
    **dict.fromkeys("mwMW@%", 1.0),
}
GRID = "#e3e3e3"
AXIS = "#555"
TEXT = "#333"
# matplotlib's default cycle, so a series keeps the colour readers knew
CYCLE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


@dataclass(frozen=True)
class Chart:
    """A drawn chart: its SVG markup and the words that say what it shows."""

    svg: str
    alt: str


@dataclass(frozen=True)
class Series:
    """One named run of values with its colour."""

    name: str
    values: Sequence[float]
    color: str


def ticks(low: float, high: float, *, count: int = 5, whole: bool = True) -> list[float]:
    """Round tick values covering ``low``..``high`` (and 0), about ``count`` of them.

    Steps are 1, 2, 2.5 or 5 times a power of ten; ``whole`` keeps them whole numbers
    (people are counted, not measured).
    """
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = power * 10
    for factor in (1, 2, 2.5, 5, 10):
        candidate = factor * power
        if candidate >= raw and (not whole or candidate == int(candidate)):
            step = candidate
            break
    if whole:
        step = max(step, 1)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    n = round((last - first) / step)
    return [first + i * step for i in range(n + 1)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _width(text: str) -> float:
    """The text's width in pixels at the charts' font size (an upper estimate)."""
    return FONT * sum(_EM.get(c, 0.72 if c.isupper() else 0.62) for c in text)


def _fit(label: str, width: float) -> str:
    """The label cut to ``width`` pixels, with an ellipsis when cut."""
    if _width(label) <= width:
        return label
    kept = ""
    for c in label:
        if _width(kept + c + "…") > width:
            break
        kept += c
    return kept.rstrip() + "…"


def _wrap(label: str, width: float) -> list[str]:
    """The label on at most two lines of ``width`` pixels: split between words, the
    second line cut with an ellipsis when it still does not fit."""
    if _width(label) <= width:
        return [label]
    words, first = label.split(" "), ""
    while words and _width(f"{first} {words[0]}".strip()) <= width:
        first = f"{first} {words.pop(0)}".strip()
    if not first:  # one word longer than the line
        return [_fit(label, width)]
    return [first, _fit(" ".join(words), width)]


def _text(x: float, y: float, label: str, *, anchor: str = "start", full: str = "", **extra) -> str:
    attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
    # a cut label keeps its whole text as a tooltip
    title = f"<title>{esc(full)}</title>" if full and full != label else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{attrs}>{title}{esc(label)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"/>'


def _rect(x: float, y: float, width: float, height: float, fill: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{fill}"/>'
    )


def _svg(height: float, alt: str, body: list[str]) -> Chart:
    if not alt or not alt.strip():
        raise ValueError("every chart needs alt text that says what it shows")
    return Chart(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cb-chart" viewBox="0 0 {WIDTH} '
        f'{height:.0f}" width="{WIDTH}" height="{height:.0f}" role="img" '
        f'aria-label="{esc(alt)}" font-family="system-ui, -apple-system, Segoe UI, Roboto, '
        f'sans-serif" font-size="{FONT}" fill="{TEXT}" '
        f'style="max-width:100%;height:auto"><title>{esc(alt)}</title>' + "".join(body) + "</svg>",
        alt,
    )


def _category(x: float, y: float, label: str, width: float) -> str:
    """A category's label under its bars, on one line or two."""
    lines = _wrap(label, width)
    if len(lines) == 1:
        return _text(x, y, lines[0], anchor="middle", full=label)
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{0 if i == 0 else FONT + 2}">{esc(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle"><title>{esc(label)}</title>'
        f"{spans}</text>"
    )


def _legend(series: Sequence[Series], y: float, x: float) -> list[str]:
    parts = []
    for s in series:
        parts.append(_rect(x, y - 9, 10, 10, s.color))
        parts.append(_text(x + 14, y, s.name))
        x += 14 + _width(s.name) + 18
    return parts


def hbars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    alt: str,
    axis_label: str,
    colors: Sequence[str] | str = CYCLE[0],
    notes: Sequence[str] | None = None,
) -> Chart:
    """Horizontal bars, first label on top, each with its value (or ``notes``) at its end."""
    colors = [colors] * len(labels) if isinstance(colors, str) else list(colors)
    notes = list(notes) if notes is not None else [_fmt(v) for v in values]
    row, top, bottom = 26, 8, 44
    left = min(max(max(map(_width, labels), default=0) + 12, 60), 180)
    right = 12 + max(map(_width, notes), default=0)
    height = top + row * len(labels) + bottom
    scale_ticks = ticks(0, max(values, default=0))
    span = scale_ticks[-1] or 1
    plot = WIDTH - left - right

    def x(value: float) -> float:
        return left + plot * value / span

    body = []
    axis_y = top + row * len(labels)
    for tick in scale_ticks:
        body.append(_line(x(tick), top, x(tick), axis_y, GRID))
        body.append(_text(x(tick), axis_y + 16, _fmt(tick), anchor="middle"))
    for i, (label, value, note, color) in enumerate(
        zip(labels, values, notes, colors, strict=True)
    ):
        y = top + row * i
        width = x(value) - left
        body.append(_rect(left, y + 4, width, row - 8, color))
        body.append(
            _text(left - 6, y + row / 2 + 4, _fit(label, left - 12), anchor="end", full=label)
        )
        body.append(_text(left + width + 4, y + row / 2 + 4, note))
    body.append(_line(left, top, left, axis_y, AXIS))
    body.append(_text(left + plot / 2, axis_y + 36, axis_label, anchor="middle"))
    return _svg(height, alt, body)


@dataclass
class _Frame:
    """The plot area of a chart with a vertical value axis, and its parts drawn so far."""

    body: list[str]
    left: float
    top: float
    bottom: float
    width: float
    low: float  # the value at the bottom (the first tick)
    high: float  # the value at the top (the last tick)

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * (value - self.low) / (self.high - self.low)


def _vertical_frame(
    low: float, high: float, *, axis_label: str, legend: Sequence[Series], height: float
) -> _Frame:
    """Gridlines, tick labels and the axis title of a chart with a vertical value axis."""
    scale_ticks = ticks(low, high)
    left = 30 + max(_width(_fmt(t)) for t in scale_ticks)
    frame = _Frame(
        body=[],
        left=left,
        top=30 if legend else 10,
        bottom=height - 46,
        width=WIDTH - 10 - left,
        low=scale_ticks[0],
        high=scale_ticks[-1],
    )
    for tick in scale_ticks:
        y = frame.y(tick)
        frame.body.append(_line(left, y, WIDTH - 10, y, GRID))
        frame.body.append(_text(left - 6, y + 4, _fmt(tick), anchor="end"))
    middle = (frame.top + frame.bottom) / 2
    frame.body.append(
        _text(14, middle, axis_label, anchor="middle", transform=f"rotate(-90 14 {middle:.1f})")
    )
    if legend:
        frame.body += _legend(legend, 16, left)
    return frame


def bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    alt: str,
    axis_label: str,
    colors: Sequence[str] | None = None,
    legend: bool = True,
) -> Chart:
    """Vertical bars per category, one bar per series side by side; values below zero
    hang under a zero line. ``colors`` gives each category its own colour (one series)."""
    values = [v for s in series for v in s.values]
    height = 230
    frame = _vertical_frame(
        min(values, default=0),
        max(values, default=0),
        axis_label=axis_label,
        legend=series if legend and len(series) > 1 else (),
        height=height,
    )
    band = frame.width / max(len(categories), 1)
    width = band * 0.7 / max(len(series), 1)
    for i, category in enumerate(categories):
        start = frame.left + band * i + band * 0.15
        for j, s in enumerate(series):
            color = colors[i] if colors else s.color
            top_y, bottom_y = sorted((frame.y(s.values[i]), frame.y(0)))
            frame.body.append(_rect(start + j * width, top_y, width, bottom_y - top_y, color))
        middle = frame.left + band * (i + 0.5)
        frame.body.append(_category(middle, frame.bottom + 16, category, band - 4))
    frame.body.append(_line(frame.left, frame.y(0), WIDTH - 10, frame.y(0), AXIS))
    return _svg(height, alt, frame.body)


def lines(
    xs: Sequence[int],
    series: Sequence[Series],
    *,
    alt: str,
    x_label: str,
    y_label: str,
) -> Chart:
    """One line with round markers per series over whole-number ``xs`` (weeks)."""
    values = [v for s in series for v in s.values]
    height = 250
    frame = _vertical_frame(
        0, max(values, default=0), axis_label=y_label, legend=series, height=height
    )
    first, last = min(xs, default=0), max(xs, default=1)
    spread = (last - first) or 1
    pad = 16

    def px(x: float) -> float:
        return frame.left + pad + (frame.width - 2 * pad) * (x - first) / spread

    body, bottom = frame.body, frame.bottom
    for x in xs:
        body.append(_text(px(x), bottom + 16, str(x), anchor="middle"))
    body.append(_line(frame.left, bottom, WIDTH - 10, bottom, AXIS))
    body.append(_text(frame.left + frame.width / 2, bottom + 36, x_label, anchor="middle"))
    for s in series:
        points = " ".join(
            f"{px(x):.1f},{frame.y(v):.1f}" for x, v in zip(xs, s.values, strict=True)
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{s.color}" stroke-width="2"/>'
        )
        body += [
            f'<circle cx="{px(x):.1f}" cy="{frame.y(v):.1f}" r="3.5" fill="{s.color}"/>'
            for x, v in zip(xs, s.values, strict=True)
        ]
    return _svg(height, alt, body)
